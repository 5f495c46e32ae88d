/**
 * Occlusion as an attribution map (captum's Occlusion, after Zeiler & Fergus 2014's experiment; the
 * sliding-window ablation of Zintgraf et al. 2017). A window is replaced by the baseline at every
 * position of a strided grid, the drop of the target's score is credited to every pixel (and channel)
 * of the window, and each pixel's credit is averaged over the windows that covered it:
 *
 *   R_i = (1 / |W_i|) sum_{w in W_i} [ F(x) - F(x with window w set to the baseline) ],   W_i = windows covering i
 *
 * F is the class logit or the unit's activation (as the gradient methods; occlusion.ts keeps Zeiler &
 * Fergus's probability map). Windows cover all colour channels at once (the map is the same in the
 * three), or each channel on its own (`perChannel`, 3x the passes; captum's (1, s, s) window). Window
 * positions are 0, stride, 2 stride, ... and one more flush with the far edge when the stride does not
 * land there, so every pixel is covered. Baselines: the model's zero input (default), black, a blurred
 * copy, an RGB colour or any image.
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { baselineImage, baselineLabel, targetScores, type Baseline } from './scores.js';

export interface OcclusionWindowOptions {
  /** Window side in px (default: 1/14 of the shorter side, at least 1: 16 at 224). */
  window?: number;
  /** Step between windows in px (default: half the window). */
  stride?: number;
  baseline?: Baseline;
  perChannel?: boolean;
  /** Occluded images per forward pass (default 16). */
  batchSize?: number;
  signal?: AbortSignal;
}

/** Window starts along one axis: 0, stride, ..., and size - window when the stride does not land there. */
export function windowStarts(size: number, window: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + window <= size; s += stride) out.push(s);
  if (!out.length || out[out.length - 1] + window < size) out.push(Math.max(0, size - window));
  return out;
}

export class OcclusionWindows extends BaseMethod {
  readonly name = 'occlusion' as const;
  readonly options: OcclusionWindowOptions;

  constructor(model: ConvNet, options: OcclusionWindowOptions = {}) {
    super(model);
    this.options = options;
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const [, H, W] = image.shape;
    const win = Math.min(Math.max(1, Math.round(this.options.window ?? Math.min(H, W) / 14)), H, W);
    const stride = Math.max(1, Math.round(this.options.stride ?? win / 2));
    const baseline = this.options.baseline ?? 'zero';
    const perChannel = this.options.perChannel ?? false;
    const batchSize = Math.max(1, this.options.batchSize ?? 16);
    const base = baselineImage(this.model, image, baseline);
    const ys = windowStarts(H, win, stride);
    const xs = windowStarts(W, win, stride);
    const channels = perChannel ? [0, 1, 2] : [-1];
    const jobs: { y: number; x: number; c: number }[] = [];
    for (const c of channels) for (const y of ys) for (const x of xs) jobs.push({ y, x, c });
    const full = tf.tidy(() => targetScores(this.model, image, target).dataSync()[0]);
    const total = new Float64Array(H * W * 3);
    const count = new Float64Array(H * W * 3);
    for (let s = 0; s < jobs.length; s += batchSize) {
      if (this.options.signal?.aborted) break;
      const chunk = jobs.slice(s, s + batchSize);
      const mask = new Float32Array(chunk.length * H * W * 3);
      chunk.forEach(({ y, x, c }, n) => {
        for (let yy = y; yy < y + win; yy++)
          for (let xx = x; xx < x + win; xx++)
            for (let ch = 0; ch < 3; ch++) if (c < 0 || c === ch) mask[((n * H + yy) * W + xx) * 3 + ch] = 1;
      });
      const scores = tf.tidy(() => {
        const m = tf.tensor4d(mask, [chunk.length, H, W, 3]);
        const occluded = tf.add(tf.mul(image, tf.sub(1, m)), tf.mul(base, m)) as Tensor4D;
        return targetScores(this.model, occluded, target).dataSync() as Float32Array;
      });
      chunk.forEach(({ y, x, c }, n) => {
        const drop = full - scores[n];
        for (let yy = y; yy < y + win; yy++)
          for (let xx = x; xx < x + win; xx++)
            for (let ch = 0; ch < 3; ch++) {
              if (c >= 0 && c !== ch) continue;
              const i = (yy * W + xx) * 3 + ch;
              total[i] += drop;
              count[i] += 1;
            }
      });
      await new Promise((r) => setImmediate(r));
    }
    base.dispose();
    const pixels = new Float32Array(H * W * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = count[i] ? total[i] / count[i] : 0;
    return {
      pixels,
      heat: heatFromPixels(pixels, W, H),
      params: { window: win, stride, baseline: baselineLabel(baseline), perChannel, batchSize, positions: jobs.length, score: full },
    };
  }
}
