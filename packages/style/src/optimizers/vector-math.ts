/**
 * The vector arithmetic of L-BFGS (dot products, norms, x + t d, the two-loop recursion) in two forms:
 * 'tf' runs tf ops on the active backend (right for GPU / libtensorflow backends, and for wasm);
 * 'js' loops over the tensors' data in plain JavaScript with float64 accumulation, for tfjs's 'cpu'
 * backend (which 'native' also runs on): there each tf op allocates and makes a generic pass, and the
 * two-loop recursion's ~4 * historySize ops dominate. Per L-BFGS iteration at 512x512x3 with a full
 * history of 100 pairs and a cheap quadratic loss (tools/bench/lbfgs-overhead.ts; 2 cores shared with other
 * jobs, load ~13, so absolute times are inflated):
 *   cpu  'tf' 5.8-6.5 s    cpu  'js' 0.35 s (0.14 s with a history of 1)
 *   wasm 'tf' 0.15-0.23 s  wasm 'js' 0.69 s (before axpy/sub/scale moved to JS too)
 */
import { tf, type Scalar, type Tensor } from '@convlab/core';

export type VectorMathKind = 'tf' | 'js';

export interface VectorMath {
  kind: VectorMathKind;
  dot(a: Tensor, b: Tensor): Promise<number>;
  maxAbs(a: Tensor): Promise<number>;
  sumAbs(a: Tensor): Promise<number>;
  /** x + t * d, a new tensor. */
  axpy(x: Tensor, t: number, d: Tensor): Tensor;
  /** a - b, a new tensor. */
  sub(a: Tensor, b: Tensor): Tensor;
  /** t * a, a new tensor. */
  scale(a: Tensor, t: number): Tensor;
  /** d = -H g by the two-loop recursion over pairs (s_i, y_i), rho_i = 1 / (y_i . s_i), H0 = hDiag * I. */
  direction(g: Tensor, stps: Tensor[], dirs: Tensor[], ro: number[], hDiag: number): Tensor;
}

async function readScalar(t: Tensor): Promise<number> {
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

const tfDot = (a: Tensor, b: Tensor): Scalar => tf.tidy(() => tf.sum(tf.mul(a, b)));

export const tfVectorMath: VectorMath = {
  kind: 'tf',
  dot: (a, b) => readScalar(tfDot(a, b)),
  maxAbs: (a) => readScalar(tf.tidy(() => tf.max(tf.abs(a)))),
  sumAbs: (a) => readScalar(tf.tidy(() => tf.sum(tf.abs(a)))),
  axpy: (x, t, d) => tf.tidy(() => tf.add(x, tf.mul(d, t))),
  sub: (a, b) => tf.sub(a, b),
  scale: (a, t) => tf.mul(a, t),
  direction: (g, stps, dirs, ro, hDiag) =>
    tf.tidy(() => {
      let q = tf.neg(g);
      const al: Tensor[] = new Array(dirs.length);
      for (let i = dirs.length - 1; i >= 0; i--) {
        al[i] = tf.mul(tfDot(stps[i], q), ro[i]);
        q = tf.sub(q, tf.mul(dirs[i], al[i]));
      }
      let r = tf.mul(q, hDiag);
      for (let i = 0; i < dirs.length; i++) {
        const be = tf.mul(tfDot(dirs[i], r), ro[i]);
        r = tf.add(r, tf.mul(stps[i], tf.sub(al[i], be)));
      }
      return r;
    }),
};

/** The tensor's values; on the cpu backend this is its own storage (no copy): read only. */
const values = (t: Tensor) => t.dataSync() as Float32Array;

function dotArrays(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let acc = 0;
  for (let k = 0; k < a.length; k++) acc += a[k] * b[k];
  return acc;
}

export const jsVectorMath: VectorMath = {
  kind: 'js',
  dot: async (a, b) => dotArrays(values(a), values(b)),
  maxAbs: async (a) => {
    const v = values(a);
    let m = 0;
    for (let k = 0; k < v.length; k++) {
      const x = Math.abs(v[k]);
      if (x > m || Number.isNaN(x)) m = x;
    }
    return m;
  },
  sumAbs: async (a) => {
    const v = values(a);
    let acc = 0;
    for (let k = 0; k < v.length; k++) acc += Math.abs(v[k]);
    return acc;
  },
  axpy: (x, t, d) => {
    const xv = values(x);
    const dv = values(d);
    const out = new Float32Array(xv.length);
    for (let k = 0; k < out.length; k++) out[k] = xv[k] + t * dv[k];
    return tf.tensor(out, x.shape, 'float32');
  },
  sub: (a, b) => {
    const av = values(a);
    const bv = values(b);
    const out = new Float32Array(av.length);
    for (let k = 0; k < out.length; k++) out[k] = av[k] - bv[k];
    return tf.tensor(out, a.shape, 'float32');
  },
  scale: (a, t) => {
    const av = values(a);
    const out = new Float32Array(av.length);
    for (let k = 0; k < out.length; k++) out[k] = t * av[k];
    return tf.tensor(out, a.shape, 'float32');
  },
  direction: (g, stps, dirs, ro, hDiag) => {
    // The two-loop recursion with each update fused with the next dot product: 2m + 3 passes over
    // the data instead of 4m + 2.
    const m = dirs.length;
    const gv = values(g);
    const n = gv.length;
    const q = new Float64Array(n);
    for (let k = 0; k < n; k++) q[k] = -gv[k];
    const al = new Array<number>(m);
    let sq = m > 0 ? dotArrays(values(stps[m - 1]), q) : 0;
    for (let i = m - 1; i >= 0; i--) {
      const a = (al[i] = sq * ro[i]);
      const y = values(dirs[i]);
      if (i > 0) {
        const sNext = values(stps[i - 1]);
        let acc = 0;
        for (let k = 0; k < n; k++) {
          const v = q[k] - a * y[k];
          q[k] = v;
          acc += sNext[k] * v;
        }
        sq = acc;
      } else {
        for (let k = 0; k < n; k++) q[k] -= a * y[k];
      }
    }
    // r = H0 q, then the second loop; q holds r from here on.
    const y0 = m > 0 ? values(dirs[0]) : undefined;
    let yr = 0;
    for (let k = 0; k < n; k++) {
      const v = q[k] * hDiag;
      q[k] = v;
      if (y0) yr += y0[k] * v;
    }
    for (let i = 0; i < m; i++) {
      const c = al[i] - yr * ro[i];
      const s = values(stps[i]);
      if (i < m - 1) {
        const yNext = values(dirs[i + 1]);
        let acc = 0;
        for (let k = 0; k < n; k++) {
          const v = q[k] + c * s[k];
          q[k] = v;
          acc += yNext[k] * v;
        }
        yr = acc;
      } else {
        for (let k = 0; k < n; k++) q[k] += c * s[k];
      }
    }
    return tf.tensor(Float32Array.from(q), g.shape, 'float32');
  },
};

/** 'js' on tfjs's cpu backend (and convlab's native backend, which is the cpu backend with native kernels), 'tf' elsewhere. */
export function vectorMathFor(kind: VectorMathKind | 'auto' = 'auto'): VectorMath {
  if (kind === 'tf') return tfVectorMath;
  if (kind === 'js') return jsVectorMath;
  return tf.getBackend() === 'cpu' ? jsVectorMath : tfVectorMath;
}
