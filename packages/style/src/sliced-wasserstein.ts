/**
 * Sliced-Wasserstein style loss: Heitz, Vanhoey, Chambon & Belcour, "A sliced Wasserstein loss for neural
 * texture synthesis" (CVPR 2021). Instead of matching Gram matrices (second moments) it matches the whole
 * distribution of a layer's features F [M, N] to the style's F^ [M, N] through 1-D optimal transport along
 * random unit directions V_k:
 *
 *   L_SW(F, F^) = 1/K sum_k 1/M sum_m ( sort(F V_k)_m - sort(F^ V_k)_m )^2
 *
 * The style's sorted projections (its quantile function per direction) are computed once and resampled to
 * the image's M positions; several styles blend their quantile functions (the 1-D Wasserstein barycenter).
 * Each layer's loss is divided by the mean variance of the target projections ('target' normalisation).
 */
import { tf, type Tensor } from '@convlab/core';
import type { StyleTermFactory } from './gatys.js';

/** Features [1, h, w, c] (or [h, w, c]) -> [h*w, c]. */
export function flattenFeatures(f: Tensor): Tensor {
  const c = f.shape[f.shape.length - 1];
  return tf.reshape(f, [-1, c]);
}

/** Seeded random unit directions [c, k] for the projections. */
export function randomDirections(c: number, k: number, seed: number): Tensor {
  return tf.tidy(() => {
    const v = tf.randomNormal([c, k], 0, 1, 'float32', seed);
    return tf.div(v, tf.norm(v, 'euclidean', 0, true));
  });
}

/**
 * Sorted projections of style features onto the directions, resampled to n quantiles: [k][n] as Float32Arrays.
 * This is the style's 1-D distribution per direction (its quantile function).
 */
export function styleQuantiles(f: Tensor, directions: Tensor, n: number): Float32Array[] {
  const proj = tf.tidy(() => tf.matMul(flattenFeatures(f), directions));
  const [m, k] = proj.shape as [number, number];
  const values = proj.dataSync() as Float32Array;
  proj.dispose();
  const out: Float32Array[] = [];
  const col = new Float32Array(m);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < m; i++) col[i] = values[i * k + j];
    col.sort();
    out.push(resampleSorted(col, n));
  }
  return out;
}

/** Resample a sorted array of length m to n quantiles (linear interpolation at (i + 0.5) / n). */
export function resampleSorted(sorted: Float32Array, n: number): Float32Array {
  const m = sorted.length;
  if (m === n) return Float32Array.from(sorted);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pos = ((i + 0.5) * m) / n - 0.5;
    const lo = Math.min(m - 1, Math.max(0, Math.floor(pos)));
    const hi = Math.min(m - 1, lo + 1);
    const t = Math.min(1, Math.max(0, pos - lo));
    out[i] = sorted[lo] * (1 - t) + sorted[hi] * t;
  }
  return out;
}

/** Blend quantile functions: the 1-D Wasserstein barycenter of the styles, per direction. */
export function blendQuantiles(sets: Float32Array[][], weights: number[]): Float32Array[] {
  return sets[0].map((_, j) => {
    const out = new Float32Array(sets[0][j].length);
    sets.forEach((set, i) => {
      const w = weights[i];
      const q = set[j];
      for (let t = 0; t < out.length; t++) out[t] += w * q[t];
    });
    return out;
  });
}

/** Mean variance of the target projections: the loss normaliser ('target'). */
export function quantileNormaliser(quantiles: Float32Array[]): number {
  let total = 0;
  for (const q of quantiles) {
    let mean = 0;
    for (const v of q) mean += v;
    mean /= q.length;
    let s = 0;
    for (const v of q) s += (v - mean) * (v - mean);
    total += s / q.length;
  }
  return Math.max(total / quantiles.length, 1e-12);
}

/**
 * L_SW of one layer. Sorting is done on the values outside the graph: the loss equals mean (P - T)^2 where T
 * puts the style quantile of each element's rank at its place, and its gradient is the same as that of the
 * sorted form (ranks are locally constant), so no gather/sort gradient is needed.
 */
export function slicedWassersteinLoss(f: Tensor, directions: Tensor, quantiles: Float32Array[], normaliser: number): Tensor {
  return tf.tidy(() => {
    const proj = tf.matMul(flattenFeatures(f), directions);
    const [n, k] = proj.shape as [number, number];
    const values = proj.dataSync() as Float32Array;
    const matched = new Float32Array(n * k);
    const order = new Uint32Array(n);
    const col = new Float32Array(n);
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < n; i++) {
        col[i] = values[i * k + j];
        order[i] = i;
      }
      order.sort((a, b) => col[a] - col[b]);
      const q = quantiles[j];
      for (let r = 0; r < n; r++) matched[order[r] * k + j] = q[r];
    }
    const target = tf.tensor2d(matched, [n, k]);
    return tf.div(tf.mean(tf.squaredDifference(proj, target)), normaliser);
  });
}

/**
 * The style term for the objective (./gatys.ts): K = options.swProjections directions (default: the channel
 * count), seeded per layer, and the blended style quantiles at the image's number of positions.
 */
export const slicedWassersteinTerm: StyleTermFactory = ({ styles, content, blend, layerIndex, seed, options }) => {
  const c = content.shape[content.shape.length - 1];
  const n = content.size / c;
  const k = options.swProjections || c;
  const directions = tf.keep(randomDirections(c, k, seed * 7919 + layerIndex + 1));
  const quantiles = blendQuantiles(
    styles.map((f) => styleQuantiles(f, directions, n)),
    blend,
  );
  const normaliser = quantileNormaliser(quantiles);
  return { loss: (f) => slicedWassersteinLoss(f, directions, quantiles, normaliser), dispose: () => directions.dispose() };
};
