import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { ConvlabError } from '@convlab/core';
import { contentLoss, gramMatrix, gramNormaliser, styleLoss } from '../src/gatys.js';
import { finiteDifferenceGrad, maxAbs, maxAbsDiff } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

test.serial('gramMatrix matches sum_k F_ki F_kj with each normalisation', (t) => {
  // h=1, w=2, c=2: positions (1, 2) and (3, 4).
  const f = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]);
  const expected = [1 * 1 + 3 * 3, 1 * 2 + 3 * 4, 2 * 1 + 4 * 3, 2 * 2 + 4 * 4];
  t.deepEqual(Array.from(gramMatrix(f, { normalize: 'none' }).dataSync()), expected);
  t.deepEqual(Array.from(gramMatrix(f, { normalize: 'hw' }).dataSync()), expected.map((v) => v / 2));
  t.deepEqual(Array.from(gramMatrix(f).dataSync()), expected.map((v) => v / 4)); // default 'hwc'
  t.deepEqual(gramMatrix(tf.squeeze(f, [0])).shape, [2, 2]);
});

test.serial('gramMatrix refuses batches and wrong ranks with a clear error', (t) => {
  const err = t.throws(() => gramMatrix(tf.zeros([2, 4, 4, 3])), { instanceOf: ConvlabError });
  t.regex(err!.message, /\[h, w, c\] or \[1, h, w, c\], got \[2, 4, 4, 3\]/);
  t.throws(() => gramMatrix(tf.zeros([4, 3])), { instanceOf: ConvlabError });
});

test.serial('the hand-written Gram gradient equals autodiff of the naive formula and finite differences', (t) => {
  const x = tf.randomNormal([1, 5, 4, 6], 0, 1, 'float32', 1);
  // A non-symmetric weighting checks the (dG + dG^T) term.
  const weight = tf.randomNormal([6, 6], 0, 1, 'float32', 2);
  const ours = (v: tf.Tensor) => tf.sum(tf.mul(gramMatrix(v, { normalize: 'hw' }), weight)) as tf.Scalar;
  const naive = (v: tf.Tensor) => {
    const f = tf.reshape(v, [20, 6]) as tf.Tensor2D;
    return tf.sum(tf.mul(tf.div(tf.matMul(f, f, true, false), 20), weight)) as tf.Scalar;
  };
  const g1 = tf.grad(ours)(x).dataSync();
  const g2 = tf.grad(naive)(x).dataSync();
  t.true(maxAbsDiff(g1, g2) < 1e-4 * maxAbs(g2), `autodiff mismatch ${maxAbsDiff(g1, g2)}`);
  const fd = finiteDifferenceGrad(ours, x, 1e-2, [0, 7, 33, 119]);
  for (const [i, v] of fd) t.true(Math.abs(v - g1[i]) < 2e-2 * (1 + Math.abs(v)), `index ${i}: fd ${v} vs ${g1[i]}`);
});

test.serial('style loss gradient through the Gram matrix matches finite differences', (t) => {
  const x = tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 3);
  const target = gramMatrix(tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 4), { normalize: 'hw' });
  const f = (v: tf.Tensor) => styleLoss(v, target, gramNormaliser(target, 'target')) as tf.Scalar;
  const g = tf.grad(f)(x).dataSync();
  const fd = finiteDifferenceGrad(f, x, 1e-2);
  const err = Math.max(...[...fd].map(([i, v]) => Math.abs(v - g[i])));
  t.true(err < 1e-3 * Math.max(1e-3, maxAbs(g)) + 1e-5, `max error ${err} vs gradient scale ${maxAbs(g)}`);
});

test.serial("loss conventions: Gatys' E_l (Eq. 4) is styleLoss with the 'gatys' normaliser, jcjohnson's mean form a per-layer factor; content Eq. 1", (t) => {
  const [h, w, c] = [3, 5, 4];
  const a = tf.randomNormal([1, h, w, c], 0, 1, 'float32', 5);
  const b = tf.randomNormal([1, h, w, c], 0, 1, 'float32', 6);
  const ga = gramMatrix(a, { normalize: 'none' });
  const gb = gramMatrix(b, { normalize: 'none' });
  const m = h * w;
  // Eq. 4 on unnormalised Grams: E_l = 1 / (4 N^2 M^2) sum (G - A)^2.
  const gatys = tf.sum(tf.squaredDifference(ga, gb)).dataSync()[0] / (4 * c * c * m * m);
  const target = gramMatrix(b, { normalize: 'hw' });
  t.is(gramNormaliser(target, 'gatys'), 4 * c * c);
  const ours = styleLoss(a, target, gramNormaliser(target, 'gatys')).dataSync()[0];
  t.true(Math.abs(gatys - ours) < 1e-5 * gatys);
  // jcjohnson/neural-style's StyleLoss, mean((G_a - G_b)^2) on 'hwc'-normalised Grams, is 4 E_l / C^2: styleLoss with normaliser C^4.
  const jcjohnson = tf.mean(tf.squaredDifference(gramMatrix(a), gramMatrix(b))).dataSync()[0];
  t.true(Math.abs(jcjohnson * (c * c) * 0.25 - gatys) < 1e-5 * gatys);
  t.true(Math.abs(styleLoss(a, target, c ** 4).dataSync()[0] - jcjohnson) < 1e-5 * jcjohnson);
  // Eq. 1: 1/2 sum (F - P)^2; 'variance' with var(P) = 1 is the mean form (jcjohnson's nn.MSECriterion).
  const sq = tf.squaredDifference(a, b);
  t.true(Math.abs(contentLoss(a, b, 'gatys').dataSync()[0] - 0.5 * tf.sum(sq).dataSync()[0]) < 1e-5 * tf.sum(sq).dataSync()[0]);
  t.true(Math.abs(contentLoss(a, b, 'variance', 1).dataSync()[0] - tf.mean(sq).dataSync()[0]) < 1e-6);
  t.throws(() => contentLoss(a, tf.zeros([1, 3, 4, 4]), 'variance'), { instanceOf: ConvlabError, message: /shapes differ/ });
  t.throws(() => styleLoss(a, tf.zeros([3, 3]), 1), { instanceOf: ConvlabError, message: /shapes differ/ });
});

test.serial('gramMatrix gives the same values and gradient on the wasm backend', async (t) => {
  const data = tf.randomNormal([1, 6, 5, 8], 0, 1, 'float32', 7).dataSync();
  const run = () => {
    const x = tf.tensor4d(data, [1, 6, 5, 8]);
    const g = gramMatrix(x).dataSync();
    const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.square(gramMatrix(v))))(x).dataSync();
    return { g, grad };
  };
  const cpu = run();
  await import('@tensorflow/tfjs-backend-wasm');
  t.true(await tf.setBackend('wasm'));
  try {
    const wasm = run();
    t.true(maxAbsDiff(cpu.g, wasm.g) < 1e-5 * maxAbs(cpu.g));
    t.true(maxAbsDiff(cpu.grad, wasm.grad) < 1e-4 * maxAbs(cpu.grad));
  } finally {
    await tf.setBackend('cpu');
  }
});
