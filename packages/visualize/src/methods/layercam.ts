/**
 * LayerCAM (Jiang, Zhang, Hou, Cheng & Wei, "LayerCAM: Exploring Hierarchical Class Activation Maps
 * for Localization", IEEE TIP 2021): each activation is weighted by its own positive gradient instead
 * of a channel-wide mean, which keeps fine detail at shallow layers (their Eqs. 6-8):
 *
 *   w_ij^k = relu(dS/dA_ij^k),   M = relu( sum_k w_ij^k A_ij^k )
 *
 * One layer (the default, chosen like Grad-CAM's: the last conv-block output for a class target) is
 * that map upsampled bilinearly. Several layers (`layers`) are fused as the paper does: maps of
 * shallow layers are small in value next to deep ones, so each layer's map is first scaled by their
 * Eq. 9,
 *
 *   M_hat = tanh( gamma M / max(M) ),   gamma = 2
 *
 * (0 where M is all zero), then the scaled maps are resized bilinearly to the largest of them and
 * combined by the element-wise maximum (the fusion of torchcam's LayerCAM.fuse_cams); that fused map is upsampled to the image like a one-layer
 * map. The scaling is applied to every fused layer (torchcam's LayerCAM does the same: tanh is
 * monotone, so for a deep layer it only compresses the top of the range), and the fused map lies in
 * [0, tanh(gamma)] whatever the layers' own scales. Each layer's map comes from its own gradient
 * dS/dA^l of the same score.
 */
import { ConvlabError, tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { camLayerFor, type GradCamOptions } from './gradcam.js';
import { camGradients, camResult, checkCamLayer, sameLayerWarning } from './cam-common.js';

export interface LayerCamOptions extends GradCamOptions {
  /** Layers whose maps are fused (Eq. 9 scaling, element-wise maximum); one layer or none: the plain map of `layer`. */
  layers?: string[];
  /** gamma of the paper's Eq. 9 scaling before fusion (default 2, the paper's). */
  gamma?: number;
}

export function layerCamMap(A: Tensor4D, grads: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.relu(tf.sum(tf.mul(tf.relu(grads), A), 3, true)) as Tensor4D);
}

/**
 * The paper's fusion of per-layer maps [1, h_l, w_l, 1] (non-negative): tanh(gamma M / max M) each,
 * bilinear resize to the largest (h, w), element-wise maximum. Returns [1, h, w, 1].
 */
export function fuseLayerCams(maps: Tensor4D[], gamma = 2): Tensor4D {
  if (maps.length === 0) throw new Error('fuseLayerCams: no maps');
  return tf.tidy(() => {
    const h = Math.max(...maps.map((m) => m.shape[1]));
    const w = Math.max(...maps.map((m) => m.shape[2]));
    const scaled = maps.map((m) => {
      const max = tf.max(m);
      const s = tf.tanh(tf.mul(gamma, tf.divNoNan(m, max))) as Tensor4D;
      return m.shape[1] === h && m.shape[2] === w ? s : tf.image.resizeBilinear(s, [h, w], false, true);
    });
    return scaled.reduce((a, b) => tf.maximum(a, b)) as Tensor4D;
  });
}

export class LayerCam extends BaseMethod {
  readonly name = 'layercam' as const;
  readonly options: LayerCamOptions;

  constructor(model: ConvNet, options: LayerCamOptions = {}) {
    super(model);
    const gamma = options.gamma ?? 2;
    if (!(gamma > 0 && Number.isFinite(gamma))) throw new ConvlabError(`LayerCAM gamma ${gamma} must be a number > 0`, { hint: 'the paper uses 2' });
    this.options = { ...options, gamma };
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const wanted = this.options.layers?.length ? this.options.layers : [camLayerFor(this.model, target, this.options.layer)];
    const layers = [...new Set(wanted.map((l) => checkCamLayer(this.model, target, l, 'LayerCAM')))];
    const [, H, W] = image.shape;
    if (layers.length === 1) {
      const { A, grads } = camGradients(this.model, image, target, layers[0]);
      const cam = layerCamMap(A, grads);
      const { heat, coarse } = camResult(cam, H, W, layers[0]);
      tf.dispose([A, grads, cam]);
      return { heat, coarse, params: { layer: layers[0] }, warnings: sameLayerWarning(target, layers[0], 'LayerCAM') };
    }
    const maps: Tensor4D[] = [];
    const layerMax: number[] = [];
    for (const layer of layers) {
      const { A, grads } = camGradients(this.model, image, target, layer);
      const cam = layerCamMap(A, grads);
      tf.dispose([A, grads]);
      maps.push(cam);
      layerMax.push(tf.tidy(() => tf.max(cam).dataSync()[0]));
      await new Promise((r) => setImmediate(r));
    }
    const fused = fuseLayerCams(maps, this.options.gamma);
    const { heat, coarse } = camResult(fused, H, W, layers.join('+'));
    tf.dispose([...maps, fused]);
    return {
      heat,
      coarse,
      params: { layers, gamma: this.options.gamma, fusion: 'max of tanh(gamma M / max M)', layerMax },
      warnings: layers.flatMap((l) => sameLayerWarning(target, l, 'LayerCAM')),
    };
  }
}
