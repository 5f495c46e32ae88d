/** The interface shared by the optimisers (L-BFGS, Adam): one tensor x, a loss and its gradient. */
import { ConvlabError, tf, type Scalar, type Tensor } from '@convlab/core';

export interface LossAndGrad {
  /** The loss at x, as a scalar tensor (the optimiser reads and disposes it) or a number. */
  loss: Scalar | number;
  /** d loss / d x, same shape as x; the optimiser takes it over and disposes it. */
  grad: Tensor;
}

/**
 * Evaluate the objective at x. x belongs to the optimiser: do not dispose or keep it.
 * Build one from a plain loss function with `lossAndGradOf`.
 */
export type LossAndGradFn = (x: Tensor) => LossAndGrad | Promise<LossAndGrad>;

export type StopReason =
  | 'maxIterations'
  | 'maxEvaluations'
  /** max |gradient| fell to tolGrad */
  | 'gradientTolerance'
  /** the last step moved x by at most tolChange (max norm) */
  | 'stepTolerance'
  /** the loss changed by less than tolChange */
  | 'lossTolerance'
  /** the search direction was not a descent direction (g.d > -tolChange): nothing left to gain */
  | 'notDescent'
  /** the loss became NaN or infinite; x is the last iterate with a finite loss */
  | 'nonFinite'
  /** onIteration returned false */
  | 'callback'
  /** the AbortSignal fired */
  | 'aborted';

export interface IterationInfo {
  /** 1-based iteration number. */
  iteration: number;
  /** Loss at the new x. */
  loss: number;
  /** Objective evaluations so far (line-search trials included). */
  evaluations: number;
  /** The new iterate, owned by the optimiser: clone it to keep it past the callback. */
  x: Tensor;
  /** Step length taken along the search direction (L-BFGS) or the learning rate (Adam). */
  step: number;
}

export interface MinimizeResult {
  /** Final iterate, a tensor the caller owns. */
  x: Tensor;
  /** Loss at x0, then at the iterate after each iteration (length iterations + 1). */
  losses: number[];
  iterations: number;
  evaluations: number;
  stopReason: StopReason;
}

/** Wrap a differentiable loss function (x -> scalar) as a LossAndGradFn through tf.valueAndGrad. */
export function lossAndGradOf(loss: (x: Tensor) => Scalar): LossAndGradFn {
  const vg = tf.valueAndGrad(loss);
  return (x) => {
    const { value, grad } = vg(x);
    return { loss: value, grad };
  };
}

/** Call the objective, read the loss as a number, check the gradient's shape. */
export async function evaluateLossAndGrad(fn: LossAndGradFn, x: Tensor): Promise<{ loss: number; grad: Tensor }> {
  const out = await fn(x);
  let loss: number;
  if (typeof out.loss === 'number') {
    loss = out.loss;
  } else {
    loss = (await out.loss.data())[0];
    out.loss.dispose();
  }
  const { grad } = out;
  if (grad.shape.length !== x.shape.length || grad.shape.some((v, i) => v !== x.shape[i])) {
    grad.dispose();
    throw new ConvlabError(`optimiser: gradient has shape [${grad.shape.join(', ')}], x has [${x.shape.join(', ')}]`, {
      hint: 'the loss function must return the gradient with respect to x itself',
    });
  }
  return { loss, grad };
}
