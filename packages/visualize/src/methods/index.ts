/** Factory for the attribution methods by name (CLI --methods, report, sanity check). */
import type { ConvNet } from '@convlab/models';
import type { AttributionMethod } from '../attribution.js';
import { parseMethodName, type MethodName } from '../names.js';
import { Deconvnet } from './deconvnet.js';
import { GuidedBackprop } from './guided-backprop.js';
import { Saliency } from './saliency.js';
import { SmoothGrad, type SmoothGradOptions } from './smoothgrad.js';
import { GradCam, type GradCamOptions } from './gradcam.js';
import { GuidedGradCam } from './guided-gradcam.js';
import { IntegratedGradients, type IntegratedGradientsOptions } from './integrated-gradients.js';
import { InputXGradient } from './input-x-gradient.js';
import { VarGrad } from './vargrad.js';
import { GradCamPlusPlus } from './gradcam-plus-plus.js';
import { ScoreCam, type ScoreCamOptions } from './score-cam.js';
import { LayerCam, type LayerCamOptions } from './layercam.js';
import { OcclusionWindows, type OcclusionWindowOptions } from './occlusion-windows.js';

export interface MethodOptions {
  /** SmoothGrad's noise; VarGrad uses the same (samples, sigma, batchSize, seed). */
  smoothgrad?: SmoothGradOptions;
  /** Grad-CAM / guided Grad-CAM layer (also Grad-CAM++, LayerCAM and Score-CAM unless scorecam.layer is given). */
  gradcam?: GradCamOptions;
  integratedGradients?: IntegratedGradientsOptions;
  scorecam?: ScoreCamOptions;
  /** LayerCAM's fusion of several layers (layers, gamma); its single layer is gradcam.layer unless layers are given. */
  layercam?: Omit<LayerCamOptions, 'layer'>;
  occlusion?: OcclusionWindowOptions;
}

export { parseMethodName };

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
    case 'integrated-gradients':
      return new IntegratedGradients(model, options.integratedGradients);
    case 'input-x-gradient':
      return new InputXGradient(model);
    case 'vargrad': {
      const { squared: _squared, ...noise } = options.smoothgrad ?? {};
      return new VarGrad(model, noise);
    }
    case 'gradcam-pp':
      return new GradCamPlusPlus(model, options.gradcam);
    case 'scorecam':
      return new ScoreCam(model, { ...options.scorecam, layer: options.scorecam?.layer ?? options.gradcam?.layer });
    case 'layercam':
      return new LayerCam(model, { ...options.gradcam, ...options.layercam });
    case 'occlusion':
      return new OcclusionWindows(model, options.occlusion);
  }
}

export { Deconvnet, GuidedBackprop, Saliency, SmoothGrad, GradCam, GuidedGradCam, IntegratedGradients, InputXGradient, VarGrad, GradCamPlusPlus, ScoreCam, LayerCam, OcclusionWindows };
