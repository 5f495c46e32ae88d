/**
 * Fast (feed-forward) style transfer: the transformation network of Johnson et al. with instance norm,
 * its float16 files, and training on tiny generated photos with a small random multi-scale loss network
 * (wasm unless CONVLAB_BACKEND says otherwise; a few seconds per step). Nothing here needs ../shared/data.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, saveImage, tf, type RgbImage, type Scalar, type Tensor4D } from '@convlab/core';
import { fromHalfBits, loadCheckpoint, loadTransformNet, roundToHalf, saveTransformNet, toHalfBits } from '../src/fast-io.js';
import { parseFastTrainOptions } from '../src/fast-options.js';
import { trainFastStyle } from '../src/fast-train.js';
import { randomMultiscaleNet } from '../src/features.js';
import { applyPadding, createTransformNet, instanceNorm, parameterShapes, reflectPad, reflectSlices, stylizeWithNet, upsampleNearest2x } from '../src/johnson.js';

await initEngine({ backend: process.env.CONVLAB_BACKEND ?? 'wasm', log: false });

const SMALL = { channels: 8, residualBlocks: 2 };

/** A smooth random "photo": sums of coloured blobs and a gradient, seeded. */
function photo(w: number, h: number, seed: number): RgbImage {
  let s = seed * 9301 + 49297;
  const r = () => ((s = (s * 9301 + 49297) % 233280) / 233280);
  const blobs = Array.from({ length: 4 }, () => ({ x: r() * w, y: r() * h, rad: 4 + r() * w * 0.4, c: [r() * 255, r() * 255, r() * 255] }));
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let v = (x / w) * 60 + (y / h) * 40;
        for (const b of blobs) v += b.c[c] * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.rad ** 2));
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width: w, height: h, data };
}

/** A "painting": high-contrast diagonal stripes in two colours. */
function stripes(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const on = Math.floor((x + y) / 3) % 2 === 0;
    data.set(on ? [230, 200, 30] : [20, 40, 160], (y * w + x) * 3);
  }
  return { width: w, height: h, data };
}

async function trainingFolder(): Promise<{ dir: string; style: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fast-style-'));
  for (let i = 0; i < 6; i++) await saveImage(photo(44 + i, 40, i + 1), join(dir, 'photos', `p${i}.png`));
  await saveImage(stripes(48, 48), join(dir, 'style.png'));
  return { dir, style: join(dir, 'style.png') };
}

const lossNet = randomMultiscaleNet({ seed: 1, levels: 3, channels: 16 });
const trainBase = (dir: string, style: string, out: string) => ({
  style,
  contentDir: join(dir, 'photos'),
  out,
  size: 32,
  batch: 2,
  lr: 0.01,
  backbone: 'random_multiscale' as const,
  contentLayers: ['scale1_2'],
  styleLayers: ['scale0', 'scale0_2', 'scale1', 'scale1_2', 'scale2_2'],
  styleWeight: 10,
  ...SMALL,
  seed: 4,
});

test('the network keeps the size of inputs that are multiples of 4, and any size through padding', async (t) => {
  const net = createTransformNet(SMALL, { seed: 1 });
  const y = net.apply(tf.zeros([2, 24, 36, 3]) as Tensor4D);
  t.deepEqual(y.shape, [2, 24, 36, 3]);
  y.dispose();
  for (const [w, h] of [[37, 23], [5, 3], [1, 1], [64, 17]]) {
    const out = await stylizeWithNet(net, photo(w, h, 3));
    t.deepEqual([out.width, out.height], [w, h], `${w}x${h}`);
  }
  const p = applyPadding(23, 37);
  t.is((23 + p.top + p.bottom) % 4, 0);
  t.is((37 + p.left + p.right) % 4, 0);
  t.throws(() => net.apply(tf.zeros([1, 18, 20, 3]) as Tensor4D), { message: /multiples of 4/ });
  net.dispose();
});

test.serial('every backend stylizes alike: inference (MirrorPad, resize, IN statistics by products or means) and the training path', async (t) => {
  const backends = ['wasm', 'cpu'];
  try {
    await initEngine({ backend: 'native', log: false });
    backends.push('native');
  } catch {
    t.log('native backend not built here: wasm and cpu compared');
  }
  const initial = process.env.CONVLAB_BACKEND ?? 'wasm';
  const outputs: Record<string, { infer: Float32Array; apply: Float32Array }> = {};
  try {
    for (const backend of backends) {
      await initEngine({ backend, log: false });
      const net = createTransformNet(SMALL, { seed: 5 });
      for (const [name, v] of net.params) if (/gamma|beta|bias/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', name.length + 1));
      const x = tf.randomUniform([1, 37, 50, 3], 0, 255, 'float32', 11) as Tensor4D;
      const padded = reflectPad(x, 5, 6, 7, 5); // 48 x 62: odd pads, MirrorPad on every backend
      const infer = net.infer(tf.slice(padded, [0, 0, 0, 0], [1, 48, 60, 3]) as Tensor4D);
      const apply = net.apply(tf.slice(padded, [0, 0, 0, 0], [1, 48, 60, 3]) as Tensor4D);
      outputs[backend] = { infer: infer.dataSync() as Float32Array, apply: apply.dataSync() as Float32Array };
      tf.dispose([x, padded, infer, apply]);
      net.dispose();
    }
  } finally {
    await initEngine({ backend: initial, log: false });
  }
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  for (const backend of backends.slice(1)) {
    for (const path of ['infer', 'apply'] as const) {
      const d = maxDiff(outputs[backend][path], outputs.wasm[path]);
      t.true(d < 0.05, `${path} on ${backend} vs wasm: max difference ${d} (0..255 scale)`);
    }
  }
});

test('the inference path (fused ops) equals the training path up to float rounding', (t) => {
  const net = createTransformNet(SMALL, { seed: 3 });
  // Non-trivial IN parameters, so that gamma and beta are exercised.
  for (const [name, v] of net.params) if (/gamma|beta|bias/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', name.length));
  const x = tf.randomUniform([2, 20, 28, 3], 0, 255, 'float32', 7) as Tensor4D;
  const a = net.apply(x).dataSync();
  const b = net.infer(x).dataSync();
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  t.true(m < 0.05, `max |apply - infer| ${m} (0..255 scale)`);
  t.deepEqual(Array.from(reflectSlices(tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]), 1).dataSync()), [5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2]);
  net.dispose();
});

test('reflection padding beyond the image side, nearest upsampling and instance norm', (t) => {
  const x = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
  const p = reflectPad(x, 0, 0, 4, 0);
  t.deepEqual(Array.from(p.dataSync()), [1, 2, 3, 2, 1, 2, 3]); // reflected twice: 2 px, then 2 more
  const u = upsampleNearest2x(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]));
  t.deepEqual(Array.from(u.dataSync()), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  const v = tf.tensor4d([1, 3, 5, 7, 10, 20, 30, 40], [1, 2, 2, 2]);
  const n = instanceNorm(v, tf.tensor1d([2, 1]), tf.tensor1d([0.5, 0])).dataSync();
  // channel 0: 1,5,10,30 -> mean 11.5, variance 124.25 (population); channel 1: 3,7,20,40
  const z = (a: number, m: number, s2: number) => (a - m) / Math.sqrt(s2 + 1e-5);
  t.true(Math.abs(n[0] - (2 * z(1, 11.5, 124.25) + 0.5)) < 1e-4);
  const m1 = (3 + 7 + 20 + 40) / 4;
  const s1 = [3, 7, 20, 40].reduce((a, b) => a + (b - m1) ** 2, 0) / 4;
  t.true(Math.abs(n[7] - z(40, m1, s1)) < 1e-4);
  // The gradient flows through every op the network uses.
  const net = createTransformNet(SMALL, { seed: 2 });
  const { grads } = tf.variableGrads(() => tf.mean(net.apply(tf.randomUniform([1, 16, 16, 3], 0, 255, 'float32', 1) as Tensor4D)) as Scalar, [...net.params.values()]);
  t.is(Object.keys(grads).length, parameterShapes(SMALL).length);
  t.true(Object.values(grads).every((g) => Number.isFinite(tf.sum(g).dataSync()[0])));
  t.true(Math.abs(tf.sum(tf.abs(grads[net.params.get('conv1/kernel')!.name])).dataSync()[0]) > 0);
  net.dispose();
});

test('float16 conversion: known values, round to nearest even, every half value round-trips', (t) => {
  t.is(toHalfBits(1), 0x3c00);
  t.is(toHalfBits(-2), 0xc000);
  t.is(toHalfBits(65504), 0x7bff);
  t.is(toHalfBits(1e6), 0x7c00);
  t.is(toHalfBits(0.1), 0x2e66);
  t.is(toHalfBits(2 ** -24), 1);
  t.is(toHalfBits(2 ** -26), 0);
  t.is(toHalfBits(1 + 2 ** -11), 0x3c00); // tie -> even
  t.is(toHalfBits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  let bad = 0;
  for (let h = 0; h < 0x10000; h++) {
    const v = fromHalfBits(h);
    if (Number.isNaN(v)) continue;
    if (toHalfBits(v) !== h) bad++;
  }
  t.is(bad, 0);
});

test('save as float16 and load: the same image as the network with float16-rounded weights, bit for bit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fast-io-'));
  const net = createTransformNet(SMALL, { seed: 5 });
  const manifest = await saveTransformNet(net, join(dir, 'net'), { training: { note: 'test' } });
  t.is(manifest.dtype, 'float16');
  const bytes = (await readFile(join(dir, 'net', 'weights.bin'))).byteLength;
  t.is(bytes, 2 * net.parameterCount());
  const { net: loaded, manifest: m2 } = await loadTransformNet(join(dir, 'net'));
  t.deepEqual(m2.config, SMALL);
  const rounded = new Map<string, Float32Array>();
  for (const [name, v] of net.params) rounded.set(name, roundToHalf(v.dataSync() as Float32Array));
  const reference = createTransformNet(SMALL, { weights: rounded });
  const img = photo(41, 29, 9);
  const a = await stylizeWithNet(loaded, img);
  const b = await stylizeWithNet(reference, img);
  t.deepEqual(a.data, b.data);
  // Against the float32 original: float16 weights move pixels by a level or two at most.
  const c = await stylizeWithNet(net, img);
  let maxDiff = 0;
  for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - c.data[i]));
  t.true(maxDiff <= 4, `max difference ${maxDiff}`);
  await t.throwsAsync(loadTransformNet(join(dir, 'nothing')), { message: /no manifest\.json/ });
  for (const n of [net, loaded, reference]) n.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('training a few steps on tiny photos lowers the loss and writes the network, plot and record', async (t) => {
  const { dir, style } = await trainingFolder();
  const out = join(dir, 'net');
  const r = await trainFastStyle({ ...trainBase(dir, style, out), steps: 16, checkpointEvery: 8 }, { lossNet });
  t.is(r.step, 16);
  t.is(r.losses.length, 16);
  const first = (r.losses[0].total + r.losses[1].total) / 2;
  const last = (r.losses[13].total + r.losses[14].total + r.losses[15].total) / 3;
  t.true(last < 0.7 * first, `loss ${first} -> ${last}`);
  const { net } = await loadTransformNet(out);
  t.deepEqual(net.config, SMALL);
  const record = JSON.parse(await readFile(r.files.record, 'utf8')) as { steps: { step: number; total: number }[]; tool: string };
  t.is(record.tool, 'convlab-style train-fast');
  t.deepEqual(record.steps.map((s) => s.step), Array.from({ length: 16 }, (_, i) => i + 1));
  t.true((await readFile(r.files.plot)).byteLength > 1000);
  t.true((await readFile(r.files.preview)).byteLength > 100);
  await t.throwsAsync(trainFastStyle({ ...trainBase(dir, style, out), steps: 20 }, { lossNet }), { message: /not empty/ });
  for (const n of [net, r.net]) n.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('resume continues the step count and draws the same batches as an uninterrupted run', async (t) => {
  const { dir, style } = await trainingFolder();
  const whole = await trainFastStyle({ ...trainBase(dir, style, join(dir, 'whole')), steps: 4, checkpointEvery: 100 }, { lossNet });
  const part = await trainFastStyle({ ...trainBase(dir, style, join(dir, 'part')), steps: 2, checkpointEvery: 1 }, { lossNet });
  t.is(part.step, 2);
  part.net.dispose();
  const cp = await loadCheckpoint(join(dir, 'part', 'checkpoint'));
  t.is(cp.state.step, 2);
  t.is(cp.state.adam?.iterations, 2);
  cp.net.dispose();
  const resumed = await trainFastStyle({ ...trainBase(dir, style, join(dir, 'part')), steps: 4, resume: true, checkpointEvery: 100 }, { lossNet });
  t.is(resumed.step, 4);
  t.is(resumed.stepsRun, 2);
  t.deepEqual(resumed.record.toJSON().steps.map((s) => s.step), [1, 2, 3, 4]);
  for (let i = 0; i < 4; i++) {
    const rel = Math.abs(resumed.losses[i].total - whole.losses[i].total) / whole.losses[i].total;
    t.true(rel < 1e-4, `step ${i + 1}: ${resumed.losses[i].total} vs ${whole.losses[i].total}`);
  }
  await t.throwsAsync(trainFastStyle({ ...trainBase(dir, style, join(dir, 'part')), steps: 4, resume: true }, { lossNet }), { message: /at step 4/ });
  await t.throwsAsync(trainFastStyle({ ...trainBase(dir, style, join(dir, 'fresh')), steps: 4, resume: true }, { lossNet }), { message: /no checkpoint/ });
  for (const n of [whole.net, resumed.net]) n.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('options: defaults, ranges and cross-field checks name the flag', (t) => {
  const o = parseFastTrainOptions({ style: 's.jpg', contentDir: 'd', out: 'o' });
  t.is(o.backbone, 'mobilenet_v2');
  t.is(o.size, 128);
  t.is(o.styleSize, 256);
  t.true(o.styleLayers.length > 0);
  t.throws(() => parseFastTrainOptions({ style: 's', contentDir: 'd', out: 'o', size: 130 }, 'cli'), { message: /--size 130 is not a multiple of 4/ });
  t.throws(() => parseFastTrainOptions({ style: 's', contentDir: 'd', out: 'o', batch: 0 }, 'cli'), { message: /--batch/ });
});
