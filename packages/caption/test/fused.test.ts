import test from 'ava';
import { tf, initEngine } from '@convlab/core';
import type { Tensor, Tensor2D } from '@convlab/core';
import { fusedLstmCell, softmaxCrossEntropy, lstmStepOps, gatherRows, mm } from '../src/index.js';
import { lstmStep, setLstmCellImpl } from '../src/lstm.js';

test.before(async () => {
  await initEngine({ backend: 'cpu', log: false });
});

function close(t: { true: (v: boolean, m?: string) => void }, a: Tensor, b: Tensor, tol = 1e-5, what = '') {
  const x = a.dataSync();
  const y = b.dataSync();
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  t.true(max < tol, `${what} max diff ${max}`);
}

test('fused LSTM step equals the tfjs-ops step in value and gradient', (t) => {
  setLstmCellImpl('fused');
  const [b, e, h] = [3, 5, 4];
  const x = tf.randomNormal([b, 4 * h], 0, 1, 'float32', 1) as Tensor2D;
  const h0 = tf.randomNormal([b, h], 0, 1, 'float32', 2) as Tensor2D;
  const c0 = tf.randomNormal([b, h], 0, 1, 'float32', 3) as Tensor2D;
  const wh = tf.randomNormal([h, 4 * h], 0, 0.5, 'float32', 4) as Tensor2D;
  void e;
  // Two steps so gradients flow through c and h of the first.
  const loss = (step: typeof lstmStep) => (xx: Tensor, hh: Tensor, cc: Tensor, ww: Tensor) => {
    const s1 = step(xx as Tensor2D, { h: hh as Tensor2D, c: cc as Tensor2D }, ww as Tensor2D);
    const s2 = step(xx as Tensor2D, s1, ww as Tensor2D);
    return tf.add(tf.sum(tf.mul(s2.h, tf.reshape(tf.range(0, b * h), [b, h]))), tf.sum(tf.square(s2.c)));
  };
  const g1 = tf.grads(loss(lstmStep))([x, h0, c0, wh]);
  const g2 = tf.grads(loss(lstmStepOps))([x, h0, c0, wh]);
  close(t, loss(lstmStep)(x, h0, c0, wh), loss(lstmStepOps)(x, h0, c0, wh), 1e-4, 'loss');
  g1.forEach((g, i) => close(t, g, g2[i], 1e-4, `grad ${i}`));
  const hc = fusedLstmCell(x, c0);
  t.deepEqual(hc.shape, [b, 2 * h]);
});

test('softmax cross-entropy equals -mean log softmax at the targets, gradient softmax - onehot', (t) => {
  const logits = tf.randomNormal([4, 7], 0, 2, 'float32', 5) as Tensor2D;
  const targets = Int32Array.from([0, 3, 6, 2]);
  const ref = (l: Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l as Tensor2D), tf.oneHot(tf.tensor1d(targets, 'int32'), 7)), 1)));
  close(t, softmaxCrossEntropy(logits, targets), ref(logits), 1e-5, 'value');
  close(t, tf.grad((l: Tensor) => softmaxCrossEntropy(l as Tensor2D, targets))(logits), tf.grad(ref)(logits), 1e-5, 'grad');
});

test('gatherRows and mm have the same gradients as tf.gather and tf.matMul', (t) => {
  const a = tf.randomNormal([5, 3], 0, 1, 'float32', 6) as Tensor2D;
  const w = tf.randomNormal([3, 4], 0, 1, 'float32', 7) as Tensor2D;
  const idx = Int32Array.from([4, 0, 4, 2]);
  const f1 = (x: Tensor, y: Tensor) => tf.sum(tf.square(mm(gatherRows(x as Tensor2D, idx), y as Tensor2D)));
  const f2 = (x: Tensor, y: Tensor) => tf.sum(tf.square(tf.matMul(tf.gather(x, tf.tensor1d(idx, 'int32')) as Tensor2D, y as Tensor2D)));
  const g1 = tf.grads(f1)([a, w]);
  const g2 = tf.grads(f2)([a, w]);
  g1.forEach((g, i) => close(t, g, g2[i], 1e-4, `grad ${i}`));
});
