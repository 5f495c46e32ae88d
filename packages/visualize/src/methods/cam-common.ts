/**
 * What the CAM family (Grad-CAM++, Score-CAM, LayerCAM) shares with Grad-CAM: the layer checks, the
 * activations A of the CAM layer with the target's gradient dS/dA (the network re-run with A replaced
 * by a differentiable copy, as gradcam.ts does), and the bilinear upsampling of the coarse map.
 */
import { ConvlabError, tf, type Tensor, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { selectTarget, spatialLayers, targetSource, type ResolvedTarget } from '../target.js';

/** Refuse a CAM layer after the target or without a spatial map; return its canonical name. */
export function checkCamLayer(model: ConvNet, target: ResolvedTarget, camLayerName: string, method: string): string {
  const camLayer = model.resolveLayer(camLayerName);
  const order = new Map(model.layers.map((l, i) => [l.name, i]));
  if ((order.get(camLayer) ?? 0) > (order.get(target.layer) ?? 0)) {
    throw new ConvlabError(`${method} layer ${camLayer} comes after the target layer ${target.layer}`, {
      hint: `pick a CAM layer at or before ${target.layer}, e.g. one of: ${spatialLayers(model)
        .filter((n) => (order.get(n) ?? 0) <= (order.get(target.layer) ?? 0))
        .slice(-5)
        .join(', ')}`,
    });
  }
  if (model.layer(camLayer).outputShape.length !== 4) {
    throw new ConvlabError(`${method} layer ${camLayer} has no spatial map`, { hint: `use one of: ${spatialLayers(model).slice(-8).join(', ')}` });
  }
  return camLayer;
}

/**
 * A CAM of a unit target at the unit's own layer is that unit's activation map: dS/dA is one-hot at the
 * unit (and its position), so every CAM weight but the unit's is zero. Said in the map's warnings.
 */
export function sameLayerWarning(target: ResolvedTarget, camLayer: string, method: string): string[] {
  if (target.kind !== 'unit' || target.layer !== camLayer) return [];
  return [
    `${method} at the target's own layer (${camLayer}) is just the unit's activation map (dS/dA is one-hot at the unit): pick an earlier --cam-layer to see which features of the layer below drive it`,
  ];
}

/** Activations A [1, h, w, k] of the CAM layer and dS/dA. Caller disposes. */
export function camGradients(model: ConvNet, image: Tensor4D, target: ResolvedTarget, camLayer: string): { A: Tensor4D; grads: Tensor4D } {
  return tf.tidy(() => {
    const x = model.preprocess(image);
    const A = model.forward(x, { outputs: [camLayer] })[camLayer] as Tensor4D;
    const score = (a: Tensor) => selectTarget(targetSource(model, x, target, { override: (name) => (name === camLayer ? a : undefined) }), target);
    const grads = tf.grad(score)(A) as Tensor4D;
    return { A, grads };
  });
}

/** Package a coarse map [1, h, w, 1] (non-negative) with its bilinear upsampling to the image (as Grad-CAM). */
export function camResult(cam: Tensor4D, height: number, width: number, layer: string): { heat: Float32Array; coarse: { data: Float32Array; height: number; width: number; layer: string } } {
  return tf.tidy(() => {
    const [, h, w] = cam.shape;
    const up = tf.image.resizeBilinear(cam, [height, width], false, true);
    return { heat: up.dataSync() as Float32Array, coarse: { data: cam.dataSync() as Float32Array, height: h, width: w, layer } };
  });
}
