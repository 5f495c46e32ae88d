/**
 * The artifact measures of ../src/artifacts.ts on synthetic images, the reflection padding's gradient, and a
 * small real run (InceptionV3, 112 px) before (pad 0, jitter 0) and after the fix, whose numbers are logged.
 */
import test from 'ava';
import { initEngine, loadImage, resizeImage, tf, type RgbImage, type Tensor, type Tensor4D } from '@convlab/core';
import { artifactReport, frameScores, luminance, nyquistPower, nyquistShare, type RgbPixels } from '../src/artifacts.js';
import { networkView, padByReflection } from '../src/gatys.js';
import { parseStylizeOptions } from '../src/options.js';
import { loadFeatureNet, stylize } from '../src/stylize.js';
import { maxAbsDiff } from './helpers.js';

// wasm unless CONVLAB_BACKEND says otherwise (as ./stylize.test.ts).
const engine = await initEngine({ backend: process.env.CONVLAB_BACKEND ?? 'wasm', log: false });

function image(width: number, height: number, f: (x: number, y: number) => [number, number, number] | number): RgbPixels {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const v = f(x, y);
      const [r, g, b] = typeof v === 'number' ? [v, v, v] : v;
      data.set([r, g, b], 3 * (y * width + x));
    }
  return { width, height, data };
}

/** Nyquist share by a direct 2-D DFT (O(W^2 H^2): small images only), the definition in the header. */
function nyquistShareByDft(img: RgbPixels): number {
  const W = img.width - (img.width % 2);
  const H = img.height - (img.height % 2);
  const full = luminance(img);
  let total = 0;
  let nyq = 0;
  for (let v = 0; v < H; v++)
    for (let u = 0; u < W; u++) {
      if (u === 0 && v === 0) continue;
      let re = 0;
      let im = 0;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const a = -2 * Math.PI * ((u * x) / W + (v * y) / H);
          re += full[y * img.width + x] * Math.cos(a);
          im += full[y * img.width + x] * Math.sin(a);
        }
      const p = re * re + im * im;
      total += p;
      if (u === W / 2 || v === H / 2) nyq += p;
    }
  return nyq / total;
}

test('Nyquist share: checkerboard and period-2 stripes 1, smooth gradient ~0, noise ~ the share of Nyquist bins', (t) => {
  t.true(Math.abs(nyquistShare(image(64, 48, (x, y) => ((x + y) % 2) * 200 + 20)) - 1) < 1e-9);
  const stripes = nyquistPower(image(64, 48, (x) => (x % 2) * 100));
  t.true(Math.abs(stripes.share - 1) < 1e-9 && Math.abs(stripes.shareX - 1) < 1e-9 && stripes.shareY < 1e-9);
  const gradient = nyquistShare(image(64, 48, (x, y) => 2 * x + y));
  t.true(gradient >= 0 && gradient < 0.01, `smooth gradient ${gradient}`);
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 255;
  const noise = nyquistShare(image(64, 64, () => [rand(), rand(), rand()]));
  const bins = (64 + 64 - 1) / (64 * 64 - 1);
  t.true(noise > 0.3 * bins && noise < 3 * bins, `white noise ${noise} vs ${bins}`);
  // Constant image: no non-DC power, share 0.
  t.is(nyquistShare(image(8, 8, () => 77)), 0);
});

test('Nyquist share equals the direct 2-D DFT sum (odd sizes drop the last row/column)', (t) => {
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const img = image(13, 10, (x, y) => [100 + 50 * Math.sin(x / 2) + 30 * rand(), 80 + 40 * ((x + y) % 2) + 20 * rand(), 120 * rand()]);
  const fast = nyquistShare(img);
  const slow = nyquistShareByDft(img);
  t.true(Math.abs(fast - slow) < 1e-9 * Math.max(1, slow), `${fast} vs ${slow}`);
  t.true(fast > 0.05 && fast < 1);
});

test('Nyquist share of a real photo is small, and an added checkerboard raises it', async (t) => {
  const photo = await resizeImage(await loadImage('../../assets/content/tubingen.jpg'), { maxSide: 384 });
  const s = nyquistShare(photo);
  t.log(`tubingen at ${photo.width}x${photo.height}: Nyquist share ${s.toExponential(2)}`);
  t.true(s > 0 && s < 0.002, `${s}`);
  const gridded = image(photo.width, photo.height, (x, y) => {
    const i = 3 * (y * photo.width + x);
    const g = ((x + y) % 2 ? 1 : -1) * 6;
    return [photo.data[i] + g, photo.data[i + 1] + g, photo.data[i + 2] + g];
  });
  t.true(nyquistShare(gridded) > 10 * s);
});

test('frame score: 1 for a uniform change, < 1 for a weak border, > 1 for a strong one', (t) => {
  const content = image(64, 64, (x, y) => 100 + ((x * 7 + y * 3) % 50));
  const uniform = image(64, 64, (x, y) => 130 + ((x * 7 + y * 3) % 50));
  for (const f of frameScores(uniform, content)) t.true(Math.abs(f - 1) < 1e-9);
  // The outer 2 px changed by 5, everything else by 30.
  const edge = (x: number, y: number) => Math.min(x, y, 63 - x, 63 - y);
  const weak = image(64, 64, (x, y) => 100 + ((x * 7 + y * 3) % 50) + (edge(x, y) < 2 ? 5 : 30));
  const f = frameScores(weak, content);
  t.true(Math.abs(f[0] - 5 / 30) < 1e-9 && Math.abs(f[1] - 5 / 30) < 1e-9, `${f}`);
  t.true(f[2] > f[1] && f[3] > f[2] && f[3] < 1);
  const strong = image(64, 64, (x, y) => 100 + ((x * 7 + y * 3) % 50) + (edge(x, y) < 1 ? 60 : 30));
  t.true(Math.abs(frameScores(strong, content)[0] - 2) < 1e-9);
  t.true(Number.isNaN(frameScores(content, content)[0]), 'nothing changed: no reference');
  t.throws(() => frameScores(image(40, 40, () => 0), image(40, 40, () => 0)), { message: /too small/ });
  t.throws(() => frameScores(uniform, image(64, 32, () => 0)), { message: /64x32/ });
});

test('padByReflection reflects without repeating the edge, and its gradient adds the copies back', (t) => {
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 3, 4, 1]);
  const p = padByReflection(x, 2);
  t.deepEqual(p.shape, [1, 7, 8, 1]);
  // numpy.pad(x, 2, mode='reflect')'s middle row and first row.
  t.deepEqual(Array.from(p.dataSync().slice(2 * 8, 3 * 8)), [3, 2, 1, 2, 3, 4, 3, 2]);
  t.deepEqual(Array.from(p.dataSync().slice(0, 8)), [11, 10, 9, 10, 11, 12, 11, 10]);
  // Gradient of sum(w * pad(x)) = pad^T w: each pixel collects the weights of all its copies.
  const w = tf.randomUniform([1, 7, 8, 1], -1, 1, 'float32', 5);
  const g = tf.grad((v: Tensor) => tf.sum(tf.mul(padByReflection(v as Tensor4D, 2), w)))(x);
  const wd = w.dataSync();
  const expected = new Float32Array(12);
  const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  for (let i = 0; i < 7; i++) for (let j = 0; j < 8; j++) expected[reflect(i - 2, 3) * 4 + reflect(j - 2, 4)] += wd[i * 8 + j];
  t.true(maxAbsDiff(g.dataSync(), expected) < 1e-5);
  // networkView: no padding and no jitter is x itself; a shift moves the window.
  t.is(networkView(x as Tensor4D, 0, 0), x);
  const v = networkView(x as Tensor4D, 0, 1, 0, 1);
  t.deepEqual(Array.from(v.dataSync().slice(0, 4)), [2, 3, 4, 3]);
  t.throws(() => padByReflection(x as Tensor4D, 3), { message: /larger than 3 px/ });
  tf.dispose([x, p, w, g, v]);
});

test('options: pad defaults on, jitter defaults per optimiser; with L-BFGS a shift holds for --jitter-every iterations', (t) => {
  const base = { content: 'c.jpg', style: ['s.jpg'] };
  const lbfgs = parseStylizeOptions(base);
  t.true(lbfgs.pad > 0);
  t.is(lbfgs.jitter, 1);
  t.is(lbfgs.jitterEvery, 20);
  t.is(parseStylizeOptions({ ...base, jitter: 0 }).jitter, 0);
  t.true(parseStylizeOptions({ ...base, optimizer: 'adam' }).jitter > 0);
  t.is(parseStylizeOptions({ ...base, optimizer: 'adam', jitter: 0, pad: 0 }).jitter, 0);
  const blocked = parseStylizeOptions({ ...base, jitter: 2, jitterEvery: 5 }, 'cli');
  t.is(blocked.jitter, 2);
  t.is(blocked.jitterEvery, 5);
  const e = t.throws(() => parseStylizeOptions({ ...base, jitter: 1, jitterEvery: 0 }, 'cli'));
  t.regex(e!.message, /--jitter-every/);
});

// A small real run: the default backbone (InceptionV3 trunk) at 112 px, before and after the fix.
test.serial('small run (InceptionV3, 112 px, Adam): the measures before and after the fix', async (t) => {
  const net = await loadFeatureNet('inception_v3', 'default', 0);
  try {
    const base = {
      content: '../../assets/content/tubingen.jpg',
      style: ['../../assets/style/the_scream.jpg'],
      size: 112,
      iterations: 40,
      optimizer: 'adam' as const,
      lr: 0.05,
      seed: 1,
      backend: engine.backend as 'wasm',
    };
    const measure = async (fix: { pad: number; jitter: number }) => {
      const r = await stylize({ ...base, ...fix }, undefined, undefined, { net });
      return { image: r.image, report: artifactReport(r.image, r.content) };
    };
    const before = await measure({ pad: 0, jitter: 0 });
    const after = await measure({ pad: 16, jitter: 1 });
    const fmt = (r: ReturnType<typeof artifactReport>) => `Nyquist ${r.nyquist.toExponential(2)} (photo ${r.contentNyquist.toExponential(2)}), frame_1..4 ${r.frame.map((f) => f.toFixed(2)).join(' ')}`;
    t.log(`${before.image.width}x${before.image.height}, 40 Adam steps on ${engine.backend}`);
    t.log(`before (pad 0, jitter 0):  ${fmt(before.report)}`);
    t.log(`after  (pad 16, jitter 1): ${fmt(after.report)}`);
    for (const { report } of [before, after]) {
      t.true(report.nyquist >= 0 && report.nyquist <= 1);
      for (const f of report.frame) t.true(Number.isFinite(f) && f > 0, `frame ${f}`);
    }
    // The grid is what the fix removes robustly (measured 10x less at this size, 6.5x at 192 px). The frame
    // at this size and step count is a border changed *more* than the inside (frame_1 ~1.2 before, ~0.9
    // after) and by too little to assert on: it is logged only.
    t.true(after.report.nyquist < 0.5 * before.report.nyquist, `Nyquist share ${before.report.nyquist} -> ${after.report.nyquist}`);
    const same = (a: RgbImage, b: RgbImage) => Buffer.from(a.data).equals(Buffer.from(b.data));
    t.false(same(before.image, after.image));
  } finally {
    net.dispose();
  }
});
