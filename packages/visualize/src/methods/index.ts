/** Factory for the attribution methods by name (CLI --methods, report, sanity check). */
import { ConvlabError } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { METHOD_NAMES, type AttributionMethod, type MethodName } from '../attribution.js';
import { Deconvnet } from './deconvnet.js';
import { GuidedBackprop } from './guided-backprop.js';
import { Saliency } from './saliency.js';
import { SmoothGrad, type SmoothGradOptions } from './smoothgrad.js';
import { GradCam, type GradCamOptions } from './gradcam.js';
import { GuidedGradCam } from './guided-gradcam.js';

export interface MethodOptions {
  smoothgrad?: SmoothGradOptions;
  /** Grad-CAM / guided Grad-CAM layer. */
  gradcam?: GradCamOptions;
}

const ALIASES: Record<string, MethodName> = {
  guided_backprop: 'guided',
  'guided-backprop': 'guided',
  guidedbackprop: 'guided',
  gradient: 'saliency',
  vanilla: 'saliency',
  'grad-cam': 'gradcam',
  guided_gradcam: 'guided-gradcam',
  'guided-grad-cam': 'guided-gradcam',
};

export function parseMethodName(name: string): MethodName {
  const n = name.trim().toLowerCase();
  if ((METHOD_NAMES as readonly string[]).includes(n)) return n as MethodName;
  if (ALIASES[n]) return ALIASES[n];
  throw new ConvlabError(`unknown attribution method "${name}"`, { hint: `use any of: ${METHOD_NAMES.join(', ')}` });
}

export function createMethod(name: MethodName | string, model: ConvNet, options: MethodOptions = {}): AttributionMethod {
  switch (parseMethodName(name)) {
    case 'deconvnet':
      return new Deconvnet(model);
    case 'guided':
      return new GuidedBackprop(model);
    case 'saliency':
      return new Saliency(model);
    case 'smoothgrad':
      return new SmoothGrad(model, options.smoothgrad);
    case 'gradcam':
      return new GradCam(model, options.gradcam);
    case 'guided-gradcam':
      return new GuidedGradCam(model, options.gradcam);
  }
}

export { Deconvnet, GuidedBackprop, Saliency, SmoothGrad, GradCam, GuidedGradCam };
