/**
 * Input x gradient (Shrikumar et al. 2016, "Not Just a Black Box"; analysed by Ancona et al. 2018): the
 * gradient times the input, in the network's input space, as captum's InputXGradient:
 *
 *   R_i(x) = z_i * dF/dz_i,   z = preprocess(x)
 *
 * With an affine per-channel preprocessing z = a (x - x0) (x0 = the pixel the network sees as zero:
 * black for x/255 models, 127.5 for [-1, 1], the mean pixel for caffe) this is, in RGB order,
 *
 *   R_i(x) = (x_i - x0_i) * dF/dx_i
 *
 * which is what is computed (for any preprocessing). For a linear model it is exact: sum_i R_i = F(x) - F(x0).
 */
import { tf, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { BaseMethod, heatFromPixels, imageGradient } from '../attribution.js';
import type { ResolvedTarget } from '../target.js';
import { zeroPixel } from './scores.js';

export class InputXGradient extends BaseMethod {
  readonly name = 'input-x-gradient' as const;

  constructor(model: ConvNet) {
    super(model);
  }

  protected async compute(image: Tensor4D, target: ResolvedTarget) {
    const zero = zeroPixel(this.model);
    const [, h, w] = image.shape;
    const attr = tf.tidy(() => tf.mul(tf.sub(image, tf.tensor1d(zero)), imageGradient(this.model, image, target, 'normal')));
    const pixels = (await attr.data()) as Float32Array;
    attr.dispose();
    return { pixels, heat: heatFromPixels(pixels, w, h), params: { reference: zero.map((v) => Math.round(v * 1000) / 1000) } };
  }
}
