/**
 * The image optimisers, both from @convlab/core: L-BFGS (torch-style; the default, as in Gatys et al. and
 * jcjohnson/neural-style) and Adam. This module adapts them to the style objective and its loss parts.
 */
import { adamMinimize, minimizeLbfgs, tf, type IterationInfo, type Tensor, type Tensor4D } from '@convlab/core';
import type { IterationLosses } from './record.js';
import { LBFGS_HISTORY } from './memory-estimate.js';

export interface ObjectiveValue {
  loss: number;
  /** Gradient w.r.t. the image; the optimiser takes it over. */
  grad: Tensor4D;
  parts: IterationLosses;
}

export type Objective = (x: Tensor4D) => ObjectiveValue;

export interface MinimizeOptions {
  optimizer: 'lbfgs' | 'adam';
  iterations: number;
  learningRate: number;
  signal?: AbortSignal;
  /** After each iteration: 1-based iteration, the losses of the last evaluation, and the iterate (borrowed). */
  onIteration: (iteration: number, losses: IterationLosses, x: Tensor4D) => Promise<void> | void;
}

/** Minimise from x0 (consumed). Returns the final iterate, owned by the caller. */
export async function minimize(objective: Objective, x0: Tensor4D, o: MinimizeOptions): Promise<Tensor4D> {
  let lastParts: IterationLosses | undefined;
  // L-BFGS is nearly invariant to scaling the objective, but not its curvature-pair test (y.s > 1e-10): with tiny
  // gradients (a random VGG on 0..255 inputs at 256 px: ~1e-5 per pixel) every pair is dropped and the run
  // degenerates into unit steps along -g that barely move the image. Objectives whose first gradient has a mean
  // |g| below 1e-3 are scaled up to 1e-2, the regime of the trained trunks (InceptionV3 3e-3..1e-2,
  // MobileNetV2 1.5e-2 at 128-256 px), which are left exactly as they are.
  let scale = o.optimizer === 'lbfgs' ? 0 : 1;
  const lossAndGrad = (x: Tensor) => {
    const r = objective(x as Tensor4D);
    lastParts = r.parts;
    if (scale === 0) {
      const meanAbs = tf.tidy(() => tf.mean(tf.abs(r.grad)).dataSync()[0]);
      scale = Number.isFinite(meanAbs) && meanAbs > 0 && meanAbs < 1e-3 ? 1e-2 / meanAbs : 1;
    }
    if (scale === 1) return { loss: r.loss, grad: r.grad };
    const grad = tf.mul(r.grad, scale);
    r.grad.dispose();
    return { loss: r.loss * scale, grad };
  };
  const onIteration = async (info: IterationInfo) => {
    await o.onIteration(info.iteration, lastParts!, info.x as Tensor4D);
  };
  try {
    const result =
      o.optimizer === 'adam'
        ? await adamMinimize(lossAndGrad, x0, { maxIterations: o.iterations, learningRate: o.learningRate, signal: o.signal, onIteration })
        : await minimizeLbfgs(lossAndGrad, x0, {
            maxIterations: o.iterations,
            maxEvaluations: o.iterations + 1,
            historySize: LBFGS_HISTORY,
            // jcjohnson/neural-style and the PyTorch tutorial run L-BFGS without a line search: one evaluation per iteration.
            lineSearch: 'none',
            learningRate: o.learningRate,
            tolChange: -1,
            tolGrad: -1,
            signal: o.signal,
            onIteration,
          });
    return result.x as Tensor4D;
  } finally {
    x0.dispose();
  }
}
