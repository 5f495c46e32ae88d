/**
 * Deconvnet projection (Zeiler & Fergus 2013). Their deconvnet reverses each layer: max-unpooling with
 * the switches recorded in the forward pass, ReLU applied to the reconstruction, then the transposed
 * filters. Those three steps are exactly the backward pass of max-pool, of a ReLU whose backward rule
 * is relu(signal) (ignoring the forward input's sign), and of a convolution. So the projection is the
 * gradient of the chosen activation w.r.t. the image with that ReLU rule, which also carries it through
 * batch norm, depthwise convs, ReLU6, residual adds and concats of modern networks. At each ReLU,
 * with R the reconstruction coming down (the forward input f_l is ignored, unlike backprop):
 *
 *   R_l = relu(R_{l+1}) = 1[R_{l+1} > 0] * R_{l+1}
 */
import { tf, type Tensor, type Tensor4D } from '@convlab/core';
import type { ConvNet, ReluBackward } from '@convlab/models';
import { BaseMethod, gradientMap } from '../attribution.js';
import { backwardOptions } from '../backward-rules.js';
import type { ResolvedTarget } from '../target.js';

export class Deconvnet extends BaseMethod {
  readonly name = 'deconvnet' as const;

  constructor(model: ConvNet) {
    super(model);
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    return { ...(await gradientMap(this.model, image, target, 'deconvnet')), params: { relu: 'deconvnet' } };
  }
}

/**
 * Batched projections of one unit at a different position in each image (the top-9 figure): one
 * gradient call for the batch, since the score is a sum of independent per-image terms.
 * images: RGB 0..255 [n, h, w, 3]; positions: [y, x] per image in the layer's map. Returns [n, h, w, 3].
 */
export function projectUnitBatch(
  model: ConvNet,
  images: Tensor4D,
  layer: string,
  unit: number,
  positions: [number, number][],
  relu: ReluBackward = 'deconvnet',
): Float32Array {
  return tf.tidy(() => {
    const f = (img: Tensor) => {
      const act = model.forward(model.preprocess(img), { ...backwardOptions(model, relu), outputs: [layer] })[layer] as Tensor4D;
      const [n, h, w] = act.shape;
      const mask = new Float32Array(n * h * w);
      positions.forEach(([y, x], i) => (mask[i * h * w + y * w + x] = 1));
      const channel = tf.reshape(tf.slice(act, [0, 0, 0, unit], [n, h, w, 1]), [n, h, w]);
      return tf.sum(tf.mul(channel, tf.tensor3d(mask, [n, h, w])));
    };
    return tf.grad(f)(images).dataSync() as Float32Array;
  });
}
