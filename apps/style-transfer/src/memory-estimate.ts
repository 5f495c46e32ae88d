/**
 * Memory a run needs, estimated before anything big is allocated, so an oversized request fails at once with
 * a size that would fit instead of thrashing or dying halfway.
 */
import { totalmem } from 'node:os';
import { ConvlabError } from '@convlab/core';
import type { FeatureNet } from './features.js';

export interface MemoryEstimate {
  bytes: number;
  limitBytes: number;
}

/**
 * Process baseline: Node, TensorFlow.js, the wasm heap, weights and the images. Calibrated on inception_v3 with
 * tools/bench/style.ts: peak RSS 1.1-1.3 GB at 256 px and 1.7-2.0 GB at 512 px, whose difference the
 * activation term below reproduces (0.63 GB).
 */
export const BASELINE_BYTES = 900e6;

/** L-BFGS history pairs kept (each pair is two image-sized vectors). */
export const LBFGS_HISTORY = 50;

/**
 * Bytes for one optimisation step at [h, w]: every activation up to the deepest layer is kept for the backward
 * pass, and the backward pass holds gradients of the same size plus temporaries (factor 3); the optimiser keeps
 * image-sized vectors (Adam 3, L-BFGS 2 per history pair + 6).
 */
export function estimateMemoryBytes(net: FeatureNet, layers: string[], size: [number, number], optimizer: 'lbfgs' | 'adam'): number {
  const activations = net.activationFloats(layers, size);
  const image = size[0] * size[1] * 3;
  const optimiserVectors = optimizer === 'lbfgs' ? 2 * LBFGS_HISTORY + 6 : 4;
  return 4 * (3 * activations + image * optimiserVectors) + BASELINE_BYTES;
}

export function defaultMemoryLimit(): number {
  return Math.floor(totalmem() * 0.8);
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** Throw a ConvlabError saying how much memory `size` would need and which size would fit. */
export function checkMemory(
  net: FeatureNet,
  layers: string[],
  dims: [number, number],
  optimizer: 'lbfgs' | 'adam',
  limitBytes = defaultMemoryLimit(),
): MemoryEstimate {
  const bytes = estimateMemoryBytes(net, layers, dims, optimizer);
  if (bytes > limitBytes) {
    const side = Math.max(...dims);
    // Activations grow with the pixel count: scale the side by the square root of the ratio.
    const fit = Math.max(net.minInputSize, Math.floor((side * Math.sqrt(Math.max(0, limitBytes - BASELINE_BYTES) / (bytes - BASELINE_BYTES))) / 16) * 16);
    throw new ConvlabError(`size ${side} px needs about ${gb(bytes)} of memory with ${net.name}, above the ${gb(limitBytes)} limit`, {
      hint: `try --size ${fit} or smaller`,
    });
  }
  return { bytes, limitBytes };
}
