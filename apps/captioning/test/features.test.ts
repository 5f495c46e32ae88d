/**
 * The encoder side: multi-layer mean+max pooled vectors equal the pooled taps of one forward pass, and an
 * interrupted feature extraction resumes to the same cache as an uninterrupted one.
 */
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, imagesToBatch, loadImage, tf } from '@convlab/core';
import type { Tensor4D } from '@convlab/core';
import { convnetExtractor, extractToCache, loadFeatureCache, type EncoderSpec } from '../src/index.js';

const CONTENT = fileURLToPath(new URL('../../../assets/content/', import.meta.url));
const PHOTOS = readdirSync(CONTENT)
  .filter((f) => f.endsWith('.jpg'))
  .slice(0, 3)
  .map((f) => join(CONTENT, f));
const SPEC: EncoderSpec = { type: 'convnet', model: 'mobilenet_v2', layer: 'out_relu', pooledLayers: ['block_9_add', 'out_relu'], pool: 'mean+max', inputSize: [96, 96] };

test.before(async () => {
  await initEngine({ log: false });
});

test('pooledLayers with mean+max: [mean, max] of each tap, concatenated in order', async (t) => {
  const extractor = await convnetExtractor(SPEC);
  t.is(extractor.pooledDim, 2 * (64 + 1280));
  t.deepEqual(extractor.gridShape, [3, 3, 1280]);
  const images = await Promise.all(PHOTOS.map((p) => loadImage(p, { size: { width: 96, height: 96 } })));
  const got = await extractor.extract(images);
  const { loadModel } = await import('@convlab/models');
  const net = await loadModel('mobilenet_v2', {});
  const want = tf.tidy(() => {
    const out = net.forward(net.preprocess(imagesToBatch(images)), { outputs: ['block_9_add', 'out_relu'] });
    const a = out.block_9_add as Tensor4D;
    const b = out.out_relu as Tensor4D;
    return tf.concat([tf.mean(a, [1, 2]), tf.max(a, [1, 2]), tf.mean(b, [1, 2]), tf.max(b, [1, 2])], 1).dataSync();
  });
  t.is(got.pooled.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.pooled[i] - want[i]) / (Math.abs(want[i]) + 1e-3));
  t.true(worst < 1e-4, `worst relative difference ${worst}`);
  t.is(got.grid.length, 3 * 3 * 3 * 1280);
  net.dispose();
  extractor.dispose();
});

test('an interrupted extraction resumes to the same cache', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'caption-features-'));
  const extractor = await convnetExtractor(SPEC);
  const names = PHOTOS.map((p) => p.split('/').pop()!);
  try {
    await extractToCache(join(dir, 'whole'), extractor, names, PHOTOS, { batchSize: 1, withGrid: true });
    const stop = new AbortController();
    const first = await extractToCache(join(dir, 'resumed'), extractor, names, PHOTOS, { batchSize: 1, withGrid: true, signal: stop.signal, onProgress: (done) => done === 1 && stop.abort() });
    t.is(first.done, 1);
    t.throws(() => loadFeatureCache(join(dir, 'resumed')), { message: /incomplete \(1\/3 images\)/ });
    await extractToCache(join(dir, 'resumed'), extractor, names, PHOTOS, { batchSize: 1, withGrid: true });
    const [a, b] = [loadFeatureCache(join(dir, 'whole'), { grid: true }), loadFeatureCache(join(dir, 'resumed'), { grid: true })];
    t.deepEqual(b.images, a.images);
    t.deepEqual(b.pooled, a.pooled);
    t.deepEqual(b.grid, a.grid);
    t.deepEqual(b.spec, SPEC);
  } finally {
    extractor.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
