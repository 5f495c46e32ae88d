/**
 * Guided Grad-CAM (Selvaraju et al. 2017): guided backprop's image-space map multiplied pixel-wise by
 * the upsampled Grad-CAM map, which keeps fine detail only where the target's evidence lies:
 *
 *   M = GuidedBackprop(x) (pixel-wise *) upsample(L_Grad-CAM)
 */
import type { Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, gradientMap, heatFromPixels } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { camLayerFor, gradCam, type GradCamOptions } from './gradcam.js';

export class GuidedGradCam extends BaseMethod {
  readonly name = 'guided-gradcam' as const;
  readonly options: GradCamOptions;

  constructor(model: ConvNet, options: GradCamOptions = {}) {
    super(model);
    this.options = options;
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const cam = gradCam(this.model, image, target, camLayerFor(this.model, target, this.options.layer));
    const guided = await gradientMap(this.model, image, target, 'guided');
    const [, h, w] = image.shape;
    const pixels = new Float32Array(guided.pixels.length);
    for (let i = 0; i < h * w; i++) {
      const c = cam.heat[i];
      pixels[i * 3] = guided.pixels[i * 3] * c;
      pixels[i * 3 + 1] = guided.pixels[i * 3 + 1] * c;
      pixels[i * 3 + 2] = guided.pixels[i * 3 + 2] * c;
    }
    return { pixels, heat: heatFromPixels(pixels, w, h), coarse: cam.coarse, params: { layer: cam.coarse.layer, relu: 'guided' } };
  }
}
