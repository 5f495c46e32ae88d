import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import type { DecoderState } from './types.js';
import { gatherRows, mm } from '../lstm.js';
import { softmaxCrossEntropy } from '../fused.js';

/** Masked mean cross-entropy: only real target positions are projected to the vocabulary. */
export function maskedCrossEntropy(hiddenPerStep: Tensor2D[], targets: Tensor2D, mask: Tensor2D, project: (h: Tensor2D) => Tensor2D, vocabSize: number): Scalar {
  const [b, t] = targets.shape;
  // [T, B, H] -> [B*T, H] in row order (b, t), matching targets.reshape([-1]).
  const hs = tf.reshape(tf.transpose(tf.stack(hiddenPerStep), [1, 0, 2]), [b * t, -1]) as Tensor2D;
  const maskValues = mask.dataSync();
  const rows: number[] = [];
  for (let i = 0; i < maskValues.length; i++) if (maskValues[i] > 0) rows.push(i);
  const idx = Int32Array.from(rows);
  const logits = project(gatherRows(hs, idx));
  const tgtAll = targets.dataSync();
  void vocabSize;
  return softmaxCrossEntropy(logits, Int32Array.from(rows, (r) => tgtAll[r]));
}

/** Embedding lookup; any token shape. The gradient is a JS scatter-add (see gatherRows). */
export function embed(table: Tensor2D, tokens: Tensor): Tensor {
  const ids = Int32Array.from(tokens.dataSync());
  const rows = gatherRows(table, ids);
  return tokens.rank === 1 ? rows : tf.reshape(rows, [...tokens.shape, table.shape[1]]);
}

export function gatherState(state: DecoderState, rows: Tensor1D): DecoderState {
  const out: DecoderState = {};
  for (const [k, v] of Object.entries(state)) out[k] = tf.gather(v, rows);
  return out;
}

export function maybeDropout<T extends Tensor>(x: T, rate: number, training: boolean): T {
  return training && rate > 0 ? (tf.dropout(x, rate) as T) : x;
}

export { mm };
