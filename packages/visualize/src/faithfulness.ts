/**
 * Deletion and insertion (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of
 * Black-box Models", BMVC 2018): a faithful map ranks first the pixels the model needs. Deletion
 * removes pixels from the image, most important first, and follows the score down; insertion adds
 * them to a blurred canvas and follows it up. Each curve is summarized by its area (trapezoidal rule
 * over the fraction of pixels, 0..1):
 *
 *   deletion AUC  = integral_0^1 f( x with the top-t fraction of pixels set to the baseline ) dt    (lower is better)
 *   insertion AUC = integral_0^1 f( blur(x) with the top-t fraction of pixels of x put back ) dt   (higher is better)
 *
 * f is the class probability for a class target (as the paper) and the activation for a unit target.
 * The deletion baseline is black (the paper's zeros) or any baseline of methods/scores.ts; the
 * insertion canvas is the blurred image (sigma: 1/20 of the shorter side unless given). Pixels are
 * ranked by the map's heat (ties in index order, so a flat map is a raster scan); `steps` points
 * are evaluated per curve, in batches.
 */
import { tf, type RgbImage, type Tensor, type Tensor1D, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { toBatch, type AttributionMap } from './attribution.js';
import { baselineImage, baselineLabel, targetScores, type Baseline } from './methods/scores.js';
import { classLogits, resolveTarget, type ResolvedTarget, type Target } from './target.js';

export interface FaithfulnessOptions {
  /** Points per curve besides the start (default 50; the paper removes 224 pixels per step at 224 px). */
  steps?: number;
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** What deleted pixels become (default 'black'). */
  deletionBaseline?: Baseline;
  /** The canvas pixels are inserted into (default 'blur'). */
  insertionBaseline?: Baseline;
  blurSigma?: number;
  /** Class targets: 'probability' (default, the paper's) or 'logit'. */
  score?: 'probability' | 'logit';
  signal?: AbortSignal;
}

export interface Curve {
  /** Fraction of pixels deleted / inserted at each point, 0..1. */
  fractions: number[];
  scores: number[];
  /** Area under the curve (trapezoidal rule over the fractions). */
  auc: number;
}

export interface FaithfulnessResult {
  deletion: Curve;
  insertion: Curve;
  /** The score of the unmodified image. */
  score: number;
  params: Record<string, unknown>;
  seconds: number;
}

/** Scores a batch of RGB images (0..255) [n, h, w, 3]: one number per image. */
export type BatchScorer = (images: Tensor4D) => Tensor1D;

/** Area under a curve by the trapezoidal rule. */
export function trapezoidArea(x: readonly number[], y: readonly number[]): number {
  let a = 0;
  for (let i = 1; i < x.length; i++) a += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return a;
}

/** Pixel indices, highest heat first (stable: ties keep index order). */
export function rankPixels(heat: ArrayLike<number>): Int32Array {
  const idx = Int32Array.from({ length: heat.length }, (_, i) => i);
  return idx.sort((a, b) => heat[b] - heat[a] || a - b);
}

/**
 * Deletion and insertion curves of a heat map [h * w] for any scorer. `image` is RGB 0..255; the
 * baselines are images of the same size (see methods/scores.ts baselineImage), built by the caller
 * or from the options by `faithfulness`.
 */
export async function deletionInsertion(
  image: Tensor4D,
  heat: ArrayLike<number>,
  scorer: BatchScorer,
  canvases: { deletion: Tensor4D; insertion: Tensor4D },
  options: Pick<FaithfulnessOptions, 'steps' | 'batchSize' | 'signal'> = {},
): Promise<{ deletion: Curve; insertion: Curve; score: number }> {
  const [, h, w] = image.shape;
  const n = h * w;
  if (heat.length !== n) throw new Error(`deletionInsertion: the map has ${heat.length} values, the image ${w}x${h} pixels`);
  const steps = Math.max(1, Math.round(options.steps ?? 50));
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const order = rankPixels(heat);
  // rank[i]: position of pixel i in the order; pixel i is "taken" at step k when rank[i] < count(k).
  const rank = new Int32Array(n);
  order.forEach((p, r) => (rank[p] = r));
  const counts = Array.from({ length: steps + 1 }, (_, k) => Math.round((k / steps) * n));
  const fractions = counts.map((c) => c / n);
  const rankT = tf.tensor4d(Float32Array.from(rank), [1, h, w, 1]);
  const curve = async (from: Tensor4D, to: Tensor4D): Promise<number[]> => {
    // Points along: pixels of rank < count come from `to`, the rest from `from`.
    const scores: number[] = [];
    for (let s = 0; s < counts.length; s += batchSize) {
      if (options.signal?.aborted) break;
      const chunk = counts.slice(s, s + batchSize);
      const v = tf.tidy(() => {
        const taken = tf.cast(tf.less(rankT, tf.tensor4d(chunk, [chunk.length, 1, 1, 1])), 'float32');
        const batch = tf.add(tf.mul(from, tf.sub(1, taken)), tf.mul(to, taken)) as Tensor4D;
        return Array.from(scorer(batch).dataSync());
      });
      scores.push(...v);
      await new Promise((r) => setImmediate(r));
    }
    return scores;
  };
  try {
    const del = await curve(image, canvases.deletion);
    const ins = await curve(canvases.insertion, image);
    const f = fractions.slice(0, Math.min(del.length, ins.length));
    return {
      deletion: { fractions: f, scores: del, auc: trapezoidArea(f, del) },
      insertion: { fractions: f, scores: ins, auc: trapezoidArea(f, ins) },
      score: del[0],
    };
  } finally {
    rankT.dispose();
  }
}

/** The scorer of a target: class probability (or logit) for a class, the activation for a unit. */
export function targetScorer(model: ConvNet, target: ResolvedTarget, score: 'probability' | 'logit' = 'probability'): BatchScorer {
  return (images) =>
    tf.tidy(() => {
      if (target.kind === 'class' && score === 'probability') {
        const p = tf.softmax(classLogits(model, model.preprocess(images)));
        return tf.reshape(tf.slice(p, [0, target.index], [-1, 1]), [-1]) as Tensor1D;
      }
      return targetScores(model, images, target);
    });
}

/**
 * Deletion and insertion for a map of a model's target. `map` is an AttributionMap (its target and
 * heat are used) or a bare heat map [h * w] with the target given.
 */
export async function faithfulness(
  model: ConvNet,
  image: RgbImage | Tensor,
  map: AttributionMap | { heat: ArrayLike<number>; target?: ResolvedTarget },
  target?: Target,
  options: FaithfulnessOptions = {},
): Promise<FaithfulnessResult> {
  const started = performance.now();
  const batch = toBatch(image);
  const [, h, w] = batch.shape;
  const deletionBaseline = options.deletionBaseline ?? 'black';
  const insertionBaseline = options.insertionBaseline ?? 'blur';
  const sigma = options.blurSigma ?? Math.max(1, Math.min(h, w) / 20);
  const resolved =
    map.target ??
    (target
      ? resolveTarget(model, batch, target)
      : (() => {
          throw new Error('faithfulness: give the target of a bare heat map');
        })());
  const deletion = baselineImage(model, batch, deletionBaseline, { blurSigma: sigma });
  const insertion = baselineImage(model, batch, insertionBaseline, { blurSigma: sigma });
  try {
    const score = options.score ?? 'probability';
    const res = await deletionInsertion(batch, map.heat, targetScorer(model, resolved, score), { deletion, insertion }, options);
    return {
      ...res,
      params: {
        steps: Math.max(1, Math.round(options.steps ?? 50)),
        deletionBaseline: baselineLabel(deletionBaseline),
        insertionBaseline: baselineLabel(insertionBaseline),
        blurSigma: sigma,
        score: resolved.kind === 'class' ? score : 'activation',
        target: resolved.label,
      },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    tf.dispose([batch, deletion, insertion]);
  }
}
