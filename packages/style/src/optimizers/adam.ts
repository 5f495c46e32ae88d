/**
 * Adam (Kingma & Ba 2015) on one tensor, with the same interface as minimizeLbfgs so apps switch
 * optimisers with one option. The update is tf.train.adam's: bias-corrected moments,
 * x -= lr * m_hat / (sqrt(v_hat) + epsilon). Using tf.train.adam directly works too: keep the image
 * in a tf.variable and call optimizer.applyGradients({[v.name]: grad}) each step.
 */
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import type { IterationInfo, LossAndGradFn, MinimizeResult, StopReason } from './types.js';
import { evaluateLossAndGrad } from './types.js';

export interface AdamOptions {
  /** Updates. Default 100. */
  maxIterations?: number;
  /** Default 0.001 (tf.train.adam); image optimisation usually wants far more (e.g. 1..10 on 0..255 pixels). */
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  /** Default 1e-7 (tfjs's backend epsilon, tf.train.adam's default). */
  epsilon?: number;
  onIteration?: (info: IterationInfo) => void | boolean | Promise<void | boolean>;
  signal?: AbortSignal;
}

export async function adamMinimize(lossAndGrad: LossAndGradFn, x0: Tensor, options: AdamOptions = {}): Promise<MinimizeResult> {
  const maxIterations = options.maxIterations ?? 100;
  const lr = options.learningRate ?? 0.001;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-7;
  if (!(Number.isInteger(maxIterations) && maxIterations > 0)) {
    throw new ConvlabError(`Adam: maxIterations must be a positive integer, got ${maxIterations}`);
  }
  if (!(lr > 0)) throw new ConvlabError(`Adam: learningRate must be positive, got ${lr}`);

  let x = tf.clone(x0);
  let m = tf.zerosLike(x0);
  let v = tf.zerosLike(x0);
  let grad: Tensor | undefined;
  let stopReason: StopReason | undefined;
  let iteration = 0;
  let evaluations = 0;
  const losses: number[] = [];
  try {
    const first = await evaluateLossAndGrad(lossAndGrad, x);
    evaluations = 1;
    losses.push(first.loss);
    grad = first.grad;
    if (!Number.isFinite(first.loss)) stopReason = 'nonFinite';
    while (!stopReason) {
      if (options.signal?.aborted) {
        stopReason = 'aborted';
        break;
      }
      iteration += 1;
      const g: Tensor = grad!;
      const [m1, v1, x1] = tf.tidy((): Tensor[] => {
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const mHat = tf.div(mNew, 1 - beta1 ** iteration);
        const vHat = tf.div(vNew, 1 - beta2 ** iteration);
        return [mNew, vNew, tf.sub(x, tf.div(tf.mul(mHat, lr), tf.add(tf.sqrt(vHat), epsilon)))];
      });
      const next = await evaluateLossAndGrad(lossAndGrad, x1);
      evaluations += 1;
      if (!Number.isFinite(next.loss)) {
        for (const t of [m1, v1, x1, next.grad]) t.dispose();
        iteration -= 1;
        stopReason = 'nonFinite';
        break;
      }
      for (const t of [m, v, x, g]) t.dispose();
      [m, v, x, grad] = [m1, v1, x1, next.grad];
      losses.push(next.loss);
      if (iteration >= maxIterations) stopReason = 'maxIterations';
      const info: IterationInfo = { iteration, loss: next.loss, evaluations, x, step: lr };
      if (options.onIteration && (await options.onIteration(info)) === false && !stopReason) stopReason = 'callback';
    }
  } catch (err) {
    x.dispose();
    throw err;
  } finally {
    m.dispose();
    v.dispose();
    grad?.dispose();
  }
  return { x, losses, iterations: iteration, evaluations, stopReason: stopReason ?? 'maxIterations' };
}
