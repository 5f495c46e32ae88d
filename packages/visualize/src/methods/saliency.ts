/**
 * Saliency (Simonyan, Vedaldi & Zisserman 2014): the plain gradient of the target w.r.t. the image;
 * the heat map is max over colour channels of its absolute value:
 *
 *   w = dS_c/dI (at the image I),   M_ij = max_k |w_ijk|
 */
import type { ConvNet } from '@convlab/models';
import type { Tensor4D } from '@convlab/core';
import { BaseMethod, gradientMap } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';

export class Saliency extends BaseMethod {
  readonly name = 'saliency' as const;

  constructor(model: ConvNet) {
    super(model);
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    return { ...(await gradientMap(this.model, image, target, 'normal')), params: { relu: 'normal' } };
  }
}
