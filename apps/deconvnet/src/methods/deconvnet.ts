/**
 * Deconvnet projection (Zeiler & Fergus 2013). Their deconvnet reverses each layer: max-unpooling with
 * the switches recorded in the forward pass, ReLU applied to the reconstruction, then the transposed
 * filters. Those three steps are exactly the backward pass of max-pool, of a ReLU whose backward rule
 * is relu(signal) (ignoring the forward input's sign), and of a convolution. So the projection is the
 * gradient of the chosen activation w.r.t. the image with that ReLU rule, which also carries it through
 * batch norm, depthwise convs, ReLU6, residual adds and concats of modern networks.
 */
import type { ConvNet } from '@convlab/models';
import { BaseMethod, gradientMap } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import type { Tensor4D } from '@convlab/core';

export class Deconvnet extends BaseMethod {
  readonly name = 'deconvnet' as const;

  constructor(model: ConvNet) {
    super(model);
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    return { ...(await gradientMap(this.model, image, target, 'deconvnet')), params: { relu: 'deconvnet' } };
  }
}
