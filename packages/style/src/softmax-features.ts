/**
 * Softmax features: Wang, Li, Wang & Vasconcelos, "Rethinking and improving the robustness of image style
 * transfer" (CVPR 2021). Style statistics of a network without residual connections' peaky activations are
 * taken on a softmax over every activation of the map instead of the raw features F:
 *
 *   sigma(F)_i = exp(F_i / T) / sum_j exp(F_j / T)          (over all h w c activations)
 *
 * scaled here by the element count n (so its mean is 1 whatever the layer size) before the Gram matrix
 * (or sliced Wasserstein) statistics. `--softmax-temperature T` switches it on; T = 0 is off.
 */
import { tf, type Tensor } from '@convlab/core';

/** n sigma(F / T) over the whole map, in F's shape. */
export function softmaxFeatures(f: Tensor, temperature: number): Tensor {
  return tf.tidy(() => {
    const flat = tf.reshape(f, [1, -1]);
    const s = tf.softmax(tf.div(flat, temperature));
    return tf.reshape(tf.mul(s, flat.shape[1]!), f.shape);
  });
}
