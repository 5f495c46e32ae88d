/**
 * Guided backpropagation (Springenberg et al. 2015): the deconvnet backward rule (keep positive
 * signals) combined with ordinary backprop's gate (only where the forward ReLU input was positive).
 * At each ReLU f_{l+1} = relu(f_l), with R the signal coming down:
 *
 *   R_l = 1[f_l > 0] * 1[R_{l+1} > 0] * R_{l+1}
 */
import type { ConvNet } from '@convlab/models';
import type { Tensor4D } from '@convlab/core';
import { BaseMethod, gradientMap } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';

export class GuidedBackprop extends BaseMethod {
  readonly name = 'guided' as const;

  constructor(model: ConvNet) {
    super(model);
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    return { ...(await gradientMap(this.model, image, target, 'guided')), params: { relu: 'guided' } };
  }
}
