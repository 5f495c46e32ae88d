import test from 'ava';
import { tf, type Tensor4D } from '@convlab/core';
import { minimize, type Objective } from '../src/optimize.js';

await tf.setBackend('cpu');

// f(x) = c * sum((x - t)^2) on 4096 "pixels": a well-conditioned quadratic whose scale c decides whether
// L-BFGS's curvature test (y.s > 1e-10) passes.
function quadratic(c: number): Objective {
  const target = tf.fill([1, 32, 32, 4], 3);
  return (x) => {
    const d = tf.sub(x, target);
    const loss = tf.sum(tf.square(d)).dataSync()[0] * c;
    const grad = tf.mul(d, 2 * c) as Tensor4D;
    d.dispose();
    return { loss, grad, parts: { total: loss, content: 0, style: loss, tv: 0 } };
  };
}

for (const c of [1, 1e-9]) {
  test(`L-BFGS converges on a quadratic scaled by ${c}`, async (t) => {
    const losses: number[] = [];
    const x = await minimize(quadratic(c), tf.zeros([1, 32, 32, 4]) as Tensor4D, {
      optimizer: 'lbfgs',
      iterations: 10,
      learningRate: 1,
      onIteration: (_, l) => void losses.push(l.total),
    });
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(x, 3))).dataSync()[0]);
    t.true(err < 1e-3, `max |x - 3| = ${err} after ${losses.length} iterations`);
  });
}
