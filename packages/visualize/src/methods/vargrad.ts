/**
 * VarGrad (Adebayo, Gilmer, Goodfellow & Kim, "Local Explanation Methods for Deep Neural Networks Lack
 * Sensitivity to Parameter Values", ICLR workshop 2018): the variance, rather than SmoothGrad's mean,
 * of the gradient over noisy copies of the image:
 *
 *   VG(x) = V_g[ dF/dx (x + g) ] = 1/n sum_i (G_i - mean_j G_j)^2,   g_i ~ N(0, sigma^2 (x_max - x_min)^2)
 *
 * Noise as SmoothGrad (sigma a fraction of the image's range). The variance is accumulated batch by
 * batch with Chan et al.'s pairwise update (no E[G^2] - E[G]^2 cancellation). The map is non-negative
 * per colour channel; the heat map is its max over channels.
 */
import { opSeed, tf, type Tensor, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels, imageGradient } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import type { SmoothGradOptions } from './smoothgrad.js';

export type VarGradOptions = Omit<SmoothGradOptions, 'squared'>;

export class VarGrad extends BaseMethod {
  readonly name = 'vargrad' as const;
  readonly options: Required<VarGradOptions>;

  constructor(model: ConvNet, options: VarGradOptions = {}) {
    super(model);
    this.options = { samples: 25, sigma: 0.15, batchSize: 5, seed: 0, ...options };
    if (!(this.options.samples >= 2)) throw new Error('vargrad: samples must be >= 2 (a variance needs two)');
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const { samples, sigma, batchSize, seed } = this.options;
    const [, h, w] = image.shape;
    const range = tf.tidy(() => tf.sub(tf.max(image), tf.min(image)).dataSync()[0]);
    const std = sigma * (range > 0 ? range : 255);
    let mean: Tensor = tf.zeros([h, w, 3]);
    let m2: Tensor = tf.zeros([h, w, 3]);
    let count = 0;
    for (let start = 0, k = 0; start < samples; start += batchSize, k++) {
      const n = Math.min(batchSize, samples - start);
      const [nextMean, nextM2] = tf.tidy(() => {
        // The same noise stream as SmoothGrad's for the same seed: VarGrad and SmoothGrad see the same copies.
        const noisy = tf.add(tf.tile(image, [n, 1, 1, 1]), tf.randomNormal([n, h, w, 3], 0, std, 'float32', opSeed(seed, k))) as Tensor4D;
        const g = imageGradient(this.model, noisy, target, 'normal');
        const bMean = tf.mean(g, 0);
        const bM2 = tf.sum(tf.square(tf.sub(g, bMean)), 0);
        const delta = tf.sub(bMean, mean);
        const total = count + n;
        return [tf.add(mean, tf.mul(delta, n / total)), tf.add(tf.add(m2, bM2), tf.mul(tf.square(delta), (count * n) / total))];
      });
      mean.dispose();
      m2.dispose();
      mean = nextMean;
      m2 = nextM2;
      count += n;
      await new Promise((r) => setImmediate(r));
    }
    const variance = tf.div(m2, count);
    const pixels = (await variance.data()) as Float32Array;
    variance.dispose();
    mean.dispose();
    m2.dispose();
    return { pixels, heat: heatFromPixels(pixels, w, h), params: { samples, sigma, noiseStd: std, batchSize, seed } };
  }
}
