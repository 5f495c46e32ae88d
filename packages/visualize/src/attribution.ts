/**
 * One interface for every attribution method (captum-style):
 *
 *   const method = createMethod('deconvnet', model);
 *   const map = await method.attribute(image, { layer: 'block_6_expand_relu', unit: 12 });
 *
 * `image` is an RgbImage or a float tensor [h, w, 3] / [1, h, w, 3] with values 0..255, at the size
 * the model should see. A map holds per-pixel, per-channel values in image space (gradient-like
 * methods) and a non-negative 2D heat map (all methods), plus what was explained and how.
 */
import { tf, type RgbImage, type Tensor, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { backwardOptions } from './backward-rules.js';
import type { MethodName } from './names.js';
import { resolveTarget, selectTarget, targetSource, type ResolvedTarget, type Target } from './target.js';

export { METHOD_NAMES, DEFAULT_METHODS, type MethodName } from './names.js';

export const METHOD_TITLES: Record<MethodName, string> = {
  deconvnet: 'Deconvnet (Zeiler & Fergus 2013)',
  guided: 'Guided backprop (Springenberg et al. 2015)',
  saliency: 'Saliency / gradient (Simonyan et al. 2014)',
  smoothgrad: 'SmoothGrad (Smilkov et al. 2017)',
  gradcam: 'Grad-CAM (Selvaraju et al. 2017)',
  'guided-gradcam': 'Guided Grad-CAM (Selvaraju et al. 2017)',
  'integrated-gradients': 'Integrated Gradients (Sundararajan et al. 2017)',
  'input-x-gradient': 'Input x gradient (Shrikumar et al. 2016)',
  vargrad: 'VarGrad (Adebayo et al. 2018)',
  'gradcam-pp': 'Grad-CAM++ (Chattopadhyay et al. 2018)',
  scorecam: 'Score-CAM (Wang et al. 2020)',
  layercam: 'LayerCAM (Jiang et al. 2021)',
  occlusion: 'Occlusion, captum-style (Zeiler & Fergus 2014; windows averaged)',
};

export interface AttributionMap {
  method: MethodName;
  width: number;
  height: number;
  /** Attribution in image space [h, w, 3] row-major (gradient-like methods; absent for Grad-CAM). */
  pixels?: Float32Array;
  /** Non-negative heat map [h, w] (for pixel methods: max over channels of |value|, as Simonyan et al.). */
  heat: Float32Array;
  /** Grad-CAM only: the map at the CAM layer's resolution before upsampling. */
  coarse?: { data: Float32Array; height: number; width: number; layer: string };
  target: ResolvedTarget;
  /** Parameters used (method options, with defaults filled in). */
  params: Record<string, unknown>;
  /** Milliseconds spent computing this map. */
  ms: number;
  /** Things a reader of the map must know (an all-zero map and why, a degenerate CAM layer, ...). */
  warnings?: string[];
}

export interface AttributionMethod {
  readonly name: MethodName;
  readonly model: ConvNet;
  attribute(image: RgbImage | Tensor, target: Target): Promise<AttributionMap>;
}

/** Image (RgbImage, [h, w, 3] or [1, h, w, 3], 0..255) -> [1, h, w, 3] float32. Caller disposes. */
export function toBatch(image: RgbImage | Tensor): Tensor4D {
  if ('data' in image && 'width' in image && !('dataId' in image)) {
    const img = image as RgbImage;
    return tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
  }
  const t = image as Tensor;
  if (t.rank === 3) return tf.expandDims(tf.cast(t, 'float32'), 0) as Tensor4D;
  if (t.rank === 4 && t.shape[0] === 1) return tf.cast(t, 'float32') as Tensor4D;
  throw new Error(`attribute: expected an image [h, w, 3] or [1, h, w, 3], got [${t.shape.join(', ')}]`);
}

/** Max over channels of |v| for an [h, w, 3] array. */
export function heatFromPixels(pixels: Float32Array, width: number, height: number): Float32Array {
  const heat = new Float32Array(width * height);
  for (let i = 0; i < heat.length; i++) {
    heat[i] = Math.max(Math.abs(pixels[i * 3]), Math.abs(pixels[i * 3 + 1]), Math.abs(pixels[i * 3 + 2]));
  }
  return heat;
}

/**
 * Gradient of the target w.r.t. the RGB image (0..255) with the given ReLU backward rule.
 * Differentiating through model.preprocess keeps the result in RGB order for every model
 * (VGG's BGR mean subtraction included).
 */
export function imageGradient(model: ConvNet, images: Tensor4D, target: ResolvedTarget, relu: 'normal' | 'deconvnet' | 'guided'): Tensor4D {
  return tf.tidy(() => {
    const f = (img: Tensor) => selectTarget(targetSource(model, model.preprocess(img), target, backwardOptions(model, relu)), target);
    return tf.grad(f)(images) as Tensor4D;
  });
}

/** Shared skeleton: resolve the target, time the computation, package the result. */
export abstract class BaseMethod implements AttributionMethod {
  abstract readonly name: MethodName;
  readonly model: ConvNet;

  constructor(model: ConvNet) {
    this.model = model;
  }

  protected abstract compute(
    image: Tensor4D,
    target: ResolvedTarget,
    request: Target,
  ): Promise<Omit<AttributionMap, 'method' | 'target' | 'ms' | 'width' | 'height'>>;

  async attribute(image: RgbImage | Tensor, target: Target): Promise<AttributionMap> {
    const batch = toBatch(image);
    try {
      const resolved = resolveTarget(this.model, batch, target);
      const t0 = performance.now();
      const result = await this.compute(batch, resolved, target);
      const ms = performance.now() - t0;
      const warnings = [...(result.warnings ?? []), ...zeroMapWarnings(result.heat, resolved)];
      const { warnings: _own, ...rest } = result;
      return { method: this.name, width: batch.shape[2], height: batch.shape[1], target: resolved, ms, ...rest, ...(warnings.length ? { warnings } : {}) };
    } finally {
      batch.dispose();
    }
  }
}

/**
 * A map that is exactly zero everywhere says nothing about the image; say why when the reason is known
 * (a unit at a ReLU6's cap has no gradient: ReLU6' = 0 above 6).
 */
export function zeroMapWarnings(heat: Float32Array, target: ResolvedTarget): string[] {
  if (heat.some((v) => v !== 0)) return [];
  if (target.saturated) {
    return [
      `the map is all zero: ${target.label} is saturated (${target.value.toFixed(3)} at the ReLU6 cap of 6; its pre-activation is ${target.preActivation?.toFixed(3) ?? '>= 6'}), so its gradient is zero; explain the pre-activation instead (--layer ${target.preActivationLayer ?? 'the ReLU6 input'}) or pick another unit`,
    ];
  }
  return [`the map is all zero: ${target.label} does not depend on the input here (a dead or saturated unit)`];
}

/** Run a gradient with a ReLU rule and package it as pixels + heat. */
export async function gradientMap(
  model: ConvNet,
  image: Tensor4D,
  target: ResolvedTarget,
  relu: 'normal' | 'deconvnet' | 'guided',
): Promise<{ pixels: Float32Array; heat: Float32Array }> {
  const g = imageGradient(model, image, target, relu);
  const pixels = (await g.data()) as Float32Array;
  g.dispose();
  const [, h, w] = image.shape;
  return { pixels, heat: heatFromPixels(pixels, w, h) };
}

export type { Target, ResolvedTarget } from './target.js';
