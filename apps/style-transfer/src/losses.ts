/**
 * Style-transfer losses on feature maps [1, h, w, c]:
 * - content: squared feature difference (Gatys et al. 2016), optionally normalised by the target's variance;
 * - Gram style: squared difference of Gram matrices, per layer normalised (Gatys' 1/(4N^2) or relative to the target);
 * - sliced Wasserstein style (Heitz et al. 2021): 1-D optimal transport of random projections of the features;
 * - softmax features (Wang et al. 2021): features replaced by softmax(F / T) over the whole map before the statistics.
 * Every function is plain differentiable tf ops, so tf.grad w.r.t. the image works on every backend.
 */
import { gramMatrix, tf, type Tensor } from '@convlab/core';

export type StyleNorm = 'target' | 'gatys';
export type ContentNorm = 'variance' | 'gatys';

/** Features [1, h, w, c] (or [h, w, c]) -> [h*w, c]. */
export function flattenFeatures(f: Tensor): Tensor {
  const c = f.shape[f.shape.length - 1];
  return tf.reshape(f, [-1, c]);
}

/** Gram matrix of a feature map, divided by the number of positions: G = F^T F / (h w), shape [c, c]. */
export function gram(f: Tensor): Tensor {
  return gramMatrix(f, { normalize: 'hw' });
}

/**
 * Softmax over every activation of the map (Wang et al., CVPR 2021, "Rethinking and improving the robustness of
 * image style transfer"), scaled by the element count so its mean is 1 whatever the layer size.
 */
export function softmaxFeatures(f: Tensor, temperature: number): Tensor {
  return tf.tidy(() => {
    const flat = tf.reshape(f, [1, -1]);
    const s = tf.softmax(tf.div(flat, temperature));
    return tf.reshape(tf.mul(s, flat.shape[1]!), f.shape);
  });
}

/** Content loss. 'gatys': 1/2 sum (F-P)^2; 'variance': mean (F-P)^2 / var(P). */
export function contentLoss(f: Tensor, target: Tensor, norm: ContentNorm, targetVariance?: number): Tensor {
  return tf.tidy(() => {
    const d = tf.squaredDifference(f, target);
    if (norm === 'gatys') return tf.mul(tf.sum(d), 0.5);
    const v = targetVariance ?? tf.moments(target).variance.dataSync()[0];
    return tf.div(tf.mean(d), Math.max(v, 1e-8));
  });
}

/** The variance of a target feature map (content-loss normaliser), computed once. */
export function featureVariance(f: Tensor): number {
  return tf.tidy(() => tf.moments(f).variance.dataSync()[0]);
}

/**
 * Normaliser of a Gram style loss at one layer. 'gatys': 4 c^2 (Gatys et al.'s 1/(4 N^2 M^2) with G already
 * divided by M = h w); 'target': sum of the target Gram's squares, so each layer's loss is a relative error and
 * layers with large activations do not drown the others.
 */
export function gramNormaliser(target: Tensor, norm: StyleNorm): number {
  const c = target.shape[0];
  if (norm === 'gatys') return 4 * c * c;
  return Math.max(tf.tidy(() => tf.sum(tf.square(target)).dataSync()[0]), 1e-12);
}

/** Gram style loss at one layer: sum (G(f) - target)^2 / normaliser. */
export function gramStyleLoss(f: Tensor, target: Tensor, normaliser: number): Tensor {
  return tf.tidy(() => tf.div(tf.sum(tf.squaredDifference(gram(f), target)), normaliser));
}

/** Blend Gram targets: sum_i w_i G_i (jcjohnson/neural-style's multi-style blend). Weights must sum to 1. */
export function blendGrams(grams: Tensor[], weights: number[]): Tensor {
  return tf.tidy(() => grams.reduce<Tensor>((acc, g, i) => (i === 0 ? tf.mul(g, weights[0]) : tf.add(acc, tf.mul(g, weights[i]))), grams[0]));
}

/** Seeded random unit directions [c, k] for sliced Wasserstein projections. */
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

/** Mean variance of the target projections: the sliced Wasserstein loss normaliser ('target'). */
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
 * Sliced Wasserstein style loss (Heitz et al., CVPR 2021): project features on k directions, sort, and compare
 * with the style's sorted projections. Sorting is done on the values outside the graph: the loss equals
 * mean (P - T)^2 where T puts the style quantile of each element's rank at its place, and its gradient is the
 * same as that of the sorted form (ranks are locally constant), so no gather/sort gradient is needed.
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
