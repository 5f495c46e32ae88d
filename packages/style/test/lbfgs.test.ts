import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import {
  adamMinimize,
  createLbfgs,
  cubicInterpolate,
  jsVectorMath,
  lossAndGradOf,
  minimize,
  minimizeLbfgs,
  tfVectorMath,
  type LossAndGradFn,
} from '../src/optimizers/index.js';
import { ConvlabError } from '@convlab/core';
import { maxAbs, maxAbsDiff } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Extended Rosenbrock: sum over pairs of 100 (x_2i - x_2i-1^2)^2 + (1 - x_2i-1)^2; minimum at all ones. */
function rosenbrock(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const pairs = tf.reshape(x, [-1, 2]);
    const [a, b] = tf.split(pairs, 2, 1);
    return tf.sum(tf.add(tf.mul(100, tf.square(tf.sub(b, tf.square(a)))), tf.square(tf.sub(1, a)))) as tf.Scalar;
  });
}

function rosenbrockStart(n: number): tf.Tensor1D {
  return tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1)));
}

/** 0.5 x^T A x - b^T x with A = Q diag(lambda) Q^T, lambda spread evenly over [1, kappa] (SPD), b = A x*. */
function quadratic(n: number, seed: number, kappa = n) {
  const q = tf.tidy(() => tf.linalg.qr(tf.randomNormal([n, n], 0, 1, 'float32', seed))[0]);
  const a = tf.tidy(() => tf.matMul(tf.mul(q, tf.reshape(tf.linspace(1, kappa, n), [1, n])), q, false, true));
  const xStar = tf.randomUniform([n, 1], -1, 1, 'float32', seed + 1);
  const b = tf.matMul(a, xStar);
  const fn: LossAndGradFn = (x) =>
    tf.tidy(() => {
      const ax = tf.matMul(a, tf.reshape(x, [n, 1]));
      const loss = tf.sub(tf.mul(0.5, tf.sum(tf.mul(tf.reshape(x, [n, 1]), ax))), tf.sum(tf.mul(b, tf.reshape(x, [n, 1])))) as tf.Scalar;
      return { loss, grad: tf.reshape(tf.sub(ax, b), x.shape) };
    });
  return { fn, xStar: xStar.dataSync(), a };
}

test.serial('cubicInterpolate finds the minimiser of a cubic through two points', (t) => {
  // f(x) = (x - 1)^2 + 0.1 (x - 1)^3 has a local minimum at 1 (f'(1) = 0).
  const f = (x: number) => (x - 1) ** 2 + 0.1 * (x - 1) ** 3;
  const df = (x: number) => 2 * (x - 1) + 0.3 * (x - 1) ** 2;
  t.true(Math.abs(cubicInterpolate(0, f(0), df(0), 2.5, f(2.5), df(2.5)) - 1) < 1e-9);
  // Clamped to the given bounds.
  t.is(cubicInterpolate(0, f(0), df(0), 2.5, f(2.5), df(2.5), [1.5, 2]), 1.5);
});

for (const n of [2, 10]) {
  test.serial(`L-BFGS with strong-Wolfe line search solves the ${n}-D Rosenbrock function`, async (t) => {
    const x0 = rosenbrockStart(n);
    const res = await minimizeLbfgs(lossAndGradOf(rosenbrock), x0, { maxIterations: 200, maxEvaluations: 1000, historySize: 10 });
    const x = Array.from(res.x.dataSync());
    t.true(maxAbsDiff(x, new Array(n).fill(1)) < 2e-3, `x = ${x.map((v) => v.toFixed(4))} after ${res.iterations} iterations (${res.stopReason})`);
    t.true(res.losses[res.losses.length - 1] < 1e-5);
    t.is(res.losses.length, res.iterations + 1);
    t.is(x0.dataSync()[0], Math.fround(-1.2), 'x0 is left untouched');
    t.not(res.stopReason, 'nonFinite');
  });
}

test.serial('L-BFGS without line search (neural-style settings) also solves 2-D Rosenbrock', async (t) => {
  const res = await minimizeLbfgs(lossAndGradOf(rosenbrock), rosenbrockStart(2), { maxIterations: 500, maxEvaluations: 1000, lineSearch: 'none', learningRate: 1 });
  t.true(maxAbsDiff(res.x.dataSync(), [1, 1]) < 1e-2, `x = ${res.x.dataSync()} (${res.stopReason})`);
  t.is(res.evaluations, res.iterations + 1, 'one evaluation per iteration plus the initial one');
});

test.serial('on an SPD quadratic, L-BFGS with strong-Wolfe reaches A^-1 b in about n iterations, gradient descent does not', async (t) => {
  const n = 12;
  const kappa = 100;
  const { fn, xStar } = quadratic(n, 11, kappa);
  const x0 = tf.zeros([n]);
  const errors: number[] = [];
  const res = await minimizeLbfgs(fn, x0, {
    maxIterations: n + 4,
    tolGrad: 1e-5,
    onIteration: (info) => {
      errors.push(maxAbsDiff(info.x.dataSync(), xStar));
    },
  });
  t.log(`error by iteration: ${errors.map((e) => e.toExponential(1)).join(' ')}`);
  const err = maxAbsDiff(res.x.dataSync(), xStar);
  t.log(`L-BFGS: |x - x*| = ${err} after ${res.iterations} iterations, ${res.evaluations} evaluations (${res.stopReason})`);
  t.true(err < 1e-3, `|x - x*| = ${err} after ${res.iterations} iterations (${res.stopReason})`);
  t.true(res.iterations <= n + 4);

  // Gradient descent with the optimal fixed step 2 / (L + mu), same budget of gradient evaluations.
  let x = x0;
  for (let i = 0; i < res.evaluations; i++) {
    const { grad, loss } = await fn(x);
    (loss as tf.Tensor).dispose();
    const next = tf.tidy(() => tf.sub(x, tf.mul(grad, 2 / (kappa + 1))));
    grad.dispose();
    if (x !== x0) x.dispose();
    x = next;
  }
  const gdErr = maxAbsDiff(x.dataSync(), xStar);
  t.log(`gradient descent: |x - x*| = ${gdErr} after ${res.evaluations} steps`);
  t.true(gdErr > 30 * err, `gradient descent error ${gdErr} after ${res.evaluations} steps vs L-BFGS ${err}`);
});

test.serial('memory stays flat over many iterations once the history is full', async (t) => {
  const target = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 3);
  // A non-quadratic objective that keeps the optimiser busy: Rosenbrock on pairs plus a pull to a target.
  const fn = lossAndGradOf((x) => tf.add(tf.mul(0.01, rosenbrock(x)), tf.sum(tf.square(tf.sub(x, target)))) as tf.Scalar);
  for (const [lineSearch, vectorMath] of [['none', 'js'], ['none', 'tf'], ['strong-wolfe', 'js'], ['strong-wolfe', 'tf']] as const) {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const res = await minimizeLbfgs(fn, tf.zeros([1, 8, 8, 3]), {
      maxIterations: 60,
      maxEvaluations: 10000,
      historySize: 4,
      tolChange: -1,
      tolGrad: -1,
      lineSearch,
      vectorMath,
      learningRate: lineSearch === 'none' ? 0.1 : 1,
      onIteration: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    t.is(res.iterations, 60, `${lineSearch}: ran ${res.iterations} (${res.stopReason})`);
    const steady = counts.slice(6);
    t.true(steady.every((c) => c === steady[0]), `${lineSearch}: tensor counts ${counts.join(' ')}`);
    res.x.dispose();
    // zeros() input + nothing else left behind.
    t.is(tf.memory().numTensors, before + 1, `${lineSearch}: leaked ${tf.memory().numTensors - before - 1}`);
  }
});

test.serial("the 'js' and 'tf' vector arithmetic agree, on cpu and on wasm", async (t) => {
  // Same two-loop direction from the same history.
  const shape = [1, 6, 5, 3];
  const g = tf.randomNormal(shape, 0, 1, 'float32', 40);
  const stps = [41, 42, 43].map((seed) => tf.randomNormal(shape, 0, 1, 'float32', seed));
  const dirs = stps.map((s, i) => tf.add(s, tf.randomNormal(shape, 0, 0.3, 'float32', 50 + i)));
  const ro = await Promise.all(stps.map(async (s, i) => 1 / (await tfVectorMath.dot(dirs[i], s))));
  const dJs = jsVectorMath.direction(g, stps, dirs, ro, 0.7).dataSync();
  const dTf = tfVectorMath.direction(g, stps, dirs, ro, 0.7).dataSync();
  t.true(maxAbsDiff(dJs, dTf) < 1e-5 * maxAbs(dTf), `directions differ by ${maxAbsDiff(dJs, dTf)}`);
  const pairs: [string, tf.Tensor, tf.Tensor][] = [
    ['axpy', jsVectorMath.axpy(g, 0.3, stps[0]), tfVectorMath.axpy(g, 0.3, stps[0])],
    ['sub', jsVectorMath.sub(g, stps[0]), tfVectorMath.sub(g, stps[0])],
    ['scale', jsVectorMath.scale(g, -2.5), tfVectorMath.scale(g, -2.5)],
  ];
  for (const [name, a, b] of pairs) {
    t.deepEqual(a.shape, b.shape);
    t.true(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-6, name);
  }
  for (const op of ['dot', 'maxAbs', 'sumAbs'] as const) {
    const a = await jsVectorMath[op](g, stps[0]);
    const b = await tfVectorMath[op](g, stps[0]);
    t.true(Math.abs(a - b) < 1e-5 * Math.abs(b), `${op}: ${a} vs ${b}`);
  }
  // Whole runs on a quadratic (no branchy line-search decisions): same iterates.
  const { fn, xStar } = quadratic(8, 61, 20);
  const run = async (vectorMath: 'js' | 'tf') => {
    const res = await minimizeLbfgs(fn, tf.zeros([8]), { maxIterations: 6, historySize: 3, vectorMath });
    const x = Array.from(res.x.dataSync());
    res.x.dispose();
    return x;
  };
  const viaJs = await run('js');
  const viaTf = await run('tf');
  t.true(maxAbsDiff(viaJs, viaTf) < 1e-4, `iterates differ by ${maxAbsDiff(viaJs, viaTf)}`);
  t.true(maxAbsDiff(viaTf, xStar) < 0.5, 'and they made progress');
  await import('@tensorflow/tfjs-backend-wasm');
  t.true(await tf.setBackend('wasm'));
  try {
    const wasm = await run('tf');
    t.true(maxAbsDiff(wasm, viaTf) < 1e-4, `wasm iterates differ by ${maxAbsDiff(wasm, viaTf)}`);
    const res = await minimizeLbfgs(lossAndGradOf(rosenbrock), rosenbrockStart(2), { maxIterations: 100 });
    t.true(maxAbsDiff(res.x.dataSync(), [1, 1]) < 2e-3, `wasm Rosenbrock ${res.x.dataSync()}`);
  } finally {
    await tf.setBackend('cpu');
  }
});

test.serial('createLbfgs runs step by step and reports progress', async (t) => {
  const opt = await createLbfgs(lossAndGradOf(rosenbrock), rosenbrockStart(2), { maxIterations: 3 });
  t.is(opt.iteration, 0);
  const a = await opt.step();
  t.is(a?.iteration, 1);
  t.true(a!.loss < opt.losses[0]);
  await opt.step();
  const c = await opt.step();
  t.is(c?.iteration, 3);
  t.is(opt.stopReason, 'maxIterations');
  t.is(await opt.step(), undefined);
  const res = opt.finish();
  t.is(res.iterations, 3);
  t.is(res.losses.length, 4);
  res.x.dispose();
});

test.serial('onIteration returning false, an AbortSignal, a NaN loss and a wrong gradient shape all stop cleanly', async (t) => {
  const fn = lossAndGradOf(rosenbrock);
  const stopped = await minimizeLbfgs(fn, rosenbrockStart(2), { onIteration: (info) => info.iteration < 2 });
  t.is(stopped.stopReason, 'callback');
  t.is(stopped.iterations, 2);

  const controller = new AbortController();
  const aborted = await minimizeLbfgs(fn, rosenbrockStart(2), {
    signal: controller.signal,
    onIteration: (info) => {
      if (info.iteration === 3) controller.abort();
    },
  });
  t.is(aborted.stopReason, 'aborted');
  t.is(aborted.iterations, 3);

  // Loss is NaN once x leaves [-2, 2]; a huge fixed step steps out, and the last finite x is kept.
  const fenced: LossAndGradFn = (x) => {
    const out = fn(x) as { loss: tf.Scalar; grad: tf.Tensor };
    const outside = tf.max(tf.abs(x)).dataSync()[0] > 2;
    if (outside) out.loss.dispose();
    return outside ? { loss: NaN, grad: out.grad } : out;
  };
  const nan = await minimizeLbfgs(fenced, rosenbrockStart(2), { lineSearch: 'none', learningRate: 1000 });
  t.is(nan.stopReason, 'nonFinite');
  t.true(Number.isFinite(nan.losses[nan.losses.length - 1]));
  t.true(tf.max(tf.abs(nan.x)).dataSync()[0] <= 2);

  const wrong: LossAndGradFn = () => ({ loss: 1, grad: tf.zeros([3]) });
  await t.throwsAsync(minimizeLbfgs(wrong, tf.zeros([2])), { instanceOf: ConvlabError, message: /gradient has shape \[3\], x has \[2\]/ });
  await t.throwsAsync(minimizeLbfgs(fn, tf.zeros([2]), { historySize: 0 }), { instanceOf: ConvlabError, message: /historySize/ });
});

test.serial('a starting point with zero gradient stops at once', async (t) => {
  const res = await minimizeLbfgs(lossAndGradOf(rosenbrock), tf.ones([2]));
  t.is(res.stopReason, 'gradientTolerance');
  t.is(res.iterations, 0);
});

test.serial('Adam and minimize() share the interface and converge on a quadratic', async (t) => {
  const n = 6;
  const { fn, xStar } = quadratic(n, 21);
  const adam = await adamMinimize(fn, tf.zeros([n]), { maxIterations: 400, learningRate: 0.05 });
  t.is(adam.stopReason, 'maxIterations');
  t.is(adam.losses.length, 401);
  t.true(maxAbsDiff(adam.x.dataSync(), xStar) < 2e-2, `adam error ${maxAbsDiff(adam.x.dataSync(), xStar)}`);
  const viaLbfgs = await minimize(fn, tf.zeros([n]), { optimizer: 'lbfgs', maxIterations: 20 });
  t.true(maxAbsDiff(viaLbfgs.x.dataSync(), xStar) < 1e-3);
  const viaAdam = await minimize(fn, tf.zeros([n]), { optimizer: 'adam', maxIterations: 5, learningRate: 0.1 });
  t.is(viaAdam.iterations, 5);
});

test.serial('Adam matches tf.train.adam update for update', async (t) => {
  const { fn } = quadratic(4, 31);
  const res = await adamMinimize(fn, tf.zeros([4]), { maxIterations: 10, learningRate: 0.1 });
  const v = tf.variable(tf.zeros([4]));
  const optimizer = tf.train.adam(0.1);
  for (let i = 0; i < 10; i++) {
    const { grad, loss } = await fn(v);
    (loss as tf.Tensor).dispose();
    optimizer.applyGradients([{ name: v.name, tensor: grad }]);
    grad.dispose();
  }
  t.true(maxAbsDiff(res.x.dataSync(), v.dataSync()) < 1e-5);
});
