/**
 * Grad-CAM (Selvaraju et al. 2017): weights alpha_k = spatial mean of d(target)/dA_k at a conv layer A,
 * map = ReLU(sum_k alpha_k A_k), upsampled bilinearly to the image. The gradient w.r.t. A comes from
 * re-running the network with A replaced by a differentiable copy (ForwardOptions.override).
 * Default CAM layer: the model's last conv-block output (`layerForRole('last-conv')`, @convlab/models'
 * feature info) for a class target, as the paper takes the last convolutional layer; the target's own
 * layer for a unit target (any layer up to it can be chosen). At the unit's own layer the CAM is only
 * the unit's activation map (dS/dA is one-hot at the unit), which the map's warnings say.
 */
import { ConvlabError, tf, type Tensor, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod } from '../attribution.js';
import { selectTarget, spatialLayers, targetSource, type ResolvedTarget, type Target } from '../target.js';
import { sameLayerWarning } from './cam-common.js';

export interface GradCamOptions {
  /** Layer to compute the CAM at (name or alias). */
  layer?: string;
}

/** The CAM layer for a target: the option, else the last conv-block output for a class, else the target's layer. */
export function camLayerFor(model: ConvNet, target: ResolvedTarget, layer?: string): string {
  return layer ?? (target.kind === 'class' ? model.layerForRole('last-conv') : target.layer);
}

export interface CamResult {
  /** Upsampled map [h, w], non-negative. */
  heat: Float32Array;
  coarse: { data: Float32Array; height: number; width: number; layer: string };
}

export function gradCam(model: ConvNet, image: Tensor4D, target: ResolvedTarget, camLayerName: string): CamResult {
  const camLayer = model.resolveLayer(camLayerName);
  const order = new Map(model.layers.map((l, i) => [l.name, i]));
  if ((order.get(camLayer) ?? 0) > (order.get(target.layer) ?? 0)) {
    throw new ConvlabError(`Grad-CAM layer ${camLayer} comes after the target layer ${target.layer}`, {
      hint: `pick a CAM layer at or before ${target.layer}, e.g. one of: ${spatialLayers(model)
        .filter((n) => (order.get(n) ?? 0) <= (order.get(target.layer) ?? 0))
        .slice(-5)
        .join(', ')}`,
    });
  }
  if (model.layer(camLayer).outputShape.length !== 4) {
    throw new ConvlabError(`Grad-CAM layer ${camLayer} has no spatial map`, { hint: `use one of: ${spatialLayers(model).slice(-8).join(', ')}` });
  }
  const [, H, W] = image.shape;
  return tf.tidy(() => {
    const x = model.preprocess(image);
    const A = model.forward(x, { outputs: [camLayer] })[camLayer] as Tensor4D;
    const score = (a: Tensor) => {
      const out = targetSource(model, x, target, { override: (name) => (name === camLayer ? a : undefined) });
      return selectTarget(out, target);
    };
    const grads = tf.grad(score)(A) as Tensor4D;
    const alpha = tf.mean(grads, [1, 2], true);
    const cam = tf.relu(tf.sum(tf.mul(A, alpha), 3, true)) as Tensor4D; // [1, h, w, 1]
    const [, h, w] = cam.shape;
    const up = tf.image.resizeBilinear(cam, [H, W], false, true);
    return {
      heat: up.dataSync() as Float32Array,
      coarse: { data: cam.dataSync() as Float32Array, height: h, width: w, layer: camLayer },
    };
  });
}

export class GradCam extends BaseMethod {
  readonly name = 'gradcam' as const;
  readonly options: GradCamOptions;

  constructor(model: ConvNet, options: GradCamOptions = {}) {
    super(model);
    this.options = options;
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget, _request: Target) {
    const { heat, coarse } = gradCam(this.model, image, target, camLayerFor(this.model, target, this.options.layer));
    return { heat, coarse, params: { layer: coarse.layer }, warnings: sameLayerWarning(target, coarse.layer, 'Grad-CAM') };
  }
}
