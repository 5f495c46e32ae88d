/**
 * Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017):
 * the gradient integrated along the straight path from a baseline x' to the input x,
 *
 *   IG_i(x) = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x'))/dx_i da
 *          ~= (x_i - x'_i) * sum_k w_k dF(x' + a_k (x - x'))/dx_i
 *
 * with a Riemann sum (left a_k = (k-1)/m, right a_k = k/m as in the paper, middle a_k = (k-1/2)/m,
 * w_k = 1/m) or the trapezoidal rule (a_k = k/m, k = 0..m, w = 1/m with 1/(2m) at both ends). Its
 * completeness axiom, sum_i IG_i(x) = F(x) - F(x'), is checked on every map (params.completeness); the
 * paper suggests 20-300 steps until the two agree within 5%. F is the class logit or the unit's
 * activation (the same score the gradient methods differentiate); x is RGB 0..255, so the baselines
 * are images: black (the paper's), the model's zero input, a blurred copy, the image plus Gaussian
 * noise, or uniform noise (Sturmfels, Lundberg & Lee 2020), or any image.
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels, imageGradient } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { baselineImage, baselineLabel, targetScores, type Baseline } from './scores.js';
import type { IgRule } from '../names.js';

export { IG_RULES, type IgRule } from '../names.js';

export interface IntegratedGradientsOptions {
  /** Number of intervals m (default 32; the trapezoid evaluates m + 1 points). */
  steps?: number;
  baseline?: Baseline;
  rule?: IgRule;
  /** Path points per gradient call (default 5, as SmoothGrad's batches: the memory estimate assumes it). */
  batchSize?: number;
  /** Seed of the 'noise' / 'uniform' baselines. */
  seed?: number;
  blurSigma?: number;
  noiseSigma?: number;
  /** Relative completeness error above which the map carries a warning (default 0.05, the paper's 5%). */
  tolerance?: number;
}

/** Path points a_k and weights w_k of a quadrature rule over [0, 1]. */
export function pathPoints(steps: number, rule: IgRule): { alphas: number[]; weights: number[] } {
  const m = steps;
  if (rule === 'trapezoid') {
    const alphas = Array.from({ length: m + 1 }, (_, k) => k / m);
    return { alphas, weights: alphas.map((_, k) => (k === 0 || k === m ? 0.5 / m : 1 / m)) };
  }
  const shift = rule === 'riemann-left' ? 0 : rule === 'riemann-right' ? 1 : 0.5;
  return { alphas: Array.from({ length: m }, (_, k) => (k + shift) / m), weights: Array(m).fill(1 / m) };
}

export interface Completeness {
  /** sum_i IG_i(x) */
  sum: number;
  /** F(x) - F(x') */
  delta: number;
  scoreInput: number;
  scoreBaseline: number;
  /** |sum - delta| / max(|delta|, 1e-6) */
  relativeError: number;
}

export class IntegratedGradients extends BaseMethod {
  readonly name = 'integrated-gradients' as const;
  readonly options: Required<Omit<IntegratedGradientsOptions, 'blurSigma' | 'noiseSigma'>> & Pick<IntegratedGradientsOptions, 'blurSigma' | 'noiseSigma'>;

  constructor(model: ConvNet, options: IntegratedGradientsOptions = {}) {
    super(model);
    this.options = { steps: 32, baseline: 'black', rule: 'trapezoid', batchSize: 5, seed: 0, tolerance: 0.05, ...options };
    if (!(Number.isInteger(this.options.steps) && this.options.steps >= 1)) throw new Error('integrated gradients: steps must be an integer >= 1');
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const { steps, rule, batchSize, seed, tolerance } = this.options;
    const [, h, w] = image.shape;
    const base = baselineImage(this.model, image, this.options.baseline, { seed, blurSigma: this.options.blurSigma, noiseSigma: this.options.noiseSigma });
    const diff = tf.sub(image, base) as Tensor4D;
    const { alphas, weights } = pathPoints(steps, rule);
    let total = tf.zeros([1, h, w, 3]);
    for (let s = 0; s < alphas.length; s += batchSize) {
      const a = alphas.slice(s, s + batchSize);
      const wk = weights.slice(s, s + batchSize);
      const next = tf.tidy(() => {
        const alpha = tf.tensor4d(a, [a.length, 1, 1, 1]);
        const points = tf.add(base, tf.mul(alpha, diff)) as Tensor4D;
        const g = imageGradient(this.model, points, target, 'normal');
        return tf.add(total, tf.sum(tf.mul(g, tf.tensor4d(wk, [wk.length, 1, 1, 1])), 0, true));
      });
      total.dispose();
      total = next;
      await new Promise((r) => setImmediate(r));
    }
    const attr = tf.mul(diff, total);
    const pixels = (await attr.data()) as Float32Array;
    const [scoreInput, scoreBaseline] = tf.tidy(() => Array.from(targetScores(this.model, tf.concat([image, base]) as Tensor4D, target).dataSync()));
    attr.dispose();
    total.dispose();
    diff.dispose();
    base.dispose();
    let sum = 0;
    for (const v of pixels) sum += v;
    const delta = scoreInput - scoreBaseline;
    const completeness: Completeness = { sum, delta, scoreInput, scoreBaseline, relativeError: Math.abs(sum - delta) / Math.max(Math.abs(delta), 1e-6) };
    const warnings =
      completeness.relativeError > tolerance
        ? [`integrated gradients: the attributions sum to ${sum.toPrecision(4)}, F(x) - F(baseline) = ${delta.toPrecision(4)} (${(completeness.relativeError * 100).toFixed(1)}% off, more than ${tolerance * 100}%): use more steps`]
        : [];
    return {
      pixels,
      heat: heatFromPixels(pixels, w, h),
      params: { steps, rule, baseline: baselineLabel(this.options.baseline), batchSize, seed, completeness },
      warnings,
    };
  }
}
