/**
 * One entry point for both optimisers, so a caller exposes `--optimizer lbfgs|adam` with one call:
 * `minimize(lossAndGrad, x0, { optimizer, ... })`. x0 stays the caller's; the result's x is a new tensor.
 */
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import { adamMinimize, type AdamOptions } from './adam.js';
import { minimizeLbfgs, type MinimizeLbfgsOptions } from './lbfgs.js';
import { evaluateLossAndGrad, type LossAndGradFn, type MinimizeResult } from './types.js';

export type OptimizerName = 'lbfgs' | 'adam';

export type MinimizeOptions = (({ optimizer: 'lbfgs' } & MinimizeLbfgsOptions) | ({ optimizer: 'adam' } & AdamOptions)) & {
  /** L-BFGS only: scale an objective with tiny gradients up (see rescaleSmallGradients). Default false. */
  rescaleSmallGradients?: boolean;
};

/**
 * jcjohnson/neural-style's and the PyTorch tutorial's L-BFGS: no line search (one evaluation per
 * iteration, a fixed step lr after the first) and the stopping tolerances off.
 */
export const NO_LINE_SEARCH = { lineSearch: 'none', tolChange: -1, tolGrad: -1 } as const;

export function minimize(lossAndGrad: LossAndGradFn, x0: Tensor, options: MinimizeOptions): Promise<MinimizeResult> {
  if (options.optimizer === 'lbfgs') return minimizeLbfgs(options.rescaleSmallGradients ? rescaleSmallGradients(lossAndGrad) : lossAndGrad, x0, options);
  if (options.optimizer === 'adam') return adamMinimize(lossAndGrad, x0, options);
  throw new ConvlabError(`unknown optimizer "${(options as { optimizer: string }).optimizer}"`, { hint: 'use lbfgs or adam' });
}

/**
 * L-BFGS is nearly invariant to scaling the objective, but not its curvature-pair test (y.s > 1e-10): with
 * tiny gradients (a random VGG on 0..255 inputs at 256 px: ~1e-5 per pixel) every pair is dropped and the
 * run degenerates into unit steps along -g that barely move x. An objective whose first gradient has a
 * mean |g| below 1e-3 is scaled up to 1e-2, the regime of the trained trunks (InceptionV3 3e-3..1e-2,
 * MobileNetV2 1.5e-2 at 128-256 px), which are left exactly as they are.
 */
export function rescaleSmallGradients(lossAndGrad: LossAndGradFn): LossAndGradFn {
  let scale = 0;
  return async (x) => {
    const { loss, grad } = await evaluateLossAndGrad(lossAndGrad, x);
    if (scale === 0) {
      const meanAbs = tf.tidy(() => tf.mean(tf.abs(grad)).dataSync()[0]);
      scale = Number.isFinite(meanAbs) && meanAbs > 0 && meanAbs < 1e-3 ? 1e-2 / meanAbs : 1;
    }
    if (scale === 1) return { loss, grad };
    const scaled = tf.mul(grad, scale);
    grad.dispose();
    return { loss: loss * scale, grad: scaled };
  };
}
