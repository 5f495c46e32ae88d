/**
 * Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017):
 * the gradient integrated along the straight path from a baseline x' to the input x (their Eq. 1),
 *
 *   IG_i(x) = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x'))/dx_i da
 *          ~= (x_i - x'_i) * sum_k w_k dF(x' + a_k (x - x'))/dx_i                  (their Eq. 3, Riemann)
 *
 * with a Riemann sum (left a_k = (k-1)/m, right a_k = k/m as in the paper, middle a_k = (k-1/2)/m,
 * w_k = 1/m), the trapezoidal rule (a_k = k/m, k = 0..m, w = 1/m with 1/(2m) at both ends) or
 * m-point Gauss-Legendre (captum's 'gausslegendre'). Its completeness axiom (their Prop. 1),
 * sum_i IG_i(x) = F(x) - F(x'), is checked on every map (params.completeness); the paper suggests
 * 20-300 steps until the two agree within 5%. F is the class logit or the unit's activation (the
 * same score the gradient methods differentiate); x is RGB 0..255, so the baselines are images: black
 * (the paper's), the model's zero input, a blurred copy, the image plus Gaussian noise, or uniform
 * noise (Sturmfels, Lundberg & Lee 2020), or any image.
 *
 * Steps, measured (tools/bench/attribution-timings.ts with CONVLAB_IG_SWEEP=16,32,64,128 on the
 * native backend): completeness error |sum - delta| / |delta| for MobileNetV2 (nsfwjs weights) at
 * 224, class Neutral's logit, black baseline, on assets/content dog / eagle / giraffe:
 *
 *   rule            16                   32                   64                   128
 *   trapezoid       53.7 / 40.9 / 8.3%   20.4 / 60.5 / 4.6%   30.6 / 35.8 / 6.1%   7.7 / 0.8 / 0.3%
 *   riemann-right   53.7 / 41.1 / 9.5%   20.4 / 60.6 / 5.2%   30.5 / 35.9 / 5.8%   7.7 / 0.8 / 0.5%
 *   riemann-middle  12.9 / 80.1 / 0.9%   40.7 / 11.1 / 16.9%  15.1 / 34.2 / 6.8%   7.4 / 9.6 / 8.2%
 *   gauss-legendre  29.9 / 49.0 / 49.6%  24.1 / 4.9 / 14.4%   4.3 / 10.2 / 11.0%   0.7 / 6.8 / 1.6%
 *
 * The error does not fall steadily with m: along the path the derivative of a ReLU6 network is
 * piecewise constant with many jumps (spikes where many units switch at once), so no rule converges
 * smoothly and Gauss-Legendre's high order buys nothing (it assumes a smooth integrand); a fixed 32
 * misses by 5-61%, and even 128 misses 5% on one photo of three. So the default is adaptive, as the
 * paper's advice is: the trapezoid from m = 32 (DEFAULT_IG_STEPS), doubled while the error is over
 * the tolerance (5%), up to 256 intervals (DEFAULT_IG_MAX_STEPS). Doubling a nested rule (trapezoid,
 * Riemann left / right) halves the old weights and evaluates only the new points, so a map that
 * stops at m costs m + 1 gradients, as a fixed m would; a map that still misses at 256 carries a
 * warning naming the error. params.rounds lists the error of each round, params.gradients the cost.
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels, imageGradient } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { baselineImage, baselineLabel, targetScores, type Baseline } from './scores.js';
import { DEFAULT_IG_MAX_STEPS, DEFAULT_IG_RULE, DEFAULT_IG_STEPS, type IgRule } from '../names.js';

export { IG_RULES, DEFAULT_IG_STEPS, DEFAULT_IG_MAX_STEPS, DEFAULT_IG_RULE, type IgRule } from '../names.js';

export interface IntegratedGradientsOptions {
  /**
   * Number of intervals m (the trapezoid evaluates m + 1 points): the first try when adaptive (default
   * DEFAULT_IG_STEPS), the fixed count when `steps` is given without `maxSteps`.
   */
  steps?: number;
  /**
   * Double m (trapezoid and Riemann left/right reuse every gradient already taken) until the
   * completeness error is at most `tolerance` or 2m would pass maxSteps (default DEFAULT_IG_MAX_STEPS
   * when `steps` is not given; `steps` itself when it is, i.e. no doubling).
   */
  maxSteps?: number;
  baseline?: Baseline;
  rule?: IgRule;
  /** Path points per gradient call (default 5, as SmoothGrad's batches: the memory estimate assumes it). */
  batchSize?: number;
  /** Seed of the 'noise' / 'uniform' baselines. */
  seed?: number;
  blurSigma?: number;
  noiseSigma?: number;
  /** Relative completeness error the doubling aims at, above which the map carries a warning (default 0.05, the paper's 5%). */
  tolerance?: number;
  signal?: AbortSignal;
}

/**
 * Gauss-Legendre nodes and weights of an n-point rule on [-1, 1] (Newton's iteration on P_n from the
 * Chebyshev-like first guess cos(pi (i + 3/4) / (n + 1/2)), as Numerical Recipes' gauleg; numpy's
 * leggauss, which captum's 'gausslegendre' uses, agrees to 1e-15).
 */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p1 = 1;
      let p2 = 0;
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
      }
      dp = (n * (z * p1 - p2)) / (z * z - 1);
      const z1 = z;
      z = z1 - p1 / dp;
      if (Math.abs(z - z1) < 1e-15) break;
    }
    nodes[i] = -z;
    nodes[n - 1 - i] = z;
    weights[i] = weights[n - 1 - i] = 2 / ((1 - z * z) * dp * dp);
  }
  return { nodes, weights };
}

/** Path points a_k and weights w_k of a quadrature rule over [0, 1]. */
export function pathPoints(steps: number, rule: IgRule): { alphas: number[]; weights: number[] } {
  const m = steps;
  if (rule === 'trapezoid') {
    const alphas = Array.from({ length: m + 1 }, (_, k) => k / m);
    return { alphas, weights: alphas.map((_, k) => (k === 0 || k === m ? 0.5 / m : 1 / m)) };
  }
  if (rule === 'gauss-legendre') {
    const { nodes, weights } = gaussLegendre(m);
    return { alphas: nodes.map((x) => (x + 1) / 2), weights: weights.map((v) => v / 2) };
  }
  const shift = rule === 'riemann-left' ? 0 : rule === 'riemann-right' ? 1 : 0.5;
  return { alphas: Array.from({ length: m }, (_, k) => (k + shift) / m), weights: Array(m).fill(1 / m) };
}

/**
 * What any quadrature's completeness needs, at the path points `alphas`: the path derivative
 * d/da F(x' + a (x - x')) = sum_i (x_i - x'_i) dF/dx_i(x' + a (x - x')) at each a, and F(x), F(x').
 * sum_k w_k derivatives[k] is exactly the sum of the IG map of the rule with points a_k and weights
 * w_k, so one set of gradients scores every rule whose points it contains (tools/bench/attribution-timings.ts
 * uses this for the steps/rule study in the header above).
 */
export async function pathDerivatives(
  model: ConvNet,
  image: Tensor4D,
  target: ResolvedTarget,
  alphas: number[],
  options: Pick<IntegratedGradientsOptions, 'baseline' | 'batchSize' | 'seed' | 'blurSigma' | 'noiseSigma'> = {},
): Promise<{ derivatives: Float64Array; scoreInput: number; scoreBaseline: number }> {
  const batchSize = options.batchSize ?? 5;
  const base = baselineImage(model, image, options.baseline ?? 'black', { seed: options.seed ?? 0, blurSigma: options.blurSigma, noiseSigma: options.noiseSigma });
  const diff = tf.sub(image, base) as Tensor4D;
  const derivatives = new Float64Array(alphas.length);
  for (let s = 0; s < alphas.length; s += batchSize) {
    const a = alphas.slice(s, s + batchSize);
    const d = tf.tidy(() => {
      const points = tf.add(base, tf.mul(tf.tensor4d(a, [a.length, 1, 1, 1]), diff)) as Tensor4D;
      return tf.sum(tf.mul(imageGradient(model, points, target, 'normal'), diff), [1, 2, 3]).dataSync();
    });
    derivatives.set(d, s);
    await new Promise((r) => setImmediate(r));
  }
  const [scoreInput, scoreBaseline] = tf.tidy(() => Array.from(targetScores(model, tf.concat([image, base]) as Tensor4D, target).dataSync()));
  tf.dispose([base, diff]);
  return { derivatives, scoreInput, scoreBaseline };
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

/** Rules whose points at 2m include all their points at m, each old weight halved (doubling reuses every gradient). */
export function nestedRule(rule: IgRule): boolean {
  return rule === 'trapezoid' || rule === 'riemann-left' || rule === 'riemann-right';
}

export class IntegratedGradients extends BaseMethod {
  readonly name = 'integrated-gradients' as const;
  readonly options: Required<Omit<IntegratedGradientsOptions, 'blurSigma' | 'noiseSigma' | 'maxSteps' | 'signal'>> & Pick<IntegratedGradientsOptions, 'blurSigma' | 'noiseSigma' | 'signal'> & { maxSteps: number };

  constructor(model: ConvNet, options: IntegratedGradientsOptions = {}) {
    super(model);
    // ?? rather than a spread of defaults: an explicit undefined (an unset flag) keeps the default.
    const o = {
      ...options,
      steps: options.steps ?? DEFAULT_IG_STEPS,
      baseline: options.baseline ?? ('black' as Baseline),
      rule: options.rule ?? DEFAULT_IG_RULE,
      batchSize: options.batchSize ?? 5,
      seed: options.seed ?? 0,
      tolerance: options.tolerance ?? 0.05,
    };
    if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new Error('integrated gradients: steps must be an integer >= 1');
    // An explicit step count without maxSteps is a fixed count; the default is adaptive up to DEFAULT_IG_MAX_STEPS.
    const maxSteps = options.maxSteps ?? (options.steps === undefined ? DEFAULT_IG_MAX_STEPS : o.steps);
    if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) throw new Error('integrated gradients: maxSteps must be an integer >= 1');
    this.options = { ...o, maxSteps: Math.max(maxSteps, o.steps) };
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const { steps, maxSteps, rule, batchSize, seed, tolerance } = this.options;
    const [, h, w] = image.shape;
    const base = baselineImage(this.model, image, this.options.baseline, { seed, blurSigma: this.options.blurSigma, noiseSigma: this.options.noiseSigma });
    const diff = tf.sub(image, base) as Tensor4D;
    const [scoreInput, scoreBaseline] = tf.tidy(() => Array.from(targetScores(this.model, tf.concat([image, base]) as Tensor4D, target).dataSync()));
    const delta = scoreInput - scoreBaseline;
    const key = (a: number) => a.toFixed(12);
    const nested = nestedRule(rule);
    const rounds: { steps: number; relativeError: number }[] = [];
    let total: Tensor4D | undefined;
    let done = new Set<string>();
    let gradients = 0;
    let m = steps;
    let sum = 0;
    for (;;) {
      const { alphas, weights } = pathPoints(m, rule);
      if (total && nested) {
        // Doubling a nested rule: every old point's weight halves, only the new points need gradients.
        const halved = tf.mul(total, 0.5) as Tensor4D;
        total.dispose();
        total = halved;
      } else {
        total?.dispose();
        total = tf.zeros([1, h, w, 3]) as Tensor4D;
        done = new Set();
      }
      const todo = alphas.map((a, k) => ({ a, w: weights[k] })).filter(({ a }) => !done.has(key(a)));
      for (let s = 0; s < todo.length; s += batchSize) {
        if (this.options.signal?.aborted) break;
        const a = todo.slice(s, s + batchSize).map((p) => p.a);
        const wk = todo.slice(s, s + batchSize).map((p) => p.w);
        const prev: Tensor4D = total;
        total = tf.tidy(() => {
          const points = tf.add(base, tf.mul(tf.tensor4d(a, [a.length, 1, 1, 1]), diff)) as Tensor4D;
          const g = imageGradient(this.model, points, target, 'normal');
          return tf.add(prev, tf.sum(tf.mul(g, tf.tensor4d(wk, [wk.length, 1, 1, 1])), 0, true)) as Tensor4D;
        });
        prev.dispose();
        gradients += a.length;
        await new Promise((r) => setImmediate(r));
      }
      for (const { a } of todo) done.add(key(a));
      const current: Tensor4D = total;
      sum = tf.tidy(() => tf.sum(tf.mul(diff, current)).dataSync()[0]);
      const relativeError = Math.abs(sum - delta) / Math.max(Math.abs(delta), 1e-6);
      rounds.push({ steps: m, relativeError });
      if (relativeError <= tolerance || m * 2 > maxSteps || this.options.signal?.aborted) break;
      m *= 2;
    }
    const attr = tf.mul(diff, total as Tensor4D);
    const pixels = (await attr.data()) as Float32Array;
    tf.dispose([attr, total as Tensor4D, diff, base]);
    sum = 0;
    for (const v of pixels) sum += v;
    const completeness: Completeness = { sum, delta, scoreInput, scoreBaseline, relativeError: Math.abs(sum - delta) / Math.max(Math.abs(delta), 1e-6) };
    const warnings =
      completeness.relativeError > tolerance
        ? [
            `integrated gradients: the attributions sum to ${sum.toPrecision(4)}, F(x) - F(baseline) = ${delta.toPrecision(4)} (${(completeness.relativeError * 100).toFixed(1)}% off at ${m} steps, more than ${tolerance * 100}%): use more steps (--ig-max-steps ${m * 2})`,
          ]
        : [];
    return {
      pixels,
      heat: heatFromPixels(pixels, w, h),
      params: { steps: m, rule, baseline: baselineLabel(this.options.baseline), batchSize, seed, tolerance, maxSteps, gradients, rounds, completeness },
      warnings,
    };
  }
}
