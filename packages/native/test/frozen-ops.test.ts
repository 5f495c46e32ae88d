/** frozenConv2d: same values as conv2d + bias + activation, and the same input gradient as autodiff. */
import test from 'ava';
import { frozenConv2d } from '../src/index.js';
import { TOLERANCE, rand, relErr, tf } from './helpers.js';

test('frozenConv2d matches plain ops in value and input gradient (cpu kernels)', async (t) => {
  await tf.setBackend('cpu');
  const x = rand([2, 11, 9, 4], -2, 2) as tf.Tensor4D;
  const w = rand([3, 3, 4, 6]) as tf.Tensor4D;
  const b = rand([6]) as tf.Tensor1D;
  for (const activation of ['linear', 'relu', 'relu6'] as const) {
    for (const strides of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        const plain = (z: tf.Tensor) => {
          const y = tf.add(tf.conv2d(z as tf.Tensor4D, w, strides, pad), b);
          return activation === 'relu' ? tf.relu(y) : activation === 'relu6' ? tf.relu6(y) : y;
        };
        const frozen = (z: tf.Tensor) => frozenConv2d(z as tf.Tensor4D, w, b, { strides, pad, activation });
        // Scale so relu6 saturates for part of the inputs.
        const loss = (f: (z: tf.Tensor) => tf.Tensor) => (z: tf.Tensor) => tf.sum(tf.square(tf.mul(f(z), 3)));
        const label = `${activation} stride ${strides} ${pad}`;
        t.true(relErr(frozen(x), plain(x)) <= TOLERANCE, `value ${label}`);
        t.true(relErr(tf.grad(loss(frozen))(x), tf.grad(loss(plain))(x)) <= TOLERANCE, `gradient ${label}`);
      }
    }
  }
});
