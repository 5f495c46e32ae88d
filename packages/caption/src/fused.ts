/**
 * Two fused kernels written in plain TypeScript with hand-derived gradients. The decoder's tensors are
 * small (a batch of 64 x 4*256 gates), so per-kernel dispatch dominates: one JS pass replaces the dozen
 * tfjs kernels (split, 3 sigmoid, 2 tanh, mul, add ...) of an LSTM cell and the ~25 of its gradient, and a
 * softmax cross-entropy whose gradient is simply softmax - onehot.
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor2D } from '@convlab/core';

/** tf.customGrad's parameter type merges inputs and the save function; accept plainly typed functions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function asCustom(fn: (...args: any[]) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[] }): Parameters<typeof tf.customGrad>[0] {
  return fn as unknown as Parameters<typeof tf.customGrad>[0];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * LSTM cell nonlinearity: gates [B, 4H] (order i, f, g, o; +1 forget bias) and c [B, H] -> [h | c] as
 * [B, 2H]. Same maths as lstm.ts lstmStep after its matmuls.
 */
export function fusedLstmCell(gates: Tensor2D, cPrev: Tensor2D): Tensor2D {
  const [b, h4] = gates.shape;
  const h = h4 / 4;
  const f = tf.customGrad(asCustom((g: Tensor, cp: Tensor) => {
    const G = g.dataSync() as Float32Array;
    const C = cp.dataSync() as Float32Array;
    const out = new Float32Array(b * 2 * h);
    // Saved activations for the backward pass.
    const si = new Float32Array(b * h);
    const sf = new Float32Array(b * h);
    const sg = new Float32Array(b * h);
    const so = new Float32Array(b * h);
    const st = new Float32Array(b * h);
    for (let r = 0; r < b; r++) {
      const go = r * h4;
      for (let j = 0; j < h; j++) {
        const k = r * h + j;
        const i = sigmoid(G[go + j]);
        const fg = sigmoid(G[go + h + j] + 1);
        const gg = Math.tanh(G[go + 2 * h + j]);
        const o = sigmoid(G[go + 3 * h + j]);
        const c = fg * C[k] + i * gg;
        const tc = Math.tanh(c);
        si[k] = i;
        sf[k] = fg;
        sg[k] = gg;
        so[k] = o;
        st[k] = tc;
        out[r * 2 * h + j] = o * tc;
        out[r * 2 * h + h + j] = c;
      }
    }
    return {
      value: tf.tensor2d(out, [b, 2 * h]),
      gradFunc: (dy: Tensor) => {
        const D = dy.dataSync() as Float32Array;
        const dG = new Float32Array(b * h4);
        const dC = new Float32Array(b * h);
        for (let r = 0; r < b; r++) {
          const go = r * h4;
          for (let j = 0; j < h; j++) {
            const k = r * h + j;
            const dh = D[r * 2 * h + j];
            const i = si[k];
            const fg = sf[k];
            const gg = sg[k];
            const o = so[k];
            const tc = st[k];
            const dc = D[r * 2 * h + h + j] + dh * o * (1 - tc * tc);
            dG[go + j] = dc * gg * i * (1 - i);
            dG[go + h + j] = dc * C[k] * fg * (1 - fg);
            dG[go + 2 * h + j] = dc * i * (1 - gg * gg);
            dG[go + 3 * h + j] = dh * tc * o * (1 - o);
            dC[k] = dc * fg;
          }
        }
        return [tf.tensor2d(dG, [b, h4]), tf.tensor2d(dC, [b, h])];
      },
    };
  }));
  return f(gates, cPrev) as Tensor2D;
}

/**
 * Mean over rows of -log softmax(logits)[target]; logits [N, V], targets N word ids. With `weights` (one per
 * row) each row's term is scaled first: policy-gradient training (SCST) passes the sample's advantage.
 */
export function softmaxCrossEntropy(logits: Tensor2D, targets: Int32Array, weights?: Float32Array): Scalar {
  const [n, v] = logits.shape;
  const f = tf.customGrad(asCustom((x: Tensor) => {
    const L = x.dataSync() as Float32Array;
    const P = new Float32Array(n * v);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      const o = r * v;
      let max = -Infinity;
      for (let j = 0; j < v; j++) if (L[o + j] > max) max = L[o + j];
      let sum = 0;
      for (let j = 0; j < v; j++) {
        const e = Math.exp(L[o + j] - max);
        P[o + j] = e;
        sum += e;
      }
      for (let j = 0; j < v; j++) P[o + j] /= sum;
      loss -= (weights ? weights[r] : 1) * Math.log(Math.max(P[o + targets[r]], 1e-30));
    }
    return {
      value: tf.scalar(loss / n),
      gradFunc: (dy: Tensor) => {
        const s = (dy.dataSync() as Float32Array)[0] / n;
        const g = new Float32Array(n * v);
        for (let r = 0; r < n; r++) {
          const sr = weights ? s * weights[r] : s;
          const o = r * v;
          for (let j = 0; j < v; j++) g[o + j] = P[o + j] * sr;
          g[o + targets[r]] -= sr;
        }
        return tf.tensor2d(g, [n, v]);
      },
    };
  }));
  return f(logits) as Scalar;
}
