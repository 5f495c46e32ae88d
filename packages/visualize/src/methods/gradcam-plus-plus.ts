/**
 * Grad-CAM++ (Chattopadhyay, Sarkar, Howlader & Balasubramanian, WACV 2018). Pixel-wise weights of the
 * gradients at a conv layer A, derived for the score passed through an exponential, Y = exp(S), with S
 * the class logit (or unit activation), piecewise linear in A for a ReLU network. Then
 * dY/dA = Y g, d2Y/dA2 = Y g^2, d3Y/dA3 = Y g^3 with g = dS/dA, and the closed form (their Eq. 19) is
 *
 *   alpha_ij^k = g_ij^k^2 / ( 2 g_ij^k^2 + sum_ab A_ab^k g_ij^k^3 )      (0 where g = 0)
 *   w_k = sum_ij alpha_ij^k relu(g_ij^k)
 *   L = relu( sum_k w_k A^k ),   upsampled bilinearly to the image
 *
 * (the common factor Y of dY/dA in w_k scales every weight alike and is left out, as the authors'
 * code does). The CAM layer defaults as Grad-CAM's: the last conv-block output for a class target.
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { camLayerFor, type GradCamOptions } from './gradcam.js';
import { camGradients, camResult, checkCamLayer, sameLayerWarning } from './cam-common.js';

/** The Grad-CAM++ coarse map [1, h, w, 1] from A and g = dS/dA. */
export function gradCamPlusPlusMap(A: Tensor4D, grads: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const g2 = tf.square(grads);
    const g3 = tf.mul(g2, grads);
    const sumA = tf.sum(A, [1, 2], true);
    const denom = tf.add(tf.mul(2, g2), tf.mul(sumA, g3));
    const safe = tf.where(tf.equal(denom, 0), tf.onesLike(denom), denom);
    const alpha = tf.where(tf.logicalOr(tf.equal(grads, 0), tf.equal(denom, 0)), tf.zerosLike(g2), tf.div(g2, safe));
    const weights = tf.sum(tf.mul(alpha, tf.relu(grads)), [1, 2], true);
    return tf.relu(tf.sum(tf.mul(weights, A), 3, true)) as Tensor4D;
  });
}

export class GradCamPlusPlus extends BaseMethod {
  readonly name = 'gradcam-pp' as const;
  readonly options: GradCamOptions;

  constructor(model: ConvNet, options: GradCamOptions = {}) {
    super(model);
    this.options = options;
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const layer = checkCamLayer(this.model, target, camLayerFor(this.model, target, this.options.layer), 'Grad-CAM++');
    const { A, grads } = camGradients(this.model, image, target, layer);
    const cam = gradCamPlusPlusMap(A, grads);
    const { heat, coarse } = camResult(cam, image.shape[1], image.shape[2], layer);
    tf.dispose([A, grads, cam]);
    return { heat, coarse, params: { layer }, warnings: sameLayerWarning(target, layer, 'Grad-CAM++') };
  }
}
