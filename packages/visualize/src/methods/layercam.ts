/**
 * LayerCAM (Jiang, Zhang, Hou, Cheng & Wei, "LayerCAM: Exploring Hierarchical Class Activation Maps
 * for Localization", IEEE TIP 2021): each activation is weighted by its own positive gradient instead
 * of a channel-wide mean, which keeps fine detail at shallow layers:
 *
 *   w_ij^k = relu(dS/dA_ij^k),   L = relu( sum_k w_ij^k A_ij^k ),   upsampled bilinearly
 *
 * The paper fuses maps of several layers (shallow ones scaled by tanh(2 L / max L)); this is the map
 * of one layer, chosen like Grad-CAM's (the last conv-block output for a class target).
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { camLayerFor, type GradCamOptions } from './gradcam.js';
import { camGradients, camResult, checkCamLayer, sameLayerWarning } from './cam-common.js';

export function layerCamMap(A: Tensor4D, grads: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.relu(tf.sum(tf.mul(tf.relu(grads), A), 3, true)) as Tensor4D);
}

export class LayerCam extends BaseMethod {
  readonly name = 'layercam' as const;
  readonly options: GradCamOptions;

  constructor(model: ConvNet, options: GradCamOptions = {}) {
    super(model);
    this.options = options;
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const layer = checkCamLayer(this.model, target, camLayerFor(this.model, target, this.options.layer), 'LayerCAM');
    const { A, grads } = camGradients(this.model, image, target, layer);
    const cam = layerCamMap(A, grads);
    const { heat, coarse } = camResult(cam, image.shape[1], image.shape[2], layer);
    tf.dispose([A, grads, cam]);
    return { heat, coarse, params: { layer }, warnings: sameLayerWarning(target, layer, 'LayerCAM') };
  }
}
