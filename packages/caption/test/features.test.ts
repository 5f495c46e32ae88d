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

test('gridPool averages the stored grid (same padding) and leaves the pooled vector alone', async (t) => {
  const plain = await convnetExtractor({ ...SPEC, pooledLayers: undefined, pool: 'mean' });
  const pooled2 = await convnetExtractor({ ...SPEC, pooledLayers: undefined, pool: 'mean', gridPool: 2 });
  t.deepEqual(pooled2.gridShape, [2, 2, 1280]);
  const images = await Promise.all(PHOTOS.map((p) => loadImage(p, { size: { width: 96, height: 96 } })));
  const [a, b] = [await plain.extract(images), await pooled2.extract(images)];
  t.deepEqual(b.pooled, a.pooled);
  // 3x3 -> 2x2 with 'same' padding: windows {0,1} and {2} per axis, padded cells left out of the mean.
  const c = 1280;
  const at = (g: Float32Array, n: number, w: number, y: number, x: number, ch: number) => g[((n * w + y) * w + x) * c + ch];
  let worst = 0;
  for (let n = 0; n < images.length; n++) {
    for (const [oy, ys] of [[0, [0, 1]], [1, [2]]] as const) {
      for (const [ox, xs] of [[0, [0, 1]], [1, [2]]] as const) {
        for (let ch = 0; ch < c; ch += 97) {
          let sum = 0;
          for (const y of ys) for (const x of xs) sum += at(a.grid, n, 3, y, x, ch);
          const want = sum / (ys.length * xs.length);
          worst = Math.max(worst, Math.abs(at(b.grid, n, 2, oy, ox, ch) - want) / (Math.abs(want) + 1e-3));
        }
      }
    }
  }
  t.true(worst < 1e-4, `worst relative difference ${worst}`);
  await t.throwsAsync(() => convnetExtractor({ ...SPEC, gridPool: 4 }), { message: /gridPool 4 does not fit out_relu's 3x3 grid/ });
  plain.dispose();
  pooled2.dispose();
});
