/**
 * Which matMul form computes a Gram matrix fastest on a backend, forward and forward+gradient.
 * Usage: npx tsx --conditions=@convlab/source tools/bench/gram-forms.ts wasm|cpu|native [h w c]
 */
import { initEngine, tf, type Tensor, type Tensor2D } from '@convlab/core';
import { gramMatrix } from '@convlab/style';

const [h, w, c] = process.argv.length >= 6 ? process.argv.slice(3, 6).map(Number) : [128, 128, 256];
const { backend } = await initEngine({ backend: process.argv[2] ?? 'wasm' });
const F = tf.randomNormal([h * w, c]) as Tensor2D;
const Ft = tf.transpose(F) as Tensor2D;
const x = tf.randomNormal([1, h, w, c]);
const forward: Record<string, () => Tensor> = {
  'matMul(F, F, transposeA=true)': () => tf.matMul(F, F, true, false),
  'matMul(Ft, Ft, false, transposeB=true)': () => tf.matMul(Ft, Ft, false, true),
  'matMul(transpose(F), F)': () => tf.tidy(() => tf.matMul(tf.transpose(F), F)),
  'matMul(Ft, transpose(Ft))': () => tf.tidy(() => tf.matMul(Ft, tf.transpose(Ft))),
  'gramMatrix (convlab)': () => gramMatrix(x, { normalize: 'none' }),
};
const withGrad: Record<string, () => Tensor> = {
  'grad autodiff matMul(F, F, transposeA=true)': () =>
    tf.grad((f: Tensor) => tf.sum(tf.square(tf.matMul(tf.reshape(f, [h * w, c]) as Tensor2D, tf.reshape(f, [h * w, c]) as Tensor2D, true))))(x),
  'grad autodiff matMul(transpose(F), F)': () =>
    tf.grad((f: Tensor) => {
      const m = tf.reshape(f, [h * w, c]) as Tensor2D;
      return tf.sum(tf.square(tf.matMul(tf.transpose(m), m)));
    })(x),
  'grad gramMatrix (convlab, custom gradient)': () => tf.grad((f: Tensor) => tf.sum(tf.square(gramMatrix(f, { normalize: 'none' }))))(x),
};
function time(name: string, fn: () => Tensor, reps: number) {
  const warm = fn();
  warm.dataSync();
  warm.dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = fn();
    r.dataSync();
    r.dispose();
  }
  console.log(`${backend}\t${h}x${h}x${c}\t${name}\t${((performance.now() - t0) / reps).toFixed(1)} ms`);
}
for (const [name, fn] of Object.entries(forward)) time(name, fn, 3);
for (const [name, fn] of Object.entries(withGrad)) time(name, fn, 2);
