/**
 * SmoothGrad (Smilkov et al. 2017): the mean gradient over n copies of the image with Gaussian noise
 * of standard deviation sigma * (max - min of the image). The paper finds sigma 10-20% and n about 50
 * work well; the defaults (n = 25, sigma = 0.15) trade a little smoothness for half the time. The
 * target position is fixed on the clean image, so every noisy copy explains the same activation.
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels, imageGradient } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';

export interface SmoothGradOptions {
  samples?: number;
  /** Noise level as a fraction of the image's value range. */
  sigma?: number;
  /** Noisy copies per gradient call. */
  batchSize?: number;
  seed?: number;
  /** Average squared gradients instead (the paper's 'SmoothGrad-Squared' variant). */
  squared?: boolean;
}

export class SmoothGrad extends BaseMethod {
  readonly name = 'smoothgrad' as const;
  readonly options: Required<SmoothGradOptions>;

  constructor(model: ConvNet, options: SmoothGradOptions = {}) {
    super(model);
    this.options = { samples: 25, sigma: 0.15, batchSize: 5, seed: 0, squared: false, ...options };
    if (!(this.options.samples >= 1)) throw new Error('smoothgrad: samples must be >= 1');
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const { samples, sigma, batchSize, seed, squared } = this.options;
    const [, h, w] = image.shape;
    const range = tf.tidy(() => tf.sub(tf.max(image), tf.min(image)).dataSync()[0]);
    const std = sigma * (range > 0 ? range : 255);
    let total = tf.zeros([h, w, 3]);
    for (let start = 0, k = 0; start < samples; start += batchSize, k++) {
      const n = Math.min(batchSize, samples - start);
      const next = tf.tidy(() => {
        const noisy = tf.add(tf.tile(image, [n, 1, 1, 1]), tf.randomNormal([n, h, w, 3], 0, std, 'float32', seed + k)) as Tensor4D;
        const g = imageGradient(this.model, noisy, target, 'normal');
        return tf.add(total, tf.sum(squared ? tf.square(g) : g, 0));
      });
      total.dispose();
      total = next;
      await new Promise((r) => setImmediate(r));
    }
    const mean = tf.div(total, samples);
    const pixels = (await mean.data()) as Float32Array;
    mean.dispose();
    total.dispose();
    return { pixels, heat: heatFromPixels(pixels, w, h), params: { samples, sigma, noiseStd: std, batchSize, seed, squared } };
  }
}
