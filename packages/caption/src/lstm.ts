/**
 * The LSTM step written with fused gate matmuls. The input projection of a whole sequence is one matmul
 * ([T*B, E] @ [E, 4H]) done before the time loop; each step then adds h @ W_h ([B, H] @ [H, 4H]) for all
 * four gates at once. tfjs-layers' LSTM instead runs its own per-timestep cell (see tools/bench).
 */
import { tf } from '@convlab/core';
import type { Tensor, Tensor2D } from '@convlab/core';
import { asCustom, fusedLstmCell } from './fused.js';

/**
 * a @ b for 2-D operands, with the gradient as two products with transposed operands. Backends get the
 * transposes as matmul flags: the native (oneDNN) BatchMatMul reads them in place, and @convlab/native's
 * wasm BatchMatMul turns them into one explicit transpose plus the fast untransposed product (wasm's own
 * transposed path is about 10x slower). Explicit tf.transpose calls here cost the native backend 20% of an
 * attention training batch.
 */
export const mm = tf.customGrad(asCustom((a: Tensor, b: Tensor, save: (t: Tensor[]) => void) => {
  save([a, b]);
  return {
    value: tf.matMul(a as Tensor2D, b as Tensor2D),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sa, sb] = saved as Tensor2D[];
      return [tf.matMul(dy as Tensor2D, sb, false, true), tf.matMul(sa, dy as Tensor2D, true, false)];
    },
  };
})) as unknown as (a: Tensor2D, b: Tensor2D) => Tensor2D;

/** 'fused': gate nonlinearities in one JS kernel (fused.ts); 'ops': plain tfjs ops. */
let cellImpl: 'fused' | 'ops' = 'fused';
export function setLstmCellImpl(impl: 'fused' | 'ops'): void {
  cellImpl = impl;
}

export interface LstmState {
  h: Tensor2D;
  c: Tensor2D;
}

/**
 * One step: gates = xProj + h @ Wh (+ bias already folded into xProj). Gate order i, f, g, o.
 * The forget gate gets +1 inside the sigmoid (Jozefowicz et al. 2015) so early training remembers.
 */
export function lstmStep(xProj: Tensor2D, state: LstmState, wh: Tensor2D): LstmState {
  if (cellImpl === 'fused') {
    const gates = tf.add(xProj, mm(state.h, wh)) as Tensor2D;
    const hc = fusedLstmCell(gates, state.c);
    const [h, c] = tf.split(hc, 2, 1) as Tensor2D[];
    return { h, c };
  }
  return lstmStepOps(xProj, state, wh);
}

/** The same step with one tfjs op per gate nonlinearity (reference for tests and benchmarks). */
export function lstmStepOps(xProj: Tensor2D, state: LstmState, wh: Tensor2D): LstmState {
  const gates = tf.add(xProj, mm(state.h, wh)) as Tensor2D;
  const [i, f, g, o] = tf.split(gates, 4, 1) as Tensor2D[];
  const c = tf.add(tf.mul(tf.sigmoid(tf.add(f, 1)), state.c), tf.mul(tf.sigmoid(i), tf.tanh(g))) as Tensor2D;
  const h = tf.mul(tf.sigmoid(o), tf.tanh(c)) as Tensor2D;
  return { h, c };
}

/** x [B, E] -> x @ W + b. */
export function dense(x: Tensor2D, w: Tensor2D, b?: Tensor): Tensor2D {
  const y = mm(x, w);
  return b ? (tf.add(y, b) as Tensor2D) : y;
}

/**
 * Row gather with a JS scatter-add gradient. tfjs's gather gradient is UnsortedSegmentSum, which the cpu
 * backend computes with one full pass per segment (measured: 4.5 s for one 32-caption batch); wasm has no
 * kernel for it at all. Used for embedding lookups and for picking the real (unpadded) time steps.
 */
export function gatherRows(x: Tensor2D, indices: Int32Array): Tensor2D {
  const n = x.shape[0];
  const d = x.shape[1];
  const f = tf.customGrad(asCustom((t: Tensor) => {
    const value = tf.gather(t, tf.tensor1d(indices, 'int32')) as Tensor2D;
    return {
      value,
      gradFunc: (dy: Tensor) => {
        const g = dy.dataSync() as Float32Array;
        const out = new Float32Array(n * d);
        for (let r = 0; r < indices.length; r++) {
          const src = r * d;
          const dst = indices[r] * d;
          for (let j = 0; j < d; j++) out[dst + j] += g[src + j];
        }
        return tf.tensor2d(out, [n, d]);
      },
    };
  }));
  return f(x) as Tensor2D;
}
