/** Test helpers: finite-difference gradients and small comparisons. */
import * as tf from '@tensorflow/tfjs-core';
import '@convlab/core'; // registers tfjs-core's gradients (through tfjs-layers)

/** Central finite differences of f at x (float64 in JS, f evaluated through tf). */
export function finiteDifferenceGrad(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, eps = 1e-2, indices?: number[]): Map<number, number> {
  const base = x.dataSync().slice();
  const out = new Map<number, number>();
  for (const i of indices ?? base.map((_, k) => k)) {
    const probe = (delta: number) =>
      tf.tidy(() => {
        const v = base.slice();
        v[i] += delta;
        return f(tf.tensor(v, x.shape)).dataSync()[0];
      });
    out.set(i, (probe(eps) - probe(-eps)) / (2 * eps));
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
