/** Turning encoded captions and feature rows into padded, length-bucketed training batches. */
import { tf } from '@convlab/core';
import type { Tensor, Tensor2D } from '@convlab/core';
import type { TrainBatch } from './decoders/types.js';
import { PAD_ID, START_ID } from './vocab.js';

/** Features of many images in one Float32Array: row i is data[i*rowSize, (i+1)*rowSize), shaped `shape`. */
export interface FeatureTable {
  shape: number[];
  data: Float32Array;
}

export function rowSize(table: FeatureTable): number {
  return table.shape.reduce((a, b) => a * b, 1);
}

export function featureRows(table: FeatureTable, rows: number[]): Tensor {
  const n = rowSize(table);
  const out = new Float32Array(rows.length * n);
  rows.forEach((r, i) => out.set(table.data.subarray(r * n, (r + 1) * n), i * n));
  return tf.tensor(out, [rows.length, ...table.shape]);
}

export interface Pair {
  row: number;
  /** Word ids ending with <end>. */
  ids: number[];
}

/** inputs = <start> w1..w_{T-1}; targets = w1..<end>; padded to the longest in the batch. */
export function makeBatch(table: FeatureTable, pairs: Pair[]): TrainBatch {
  const t = Math.max(...pairs.map((p) => p.ids.length));
  const b = pairs.length;
  const inputs = new Int32Array(b * t).fill(PAD_ID);
  const targets = new Int32Array(b * t).fill(PAD_ID);
  const mask = new Float32Array(b * t);
  pairs.forEach((p, i) => {
    for (let j = 0; j < p.ids.length; j++) {
      inputs[i * t + j] = j === 0 ? START_ID : p.ids[j - 1];
      targets[i * t + j] = p.ids[j];
      mask[i * t + j] = 1;
    }
  });
  return {
    features: featureRows(
      table,
      pairs.map((p) => p.row),
    ),
    inputs: tf.tensor2d(inputs, [b, t], 'int32') as Tensor2D,
    targets: tf.tensor2d(targets, [b, t], 'int32') as Tensor2D,
    mask: tf.tensor2d(mask, [b, t]) as Tensor2D,
  };
}

export function disposeBatch(batch: TrainBatch): void {
  for (const t of [batch.features, batch.inputs, batch.targets, batch.mask]) t.dispose();
}

export function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * Shuffle, then sort within windows of 50 batches by length and cut into batches, then shuffle the batch
 * order: batches hold captions of similar length (little padding) while epochs stay random.
 */
export function bucketBatches(pairs: Pair[], batchSize: number, random: () => number): Pair[][] {
  const shuffled = shuffle([...pairs], random);
  const batches: Pair[][] = [];
  const window = batchSize * 50;
  for (let w = 0; w < shuffled.length; w += window) {
    const chunk = shuffled.slice(w, w + window).sort((a, b) => a.ids.length - b.ids.length);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return shuffle(batches, random);
}
