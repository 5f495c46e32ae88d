import test from 'ava';
import { tf, type Tensor, type Tensor4D } from '@convlab/core';
import { NO_LINE_SEARCH, minimize, type LossAndGradFn } from '../src/optimizers/index.js';
import { LBFGS_HISTORY } from '../src/memory-estimate.js';

await tf.setBackend('cpu');

// f(x) = c * sum((x - t)^2) on 4096 "pixels": a well-conditioned quadratic whose scale c decides whether
// L-BFGS's curvature test (y.s > 1e-10) passes.
function quadratic(c: number): LossAndGradFn {
  const target = tf.fill([1, 32, 32, 4], 3);
  return (x: Tensor) => {
    const d = tf.sub(x, target);
    const loss = tf.sum(tf.square(d)).dataSync()[0] * c;
    const grad = tf.mul(d, 2 * c) as Tensor4D;
    d.dispose();
    return { loss, grad };
  };
}

for (const c of [1, 1e-9]) {
  test(`L-BFGS with stylize's settings converges on a quadratic scaled by ${c}`, async (t) => {
    const losses: number[] = [];
    const x0 = tf.zeros([1, 32, 32, 4]);
    const { x } = await minimize(quadratic(c), x0, {
      optimizer: 'lbfgs',
      ...NO_LINE_SEARCH,
      maxIterations: 10,
      maxEvaluations: 11,
      historySize: LBFGS_HISTORY,
      learningRate: 1,
      rescaleSmallGradients: true,
      onIteration: (info) => void losses.push(info.loss),
    });
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(x, 3))).dataSync()[0]);
    t.true(err < 1e-3, `max |x - 3| = ${err} after ${losses.length} iterations`);
    t.is(tf.max(tf.abs(x0)).dataSync()[0], 0, 'x0 stays the caller\'s, untouched');
  });
}

test('without rescaling, tiny gradients stall L-BFGS (why stylize rescales)', async (t) => {
  const { x } = await minimize(quadratic(1e-9), tf.zeros([1, 32, 32, 4]), { optimizer: 'lbfgs', ...NO_LINE_SEARCH, maxIterations: 10, maxEvaluations: 11, learningRate: 1 });
  const err = tf.tidy(() => tf.max(tf.abs(tf.sub(x, 3))).dataSync()[0]);
  t.true(err > 1e-3, `max |x - 3| = ${err}`);
});
