/**
 * Optimiser overhead per L-BFGS iteration (no model: a cheap quadratic loss) for an image-sized x, with
 * a full history. Usage: npx tsx --conditions=@convlab/source tools/bench/lbfgs-overhead.ts cpu|wasm [side] [history] [auto|tf|js]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@convlab/core'; // registers tfjs-core's gradients (through tfjs-layers) and the cpu backend
import { minimizeLbfgs } from '@convlab/style';

const backend = process.argv[2] ?? 'cpu';
const side = Number(process.argv[3] ?? 512);
const history = Number(process.argv[4] ?? 100);
const vectorMath = (process.argv[5] ?? 'auto') as 'auto' | 'tf' | 'js';
await tf.setBackend(backend);
await tf.ready();
const scale = tf.randomUniform([1, side, side, 3], 0.5, 2, 'float32', 1);
const fn = (x: tf.Tensor) => tf.tidy(() => ({ loss: tf.sum(tf.mul(scale, tf.square(x))) as tf.Scalar, grad: tf.mul(tf.mul(scale, x), 2) }));
const times: number[] = [];
let last = performance.now();
const res = await minimizeLbfgs(fn, tf.randomNormal([1, side, side, 3], 0, 1, 'float32', 2), {
  maxIterations: history + 10,
  historySize: history,
  lineSearch: 'none',
  vectorMath,
  learningRate: 0.5,
  tolChange: -1,
  tolGrad: -1,
  onIteration: () => {
    const now = performance.now();
    times.push(now - last);
    last = now;
  },
});
const tail = times.slice(-10);
console.log(`${backend} (vectorMath ${vectorMath}) ${side}x${side}x3 history ${history}: ${(tail.reduce((a, b) => a + b) / tail.length).toFixed(0)} ms/iteration with a full history (${res.iterations} iterations, ${tf.memory().numTensors} tensors, ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB)`);
