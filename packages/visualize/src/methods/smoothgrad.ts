/**
 * SmoothGrad (Smilkov et al. 2017): the mean gradient over n copies of the image with Gaussian noise
 * of standard deviation sigma * (max - min of the image). The paper finds sigma 10-20% and n about 50
 * work well; the defaults (n = 25, sigma = 0.15) trade a little smoothness for half the time. The
 * target position is fixed on the clean image, so every noisy copy explains the same activation.
 * For units inside a network (rather than class logits) noise that strong often switches the unit
 * off (MobileNetV2's block_13 units go from 3.4 to about -2 before the ReLU at sigma 0.15), leaving a
 * zero gradient: params.zeroGradientSamples counts those samples; use a smaller sigma (0.02) there.
 *
 *   M_hat(x) = 1/n sum_{i=1..n} M(x + g_i),   g_i ~ N(0, sigma^2 (x_max - x_min)^2)
 */
import { tf, opSeed, type Tensor4D } from '@convlab/core';
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
    let zeroSamples = 0;
    for (let start = 0, k = 0; start < samples; start += batchSize, k++) {
      const n = Math.min(batchSize, samples - start);
      const [next, zeros] = tf.tidy(() => {
        const noisy = tf.add(tf.tile(image, [n, 1, 1, 1]), tf.randomNormal([n, h, w, 3], 0, std, 'float32', opSeed(seed, k))) as Tensor4D;
        const g = imageGradient(this.model, noisy, target, 'normal');
        // Samples whose gradient vanished (the noise switched the target unit off, or saturated it).
        const zero = tf.sum(tf.cast(tf.equal(tf.sum(tf.abs(g), [1, 2, 3]), 0), 'int32'));
        return [tf.add(total, tf.sum(squared ? tf.square(g) : g, 0)), zero];
      });
      zeroSamples += zeros.dataSync()[0];
      zeros.dispose();
      total.dispose();
      total = next;
      await new Promise((r) => setImmediate(r));
    }
    const mean = tf.div(total, samples);
    const pixels = (await mean.data()) as Float32Array;
    mean.dispose();
    total.dispose();
    return { pixels, heat: heatFromPixels(pixels, w, h), params: { samples, sigma, noiseStd: std, batchSize, seed, squared, zeroGradientSamples: zeroSamples } };
  }
}
