/** One entry point for both optimisers, so an app exposes `--optimizer lbfgs|adam` with one call. */
import type * as tf from '@tensorflow/tfjs-core';
import { ConvlabError } from '../errors.js';
import { adamMinimize, type AdamOptions } from './adam.js';
import { minimizeLbfgs, type MinimizeLbfgsOptions } from './lbfgs.js';
import type { LossAndGradFn, MinimizeResult } from './types.js';

export type OptimizerName = 'lbfgs' | 'adam';

export type MinimizeOptions = ({ optimizer: 'lbfgs' } & MinimizeLbfgsOptions) | ({ optimizer: 'adam' } & AdamOptions);

export function minimize(lossAndGrad: LossAndGradFn, x0: tf.Tensor, options: MinimizeOptions): Promise<MinimizeResult> {
  if (options.optimizer === 'lbfgs') return minimizeLbfgs(lossAndGrad, x0, options);
  if (options.optimizer === 'adam') return adamMinimize(lossAndGrad, x0, options);
  throw new ConvlabError(`unknown optimizer "${(options as { optimizer: string }).optimizer}"`, { hint: 'use lbfgs or adam' });
}
