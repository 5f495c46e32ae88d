import test from 'ava';
import { tf, type Tensor } from '@convlab/core';
import { blendGrams, contentLoss, gramMatrix, gramNormaliser, styleLoss } from '../src/gatys.js';
import { blendQuantiles, resampleSorted, slicedWassersteinLoss, styleQuantiles } from '../src/sliced-wasserstein.js';
import { softmaxFeatures } from '../src/softmax-features.js';

await tf.setBackend('cpu');

// Features [1, 2, 2, 3]: positions p0..p3, channels c0..c2.
const F = [
  [1, 2, 0],
  [0, 1, 3],
  [2, 0, 1],
  [1, 1, 1],
];
const feats = () => tf.tensor4d(F.flat(), [1, 2, 2, 3]);

function handGram(rows: number[][]): number[][] {
  const c = rows[0].length;
  const g = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  for (const r of rows) for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) g[i][j] += r[i] * r[j];
  return g.map((row) => row.map((v) => v / rows.length));
}

test('gram equals F^T F / (h w) computed by hand', (t) => {
  const g = gramMatrix(feats(), { normalize: 'hw' }).arraySync() as number[][];
  const h = handGram(F);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t.true(Math.abs(g[i][j] - h[i][j]) < 1e-6);
});

test('gram style loss equals the hand sum of squared differences over the normaliser', (t) => {
  const target = tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]);
  const g = handGram(F);
  let sum = 0;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) sum += (g[i][j] - (i === j ? 1 : 0)) ** 2;
  t.true(Math.abs(gramNormaliser(target, 'gatys') - 36) < 1e-9);
  t.true(Math.abs(gramNormaliser(target, 'target') - 3) < 1e-6);
  const loss = styleLoss(feats(), target, 3).dataSync()[0];
  t.true(Math.abs(loss - sum / 3) < 1e-5, `${loss} vs ${sum / 3}`);
});

test('content loss: gatys = 1/2 sum of squares, variance = mean of squares / var(target)', (t) => {
  const a = tf.tensor1d([1, 2, 3, 4]);
  const b = tf.tensor1d([0, 2, 5, 4]);
  t.true(Math.abs(contentLoss(a, b, 'gatys').dataSync()[0] - 0.5 * (1 + 4)) < 1e-6);
  // var(b) = mean([0,2,5,4]) = 2.75; squares: 7.5625 + 0.5625 + 5.0625 + 1.5625 = 14.75 / 4 = 3.6875
  t.true(Math.abs(contentLoss(a, b, 'variance').dataSync()[0] - 5 / 4 / 3.6875) < 1e-6);
});

test('blend of Grams with weights 1,0 is exactly the first Gram', (t) => {
  const g1 = tf.tensor2d([1.5, 2.25, 3.125, 4.0625], [2, 2]);
  const g2 = tf.tensor2d([9, 8, 7, 6], [2, 2]);
  t.deepEqual(Array.from(blendGrams([g1, g2], [1, 0]).dataSync()), Array.from(g1.dataSync()));
  t.deepEqual(Array.from(blendGrams([g1, g2], [0.5, 0.5]).dataSync()), [5.25, 5.125, 5.0625, 5.03125]);
});

test('resampleSorted keeps equal lengths and interpolates quantiles', (t) => {
  t.deepEqual(Array.from(resampleSorted(Float32Array.from([1, 2, 3]), 3)), [1, 2, 3]);
  t.deepEqual(Array.from(resampleSorted(Float32Array.from([0, 10]), 4)), [0, 2.5, 7.5, 10]);
  const q = blendQuantiles([[Float32Array.from([0, 2])], [Float32Array.from([4, 6])]], [0.25, 0.75]);
  t.deepEqual(Array.from(q[0]), [3, 5]);
});

test('sliced Wasserstein loss equals the sorted-projection MSE by hand', (t) => {
  // One direction along channel 0: projections are F[:, 0] = [1, 0, 2, 1]; style quantiles [10, 20, 30, 40].
  const dirs = tf.tensor2d([1, 0, 0], [3, 1]);
  const q = [Float32Array.from([10, 20, 30, 40])];
  // sorted projections [0, 1, 1, 2] vs [10, 20, 30, 40] (ties keep any order: same values).
  const expected = ((0 - 10) ** 2 + (1 - 20) ** 2 + (1 - 30) ** 2 + (2 - 40) ** 2) / 4;
  t.true(Math.abs(slicedWassersteinLoss(feats(), dirs, q, 2).dataSync()[0] - expected / 2) < 1e-3);
  // Quantiles of the features themselves give zero loss.
  const own = styleQuantiles(feats(), dirs, 4);
  t.deepEqual(Array.from(own[0]), [0, 1, 1, 2]);
  t.true(slicedWassersteinLoss(feats(), dirs, own, 1).dataSync()[0] < 1e-12);
});

test('softmax features: positive, mean 1, invariant to adding a constant', (t) => {
  const s = softmaxFeatures(feats(), 2);
  const v = Array.from(s.dataSync());
  t.true(v.every((x) => x > 0));
  t.true(Math.abs(v.reduce((a, b) => a + b, 0) / v.length - 1) < 1e-5);
  const shifted = Array.from(softmaxFeatures(tf.add(feats(), 5), 2).dataSync());
  v.forEach((x, i) => t.true(Math.abs(x - shifted[i]) < 1e-4));
});

/** Central finite differences of f at x (float64 bookkeeping, float32 evaluation). */
function finiteDifferences(f: (x: Tensor) => Tensor, x: number[], shape: number[], eps = 1e-2): number[] {
  return x.map((_, i) => {
    const plus = x.slice();
    const minus = x.slice();
    plus[i] += eps;
    minus[i] -= eps;
    const fp = tf.tidy(() => f(tf.tensor(plus, shape)).dataSync()[0]);
    const fm = tf.tidy(() => f(tf.tensor(minus, shape)).dataSync()[0]);
    return (fp - fm) / (2 * eps);
  });
}

function assertGradClose(t: import('ava').ExecutionContext, f: (x: Tensor) => Tensor, x: number[], shape: number[], tol = 2e-2) {
  const analytic = Array.from(tf.tidy(() => tf.grad(f)(tf.tensor(x, shape))).dataSync());
  const numeric = finiteDifferences(f, x, shape);
  const scale = Math.max(...numeric.map(Math.abs), 1e-3);
  analytic.forEach((a, i) => t.true(Math.abs(a - numeric[i]) <= tol * scale, `grad[${i}] ${a} vs ${numeric[i]}`));
}

const X = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4, 2.0, 0.7, -0.9, 0.5, 1.1, -0.2];

test('gradient of the Gram style loss matches finite differences', (t) => {
  const target = tf.tensor2d([1, 0.2, 0.1, 0.2, 0.9, 0, 0.1, 0, 1.3], [3, 3]);
  assertGradClose(t, (x) => styleLoss(x, target, 2), X, [1, 2, 2, 3]);
});

test('gradient of the content loss matches finite differences', (t) => {
  const target = tf.tensor(X.map((v) => v * 0.5 + 0.1), [1, 2, 2, 3]);
  assertGradClose(t, (x) => contentLoss(x, target, 'variance', 0.7), X, [1, 2, 2, 3]);
});

test('gradient of the softmax-feature Gram loss matches finite differences', (t) => {
  const target = tf.tensor2d([1, 0.2, 0.1, 0.2, 0.9, 0, 0.1, 0, 1.3], [3, 3]);
  assertGradClose(t, (x) => styleLoss(softmaxFeatures(x, 1.5), target, 2), X, [1, 2, 2, 3]);
});

test('gradient of the sliced Wasserstein loss matches finite differences (away from ties)', (t) => {
  const dirs = tf.tensor2d([0.6, 0, 0.8, 0.6, 0, 0.8], [3, 2]);
  const q = [Float32Array.from([-1, 0, 1, 2]), Float32Array.from([0, 0.5, 1, 3])];
  assertGradClose(t, (x) => slicedWassersteinLoss(x, dirs, q, 1), X, [1, 2, 2, 3]);
});
