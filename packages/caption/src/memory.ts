/**
 * Memory a caption training run needs, estimated from the feature cache's index and the flags before the
 * cache is read or a tensor is allocated, so an oversized run fails at once with the flag to change instead
 * of dying halfway with a V8 out-of-memory trace (`train --batch -1` used to).
 *
 *   features     rows x (pooledDim [+ gridCells x channels]) float32: the whole cache is held in memory
 *                (the grid is float16 on disk, float32 here), plus one copy of the pooled block while reading
 *   parameters   P x 4 bytes x 8: weights, Adam's two moments, gradients, clipped gradients, and the
 *                float32 copies a checkpoint (weights + Adam state) is encoded from
 *   activations  what tf.variableGrads keeps for one batch, times 2 for the backward pass's gradients of the
 *                same size (B' = batch, or batch x samples for SCST; T = max length + 1 with <end>):
 *                  Show and Tell:  B'F + (T+1)B'(E + 4H + 7H) + 3 B'T V
 *                  attention:      3 B'LD + 2 B'LH + 2 B'LA + T B'(2LA + 3L + 13H + 3E) + 3 B'T V
 *                (7H: gates, cell, tanh(cell), hidden per LSTM step; 3V: logits, softmax, its gradient per
 *                real token; 2LA: the attention MLP before and after tanh per step)
 *   baseline     Node, TensorFlow.js and its backend, the dataset's captions: 400 MB
 *
 * Checked against peak RSS (native backend, one epoch on 704 Flickr8k images, InceptionV3 mixed6 9x9 grid,
 * vocabulary 2544, 256 units): attention batch 64 estimated 1.3 GB, measured 1.18 GB; Show and Tell batch 64
 * estimated 564 MB, measured 447 MB; batch 512 estimated 1.2 GB, measured 1.02 GB. It errs high by 10-25%.
 */
import { checkMemoryEstimate, ConvlabError, formatBytes } from '@convlab/core';
import type { DecoderConfig, DecoderKind } from './decoders/types.js';

export const TRAIN_BASELINE_BYTES = 400e6;

/** Number of weights a decoder of this configuration has (what ParamStore.count() reports after creation). */
export function decoderParamCount(c: Pick<DecoderConfig, 'kind' | 'vocabSize' | 'featureDim' | 'embedDim' | 'hiddenDim' | 'attentionDim' | 'normalizeFeatures'>): number {
  const { vocabSize: v, featureDim: f, embedDim: e, hiddenDim: h } = c;
  const stats = c.normalizeFeatures ? 2 * f : 0;
  if (c.kind === 'show-tell') return stats + f * e + e + v * e + e * 4 * h + h * 4 * h + 4 * h + h * v + v;
  const a = c.attentionDim ?? h;
  return stats + f * h + h + 2 * (h * h + h) + 2 * h * a + 2 * a + h + 1 + v * e + e * 4 * h + 2 * h * 4 * h + 4 * h + 2 * h * e + e * v + v;
}

export interface TrainMemoryInput {
  kind: DecoderKind;
  /** Rows of the feature cache (all images, every split). */
  images: number;
  pooledDim: number;
  /** Grid [h, w, c]; loaded only for the attention decoder. */
  gridShape: [number, number, number];
  vocabSize: number;
  embedDim: number;
  hiddenDim: number;
  attentionDim?: number;
  batchSize: number;
  /** SCST: sampled captions per image (each is a row of the batch). */
  samples?: number;
  maxLength: number;
}

export interface TrainMemoryEstimate {
  bytes: number;
  parts: { features: number; parameters: number; activations: number; baseline: number };
  /** The flag that lowers the largest part. */
  dominant: 'features' | 'parameters' | 'activations';
}

export function estimateTrainingMemory(m: TrainMemoryInput): TrainMemoryEstimate {
  const [gh, gw, gc] = m.gridShape;
  const attention = m.kind === 'show-attend-tell';
  const l = gh * gw;
  const d = attention ? gc : m.pooledDim;
  const rowFloats = m.pooledDim + (attention ? l * gc : 0);
  const features = 4 * (m.images * rowFloats + m.images * m.pooledDim);
  const params = decoderParamCount({ kind: m.kind, vocabSize: m.vocabSize, featureDim: d, embedDim: m.embedDim, hiddenDim: m.hiddenDim, attentionDim: m.attentionDim, normalizeFeatures: true });
  const parameters = 4 * 8 * params;
  const b = m.batchSize * (m.samples ?? 1);
  const t = m.maxLength + 1;
  const { embedDim: e, hiddenDim: h, vocabSize: v } = m;
  const a = m.attentionDim ?? h;
  const forward = attention
    ? 3 * b * l * d + 2 * b * l * h + 2 * b * l * a + t * b * (2 * l * a + 3 * l + 13 * h + 3 * e) + 3 * b * t * v
    : b * d + (t + 1) * b * (e + 11 * h) + 3 * b * t * v;
  const activations = 4 * 2 * forward;
  const parts = { features, parameters, activations, baseline: TRAIN_BASELINE_BYTES };
  const dominant = features >= parameters && features >= activations ? 'features' : parameters >= activations ? 'parameters' : 'activations';
  return { bytes: features + parameters + activations + TRAIN_BASELINE_BYTES, parts, dominant };
}

/** One line for the log: "about 2.3 GB (features 2.0 GB, parameters 61 MB, batch 180 MB)". */
export function describeTrainingMemory(est: TrainMemoryEstimate): string {
  const p = est.parts;
  return `about ${formatBytes(est.bytes)} (features ${formatBytes(p.features)}, model + Adam ${formatBytes(p.parameters)}, one batch ${formatBytes(p.activations)})`;
}

/**
 * Refuse a training run whose estimate is above the memory budget (checkMemoryEstimate: 80% of the machine
 * or CONVLAB_MAX_MEMORY_GB), naming the flag that lowers its largest part.
 */
export function checkTrainingMemory(est: TrainMemoryEstimate, objective: 'xe' | 'scst' = 'xe', budgetBytes?: number): void {
  const flag = est.dominant === 'activations' ? (objective === 'scst' ? '--batch or --samples' : '--batch') : est.dominant === 'parameters' ? '--hidden and --embed (or raise --min-count for a smaller vocabulary)' : '--features';
  try {
    checkMemoryEstimate(est.bytes, `training (${describeTrainingMemory(est)})`, flag, budgetBytes);
  } catch (err) {
    if (err instanceof ConvlabError && est.dominant === 'features') {
      throw new ConvlabError(err.message, {
        hint: 'the feature cache is held in memory: extract it with a larger --grid-pool or for fewer images (or set CONVLAB_MAX_MEMORY_GB if the estimate is wrong for this machine)',
      });
    }
    throw err;
  }
}
