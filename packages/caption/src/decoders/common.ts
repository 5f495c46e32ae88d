import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import type { CaptionDecoder, DecoderConfig, DecoderState } from './types.js';
import type { ParamStore } from '../params.js';
import { gatherRows, mm } from '../lstm.js';
import { softmaxCrossEntropy } from '../fused.js';

/** Masked mean cross-entropy: only real target positions are projected to the vocabulary. */
export function maskedCrossEntropy(hiddenPerStep: Tensor2D[], targets: Tensor2D, mask: Tensor2D, project: (h: Tensor2D) => Tensor2D, vocabSize: number, weights?: Float32Array): Scalar {
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
  return softmaxCrossEntropy(logits, Int32Array.from(rows, (r) => tgtAll[r]), selectWeights(weights, rows));
}

/** The per-token weights of the real (masked-in) positions, in the same order as their rows. */
export function selectWeights(weights: Float32Array | undefined, rows: number[]): Float32Array | undefined {
  return weights ? Float32Array.from(rows, (r) => weights[r]) : undefined;
}

/** Embedding lookup; any token shape. The gradient is a JS scatter-add (see gatherRows). */
export function embed(table: Tensor2D, tokens: Tensor): Tensor {
  const ids = Int32Array.from(tokens.dataSync());
  const rows = gatherRows(table, ids);
  return tokens.rank === 1 ? rows : tf.reshape(rows, [...tokens.shape, table.shape[1]]);
}

export function gatherState(state: DecoderState, rows: Tensor1D): DecoderState {
  const ids = rows.dataSync() as Int32Array;
  const out: DecoderState = {};
  for (const [k, v] of Object.entries(state)) out[k] = gatherBlocks(v, ids);
  return out;
}

/**
 * tf.gather(x, rows, axis) for decoding state (no gradient): each selected slice is one contiguous block
 * copy. tfjs's cpu GatherV2 computes every element's index, which took 1.5 ms per call for an attention
 * state ([3, 81, 256]) and most of a beam-search caption's time.
 */
export function gatherBlocks(x: Tensor, rows: ArrayLike<number>, axis = 0): Tensor {
  const shape = x.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const src = x.dataSync() as Float32Array | Int32Array;
  const out = new (src.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(outer * rows.length * inner);
  for (let j = 0; j < rows.length; j++) {
    if (!(rows[j] >= 0 && rows[j] < n)) throw new RangeError(`gather: row ${rows[j]} is outside [0, ${n})`);
  }
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < rows.length; j++) {
      const from = (o * n + rows[j]) * inner;
      out.set(src.subarray(from, from + inner), (o * rows.length + j) * inner);
    }
  }
  const outShape = [...shape];
  outShape[axis] = rows.length;
  return tf.tensor(out, outShape, x.dtype);
}

/** Dropout while training, with a seed from the decoder's parameter store (reproducible runs). */
export function maybeDropout<T extends Tensor>(x: T, rate: number, training: boolean, params: ParamStore): T {
  return training && rate > 0 ? (tf.dropout(x, rate, undefined, params.dropoutSeed()) as T) : x;
}

export { mm };

/** Register feat_mean / feat_std (identity until setFeatureStats) when the config asks for it. */
export function addFeatureStats(p: ParamStore, config: DecoderConfig): void {
  if (!config.normalizeFeatures) return;
  p.add('feat_mean', [config.featureDim], 'zeros', 0, false);
  p.add('feat_std', [config.featureDim], 'ones', 0, false);
}

/** (x - mean) / std over the last axis, if the decoder normalizes features. */
export function normalize(p: ParamStore, config: DecoderConfig, x: Tensor): Tensor {
  if (!config.normalizeFeatures) return x;
  return tf.div(tf.sub(x, p.get('feat_mean')), p.get('feat_std'));
}

/** Per-channel mean and std over the given feature rows (all grid locations for grid features). */
export function setFeatureStats(decoder: CaptionDecoder, table: { shape: number[]; data: Float32Array }, rows: number[]): void {
  if (!decoder.config.normalizeFeatures) return;
  const d = table.shape[table.shape.length - 1];
  const per = table.shape.reduce((a, b) => a * b, 1);
  const sum = new Float64Array(d);
  const sq = new Float64Array(d);
  let n = 0;
  for (const r of rows) {
    const base = r * per;
    for (let o = 0; o < per; o += d) {
      for (let j = 0; j < d; j++) {
        const v = table.data[base + o + j];
        sum[j] += v;
        sq[j] += v * v;
      }
      n++;
    }
  }
  const mean = new Float32Array(d);
  const std = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    mean[j] = sum[j] / n;
    std[j] = Math.sqrt(Math.max(sq[j] / n - mean[j] * mean[j], 0)) + 1e-3;
  }
  decoder.params.get('feat_mean').assign(tf.tensor1d(mean));
  decoder.params.get('feat_std').assign(tf.tensor1d(std));
}
