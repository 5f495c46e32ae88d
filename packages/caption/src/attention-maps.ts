/**
 * Per-word attention strips (Xu et al. 2015, Fig. 3 style): the image, then one panel per generated word
 * with that step's attention weights over the feature grid upsampled and overlaid.
 */
import { drawGrid, overlayHeatmap } from '@convlab/core';
import type { RgbImage } from '@convlab/core';

export interface WordAttention {
  word: string;
  /** Row-major weights over the [gridHeight x gridWidth] feature grid, summing to 1. */
  weights: Float32Array;
}

/** One word's attention over the [gridHeight, gridWidth] grid, upsampled and overlaid on the image (viridis, 0..its max). */
export async function attentionOverlay(image: RgbImage, weights: Float32Array, grid: [number, number]): Promise<RgbImage> {
  const [gh, gw] = grid;
  const max = weights.reduce((a, b) => Math.max(a, b), 0);
  return overlayHeatmap(image, { values: weights, width: gw, height: gh }, { alpha: 0.6, colormap: 'viridis', range: [0, Math.max(max, 1e-6)] });
}

export async function attentionStrip(image: RgbImage, words: WordAttention[], grid: [number, number], options: { columns?: number; cellSize?: number; title?: string } = {}): Promise<RgbImage> {
  const cells = [{ image, label: 'input' }];
  for (const w of words) cells.push({ image: await attentionOverlay(image, w.weights, grid), label: w.word });
  return drawGrid(cells, { columns: options.columns ?? Math.min(cells.length, 6), cellSize: options.cellSize ?? 160, title: options.title });
}
