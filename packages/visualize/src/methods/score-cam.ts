/**
 * Score-CAM (Wang, Wang, Du, Yang, Zhang, Ding, Mardziel & Hu, "Score-CAM: Score-Weighted Visual
 * Explanations for Convolutional Neural Networks", CVPR workshops 2020). No gradients: each channel's
 * activation map, upsampled and normalized to [0, 1], masks the input, and the target's score on the
 * masked input weighs the channel:
 *
 *   H_k = s(Up(A_k)),  s(M) = (M - min M) / (max M - min M)
 *   C(A_k) = f(X o H_k) - f(X_b)                       (their Eq. 6, "increase of confidence")
 *   L = relu( sum_k alpha_k A_k ),  alpha_k = C(A_k)                          mode 'difference'
 *                                   alpha_k = softmax_k( S(X o H_k) )         mode 'softmax' (their Algorithm 1)
 *
 * f is the class probability (softmax of the logits) for a class target and the activation for a
 * unit; S is the logit or activation. X o H is taken in the network's input space, as the paper's
 * normalized input tensor: x0 + (x - x0) H with x0 the model's zero pixel, which is also X_b. Channels
 * whose map is constant give no mask and are skipped (as the authors' code does). The coarse map is
 * upsampled bilinearly like Grad-CAM's. One forward pass per channel, in batches.
 *
 * `maxChannels` N keeps only the N channels whose activation map A_k varies most (largest spatial
 * standard deviation; Faster Score-CAM, as tf-keras-vis's ScoreCAM max_N): N forward passes instead of
 * K (1280 at MobileNetV2's last conv block), the others weigh 0.
 */
import { tf, type Tensor1D, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod } from '../attribution.js';
import { classLogits, type ResolvedTarget } from '../target.js';
import { camLayerFor } from './gradcam.js';
import { camResult, checkCamLayer, sameLayerWarning } from './cam-common.js';
import { targetScores, zeroPixel } from './scores.js';
import type { ScoreCamMode } from '../names.js';

export { SCORECAM_MODES, type ScoreCamMode } from '../names.js';

export interface ScoreCamOptions {
  /** CAM layer (default as Grad-CAM). */
  layer?: string;
  mode?: ScoreCamMode;
  /** Only the N channels with the largest spatial std of A_k (Faster Score-CAM; default: every channel). */
  maxChannels?: number;
  /** Masked images per forward pass (default 16). */
  batchSize?: number;
  signal?: AbortSignal;
}

export class ScoreCam extends BaseMethod {
  readonly name = 'scorecam' as const;
  readonly options: ScoreCamOptions & { mode: ScoreCamMode; batchSize: number };

  constructor(model: ConvNet, options: ScoreCamOptions = {}) {
    super(model);
    // ?? rather than a spread of defaults: a caller's explicit undefined (an unset flag) keeps the default.
    this.options = { ...options, mode: options.mode ?? 'softmax', batchSize: options.batchSize ?? 16 };
  }

  /** f for mode 'difference': the class probability, or the unit's activation. */
  private confidence(images: Tensor4D, target: ResolvedTarget): Tensor1D {
    return tf.tidy(() => {
      if (target.kind !== 'class') return targetScores(this.model, images, target);
      const p = tf.softmax(classLogits(this.model, this.model.preprocess(images)));
      return tf.reshape(tf.slice(p, [0, target.index], [-1, 1]), [-1]) as Tensor1D;
    });
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const { mode, batchSize } = this.options;
    const layer = checkCamLayer(this.model, target, camLayerFor(this.model, target, this.options.layer), 'Score-CAM');
    const [, H, W] = image.shape;
    const A = tf.tidy(() => this.model.forward(this.model.preprocess(image), { outputs: [layer] })[layer] as Tensor4D);
    const K = A.shape[3];
    // Upsampled channel maps, min and max of each: which channels give a mask.
    const { mins, maxs } = tf.tidy(() => {
      const up = tf.image.resizeBilinear(A, [H, W], false, true);
      return { mins: tf.min(up, [0, 1, 2]).dataSync() as Float32Array, maxs: tf.max(up, [0, 1, 2]).dataSync() as Float32Array };
    });
    let used = Array.from({ length: K }, (_, k) => k).filter((k) => maxs[k] > mins[k]);
    const { maxChannels } = this.options;
    if (maxChannels !== undefined && maxChannels < used.length) {
      const std = tf.tidy(() => tf.sqrt(tf.moments(A, [0, 1, 2]).variance).dataSync() as Float32Array);
      used = [...used].sort((a, b) => std[b] - std[a] || a - b).slice(0, Math.max(1, maxChannels)).sort((a, b) => a - b);
    }
    const zero = tf.tensor1d(zeroPixel(this.model));
    const scores = new Float32Array(used.length);
    for (let s = 0; s < used.length; s += batchSize) {
      if (this.options.signal?.aborted) break;
      const ks = used.slice(s, s + batchSize);
      const v = tf.tidy(() => {
        // [n, H, W, 1] masks: the chosen channels, upsampled and normalized.
        const sel = tf.gather(A, tf.tensor1d(ks, 'int32'), 3); // [1, h, w, n]
        const up = tf.image.resizeBilinear(sel, [H, W], false, true);
        const lo = tf.tensor1d(ks.map((k) => mins[k]));
        const span = tf.tensor1d(ks.map((k) => maxs[k] - mins[k]));
        const masks = tf.transpose(tf.div(tf.sub(up, lo), span), [3, 1, 2, 0]) as Tensor4D; // [n, H, W, 1]
        const masked = tf.add(zero, tf.mul(tf.sub(image, zero), masks)) as Tensor4D;
        return (mode === 'softmax' ? targetScores(this.model, masked, target) : this.confidence(masked, target)).dataSync() as Float32Array;
      });
      scores.set(v, s);
      await new Promise((r) => setImmediate(r));
    }
    let baseline: number | undefined;
    const alpha = new Float32Array(K);
    if (mode === 'softmax') {
      let max = -Infinity;
      for (const v of scores) max = Math.max(max, v);
      let sum = 0;
      for (const v of scores) sum += Math.exp(v - max);
      used.forEach((k, i) => (alpha[k] = Math.exp(scores[i] - max) / sum));
    } else {
      baseline = tf.tidy(() => this.confidence(tf.add(tf.zerosLike(image), zero) as Tensor4D, target).dataSync()[0]);
      used.forEach((k, i) => (alpha[k] = scores[i] - baseline!));
    }
    const cam = tf.tidy(() => tf.relu(tf.sum(tf.mul(A, tf.tensor1d(alpha)), 3, true)) as Tensor4D);
    const { heat, coarse } = camResult(cam, H, W, layer);
    tf.dispose([A, zero, cam]);
    return {
      heat,
      coarse,
      params: { layer, mode, batchSize, channels: K, maskedChannels: used.length, ...(maxChannels !== undefined ? { maxChannels } : {}), ...(baseline !== undefined ? { baselineConfidence: baseline } : {}) },
      warnings: sameLayerWarning(target, layer, 'Score-CAM'),
    };
  }
}
