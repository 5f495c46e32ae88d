import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImage, saveImage } from '@convlab/core';
import { runSanity } from '../src/runs.js';
import { pearson, spearman, spearmanAbs, ssim } from '../src/stats.js';
import { sanityCheck, checkpoints, cascadeLayers } from '../src/sanity-check.js';
import { tinyVgg } from './helpers/nets.js';

test('rank statistics', (t) => {
  // Ties get their average rank (scipy.stats.spearmanr gives 0.8249579113843054 for this pair).
  t.true(Math.abs(spearman([0, 0, 0, 1, 2], [0, 0, 1, 1, 2]) - 0.8249579113843054) < 1e-12);
  t.is(spearman([0, 0, 0], [1, 2, 3]), 0, 'a constant map carries no ranking');
  const near = (x: number, y: number) => Math.abs(x - y) < 1e-12;
  t.true(near(spearman([1, 2, 3, 4], [10, 20, 30, 1000]), 1));
  t.true(near(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1));
  t.true(near(spearmanAbs([-4, 1, -2], [4, -1, 2]), 1));
  t.true(Math.abs(pearson([1, 2, 3], [2, 4, 7]) - 0.9934) < 1e-3);
});

test('SSIM: 1 for identical maps, lower for a shifted one, symmetric', (t) => {
  const w = 24;
  const a = Float32Array.from({ length: w * w }, (_, i) => ((i % w) / w) * Math.sin(i / 7) * 0.5 + 0.5);
  const b = Float32Array.from({ length: w * w }, (_, i) => a[(i + 5) % (w * w)]);
  t.true(Math.abs(ssim(a, a, w, w) - 1) < 1e-9);
  const s = ssim(a, b, w, w);
  t.true(s < 0.9);
  t.true(Math.abs(s - ssim(b, a, w, w)) < 1e-12);
});

test('cascading randomization: checkpoints, per-step similarities, and the trained weights restored', async (t) => {
  t.deepEqual(checkpoints(10, 4), [0, 3, 6, 9]);
  t.deepEqual(checkpoints(3, 8), [0, 1, 2]);
  // One step is the whole cascade (0/0 gave a NaN checkpoint, and runSanity's plot then had no x value).
  t.deepEqual(checkpoints(10, 1), [9]);
  t.deepEqual(checkpoints(1, 1), [0]);
  const net = tinyVgg(32);
  t.deepEqual(cascadeLayers(net, 'logits'), ['logits', 'block2_conv2', 'block2_conv1', 'block1_conv2', 'block1_conv1']);
  const before = net.model.getLayer('block1_conv1').getWeights()[0].dataSync().slice();
  const image = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 29) % 256) };
  const res = await sanityCheck({ model: net, image, target: { classIndex: 0 }, methods: ['saliency', 'guided', 'gradcam'], steps: 5 });
  t.true(res.complete);
  t.deepEqual(res.steps.map((s) => s.count), [1, 2, 3, 4, 5]);
  for (const m of res.methods) {
    t.is(m.spearman.length, 5);
    t.is(m.heats.length, 6);
    t.true(m.spearman.every((v) => v >= -1 && v <= 1) && m.ssim.every((v) => v >= -1 && v <= 1.000001));
  }
  // With every layer random, the gradient no longer matches the trained map.
  const saliency = res.methods.find((m) => m.method === 'saliency')!;
  t.true(saliency.spearman.at(-1)! < 0.9);
  t.deepEqual(Array.from(net.model.getLayer('block1_conv1').getWeights()[0].dataSync()), Array.from(before));
  // The model still gives the trained maps afterwards.
  const again = await sanityCheck({ model: net, image, target: { classIndex: 0 }, methods: ['saliency'], steps: 1 });
  t.deepEqual(Array.from(again.methods[0].heats[0]), Array.from(saliency.heats[0]));
  net.dispose();
});

test('runSanity with one step: every layer randomized, a plot of one point per method, the run record and page', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sanity-one-'));
  const image = join(dir, 'in.png');
  await saveImage({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 41) % 256) }, image);
  const net = tinyVgg(32);
  const r = await runSanity(net, { images: [image], out: join(dir, 'out'), class: 0, methods: ['saliency', 'gradcam'], steps: 1 });
  t.deepEqual(r.steps, [{ count: 5, randomizedThrough: 'block1_conv1' }]);
  for (const m of r.results) {
    t.is(m.spearman.length, 1);
    t.true(Number.isFinite(m.spearman[0]) && Number.isFinite(m.ssim[0]));
  }
  t.true(r.plot.width > 0 && r.plot.height > 0);
  const plot = await loadImage(r.files.find((f) => f.endsWith('-class0.png'))!);
  t.is(plot.width, r.plot.width);
  const record = JSON.parse(await readFile(r.record, 'utf8'));
  t.deepEqual(record.extra.steps, [{ count: 5, randomizedThrough: 'block1_conv1' }]);
  t.true((await readFile(r.report!, 'utf8')).includes('5: block1_conv1'));
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});
