import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { ConvlabError } from '@convlab/core';
import { totalVariationLoss } from '../src/gatys.js';
import { finiteDifferenceGrad, maxAbs, maxAbsDiff } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

// A 3x3 one-channel image:
//   1 2 4
//   0 3 3
//   5 1 2
const img = () => tf.tensor4d([1, 2, 4, 0, 3, 3, 5, 1, 2], [1, 3, 3, 1]);
const vertical = [-1, 1, -1, 5, -2, -1]; // x[i+1, j] - x[i, j]
const horizontal = [1, 2, 3, 0, -4, 1]; // x[i, j+1] - x[i, j]

test.serial('l2 and l1 sum every neighbour difference', (t) => {
  const sq = (v: number[]) => v.reduce((s, d) => s + d * d, 0);
  const ab = (v: number[]) => v.reduce((s, d) => s + Math.abs(d), 0);
  t.is(totalVariationLoss(img()).dataSync()[0], sq(vertical) + sq(horizontal));
  t.is(totalVariationLoss(img(), { kind: 'l1' }).dataSync()[0], ab(vertical) + ab(horizontal));
  t.is(totalVariationLoss(img(), { kind: 'l1', reduction: 'mean' }).dataSync()[0], Math.fround((ab(vertical) + ab(horizontal)) / 12));
  t.is(totalVariationLoss(tf.squeeze(img(), [0]) as tf.Tensor3D).dataSync()[0], sq(vertical) + sq(horizontal));
});

test.serial('beta TV sums (dx^2 + dy^2)^(beta/2) over the top-left crop', (t) => {
  // Crop pixels (0,0), (0,1), (1,0), (1,1): dy = -1, 1, 5, -2; dx = 1, 2, 3, 0.
  const energies = [1 + 1, 1 + 4, 25 + 9, 4 + 0];
  t.is(totalVariationLoss(img(), { kind: 'beta' }).dataSync()[0], energies.reduce((a, b) => a + b));
  const b1 = energies.reduce((a, e) => a + Math.sqrt(e), 0);
  t.true(Math.abs(totalVariationLoss(img(), { kind: 'beta', beta: 1 }).dataSync()[0] - b1) < 1e-4);
  t.throws(() => totalVariationLoss(img(), { kind: 'beta', beta: -1 }), { instanceOf: ConvlabError });
  t.throws(() => totalVariationLoss(tf.zeros([1, 1, 4, 3])), { instanceOf: ConvlabError, message: /at least 2x2/ });
});

test.serial('gradients match finite differences, and stay finite on flat images for beta < 2', (t) => {
  const x = tf.randomNormal([1, 4, 5, 3], 0, 1, 'float32', 1);
  for (const options of [{ kind: 'l2' as const }, { kind: 'beta' as const, beta: 1.5 }, { kind: 'l1' as const, reduction: 'mean' as const }]) {
    const f = (v: tf.Tensor) => totalVariationLoss(v, options);
    const g = tf.grad(f)(x).dataSync();
    const fd = finiteDifferenceGrad(f, x, 1e-3);
    const err = Math.max(...[...fd].map(([i, v]) => Math.abs(v - g[i])));
    t.true(err < 2e-2 * Math.max(1, maxAbs(g)), `${JSON.stringify(options)}: max error ${err}`);
  }
  const flat = tf.grad((v: tf.Tensor) => totalVariationLoss(v, { kind: 'beta', beta: 1 }))(tf.ones([1, 3, 3, 3])).dataSync();
  t.true(flat.every(Number.isFinite));
});

test.serial("jcjohnson/neural-style TVLoss's gradient is 0.5x the gradient of beta=2 TV", (t) => {
  // Port of neural_style.lua TVLoss:updateGradInput (CHW there, HWC here, strength 1).
  const [h, w, c] = [4, 5, 2];
  const x = tf.randomNormal([1, h, w, c], 0, 1, 'float32', 2);
  const v = x.dataSync();
  const at = (i: number, j: number, k: number) => v[(i * w + j) * c + k];
  const grad = new Float32Array(h * w * c);
  const add = (i: number, j: number, k: number, d: number) => (grad[(i * w + j) * c + k] += d);
  for (let i = 0; i < h - 1; i++) {
    for (let j = 0; j < w - 1; j++) {
      for (let k = 0; k < c; k++) {
        const xDiff = at(i, j, k) - at(i, j + 1, k);
        const yDiff = at(i, j, k) - at(i + 1, j, k);
        add(i, j, k, xDiff + yDiff);
        add(i, j + 1, k, -xDiff);
        add(i + 1, j, k, -yDiff);
      }
    }
  }
  const ours = tf.grad((u: tf.Tensor) => tf.mul(0.5, totalVariationLoss(u, { kind: 'beta', beta: 2 })))(x).dataSync();
  t.true(maxAbsDiff(ours, grad) < 1e-5);
});
