/**
 * L-BFGS for one tensor (an image being optimised), following torch.optim.LBFGS step for step:
 * two-loop recursion over the last `historySize` curvature pairs, H0 = (y.s)/(y.y), a first step of
 * min(1, 1/|g|_1) * lr, pairs with y.s <= 1e-10 skipped, and torch's `_strong_wolfe` line search
 * (cubic interpolation, c1 = 1e-4, c2 = 0.9, at most 25 evaluations) when asked for.
 *
 * The iterate, gradients, direction and curvature pairs are tensors on the active backend. The
 * optimiser's own arithmetic runs as tf ops there, except on tfjs's cpu backend where plain JS loops
 * over the same tensors' data are ~15x faster (see vector-math.ts); only scalars that steer control
 * flow (y.s, g.d, norms, losses) are read back. Tensors that are replaced are disposed at once, so
 * the tensor count stays flat once the history is full, over any number of iterations. Memory: the
 * history holds 2 * historySize copies of x (100 pairs of a 512x512x3 image: 630 MB, as in torch).
 *
 * jcjohnson/neural-style runs torch7's optim.lbfgs with nCorrection 100, learningRate 1, no line
 * search and its tolerances disabled: {historySize: 100, lineSearch: 'none', tolChange: -1, tolGrad: -1}.
 */
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import type { IterationInfo, LossAndGradFn, MinimizeResult, StopReason } from './types.js';
import { evaluateLossAndGrad } from './types.js';
import { vectorMathFor, type VectorMath, type VectorMathKind } from './vector-math.js';

export interface LbfgsOptions {
  /** Iterations (parameter updates). Default 100. */
  maxIterations?: number;
  /**
   * Function evaluations over the whole run, the one at x0 included. Default ceil(maxIterations * 1.25) + 1
   * (torch's max_eval, which counts per step() call, plus the initial evaluation).
   */
  maxEvaluations?: number;
  /** Curvature pairs kept. Default 100 (torch.optim.LBFGS history_size, torch7 optim.lbfgs nCorrection). */
  historySize?: number;
  /** Stop when a step, or the change in loss, is below this. Default 1e-9 (torch). Negative disables. */
  tolChange?: number;
  /** Stop when max |gradient| is at most this. Default 1e-7 (torch). Negative disables. */
  tolGrad?: number;
  /** 'strong-wolfe' (default) or 'none' (fixed step lr after the first iteration, as neural-style). */
  lineSearch?: 'none' | 'strong-wolfe';
  /** Step multiplier (torch's lr). Default 1. */
  learningRate?: number;
  /**
   * How the optimiser's own vector arithmetic runs: 'tf' ops on the active backend, 'js' loops over
   * the tensors' data, or 'auto' (default): 'js' on tfjs's cpu backend, where it is much faster, 'tf'
   * elsewhere. Results agree to float32 rounding.
   */
  vectorMath?: VectorMathKind | 'auto';
}

export interface MinimizeLbfgsOptions extends LbfgsOptions {
  /** Called after every iteration; return false to stop (x is owned by the optimiser: clone to keep). */
  onIteration?: (info: IterationInfo) => void | boolean | Promise<void | boolean>;
  /** Stop (keeping the current x) when this aborts. */
  signal?: AbortSignal;
}

/** A step-wise L-BFGS run: call step() until stopReason is set; read x between steps. */
export interface Lbfgs {
  /** Current iterate, owned by the optimiser (valid until the next step or dispose). */
  readonly x: Tensor;
  readonly loss: number;
  readonly iteration: number;
  readonly evaluations: number;
  /** Loss at x0, then after every iteration. */
  readonly losses: number[];
  /** Set once the run is over; step() then does nothing. */
  stopReason: StopReason | undefined;
  /** One iteration. Returns its info, or undefined when the run had already stopped or stops without moving. */
  step(): Promise<IterationInfo | undefined>;
  /** Hand x to the caller and free everything else. */
  finish(): MinimizeResult;
  /** Free every tensor, x included. */
  dispose(): void;
}

/** torch.optim.lbfgs._cubic_interpolate: minimiser of the cubic through two points with slopes, clamped to bounds. */
export function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [xmin, xmax] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(minPos, xmin), xmax);
  }
  return (xmin + xmax) / 2;
}

interface LineSearchResult {
  loss: number;
  grad: Tensor;
  t: number;
  evaluations: number;
}

/**
 * torch.optim.lbfgs._strong_wolfe. `g` belongs to the caller; the returned grad is a tensor the caller
 * then owns (every other gradient evaluated here is disposed).
 */
async function strongWolfe(
  vm: VectorMath,
  evaluate: (t: number) => Promise<{ loss: number; grad: Tensor }>,
  t0: number,
  d: Tensor,
  f: number,
  g: Tensor,
  gtd: number,
  c1 = 1e-4,
  c2 = 0.9,
  tolChange = 1e-9,
  maxLs = 25,
): Promise<LineSearchResult> {
  const created = new Set<Tensor>();
  const evalAt = async (t: number) => {
    const r = await evaluate(t);
    created.add(r.grad);
    return { ...r, gtd: await vm.dot(r.grad, d) };
  };
  const dNorm = await vm.maxAbs(d);
  let t = t0;
  let { loss: fNew, grad: gNew, gtd: gtdNew } = await evalAt(t);
  let evaluations = 1;
  let tPrev = 0;
  let fPrev = f;
  let gPrev = g;
  let gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: Tensor[] = [];
  let bracketGtd: number[] = [];

  // Bracketing phase.
  while (lsIter < maxLs) {
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      [bracket, bracketF, bracketG, bracketGtd] = [[tPrev, t], [fPrev, fNew], [gPrev, gNew], [gtdPrev, gtdNew]];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      [bracket, bracketF, bracketG] = [[t], [fNew], [gNew]];
      done = true;
      break;
    }
    if (gtdNew >= 0) {
      [bracket, bracketF, bracketG, bracketGtd] = [[tPrev, t], [fPrev, fNew], [gPrev, gNew], [gtdPrev, gtdNew]];
      break;
    }
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    [tPrev, fPrev, gPrev, gtdPrev] = [tmp, fNew, gNew, gtdNew];
    ({ loss: fNew, grad: gNew, gtd: gtdNew } = await evalAt(t));
    evaluations += 1;
    lsIter += 1;
  }
  if (lsIter === maxLs) {
    [bracket, bracketF, bracketG] = [[0, t], [f, fNew], [g, gNew]];
  }

  // Zoom phase: shrink the bracket until the strong Wolfe conditions hold.
  let insufficientProgress = false;
  let [lowPos, highPos] = bracketF[0] <= bracketF[bracketF.length - 1] ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < tolChange) break;
    t = cubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
    const hi = Math.max(...bracket);
    const lo = Math.min(...bracket);
    const eps = 0.1 * (hi - lo);
    if (Math.min(hi - t, t - lo) < eps) {
      // Interpolation is too close to a bracket end: move away from it (torch's insufficient progress rule).
      if (insufficientProgress || t >= hi || t <= lo) {
        t = Math.abs(t - hi) < Math.abs(t - lo) ? hi - eps : lo + eps;
        insufficientProgress = false;
      } else {
        insufficientProgress = true;
      }
    } else {
      insufficientProgress = false;
    }
    ({ loss: fNew, grad: gNew, gtd: gtdNew } = await evalAt(t));
    evaluations += 1;
    lsIter += 1;
    if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos]) {
      [bracket[highPos], bracketF[highPos], bracketG[highPos], bracketGtd[highPos]] = [t, fNew, gNew, gtdNew];
      [lowPos, highPos] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        done = true;
      } else if (gtdNew * (bracket[highPos] - bracket[lowPos]) >= 0) {
        [bracket[highPos], bracketF[highPos], bracketG[highPos], bracketGtd[highPos]] = [
          bracket[lowPos],
          bracketF[lowPos],
          bracketG[lowPos],
          bracketGtd[lowPos],
        ];
      }
      [bracket[lowPos], bracketF[lowPos], bracketG[lowPos], bracketGtd[lowPos]] = [t, fNew, gNew, gtdNew];
    }
  }

  let grad = bracketG[lowPos];
  if (grad === g) grad = tf.clone(g); // the caller's gradient: hand back a tensor it may dispose
  for (const c of created) if (c !== grad) c.dispose();
  return { loss: bracketF[lowPos], grad, t: bracket[lowPos], evaluations };
}

function checkOptions(o: LbfgsOptions) {
  const positiveInt = (v: number | undefined, name: string) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new ConvlabError(`L-BFGS: ${name} must be a positive integer, got ${v}`);
    }
  };
  positiveInt(o.maxIterations, 'maxIterations');
  positiveInt(o.maxEvaluations, 'maxEvaluations');
  positiveInt(o.historySize, 'historySize');
  if (o.learningRate !== undefined && !(o.learningRate > 0)) {
    throw new ConvlabError(`L-BFGS: learningRate must be positive, got ${o.learningRate}`);
  }
  if (o.lineSearch !== undefined && o.lineSearch !== 'none' && o.lineSearch !== 'strong-wolfe') {
    throw new ConvlabError(`L-BFGS: unknown lineSearch "${o.lineSearch}"`, { hint: "use 'none' or 'strong-wolfe'" });
  }
  if (o.vectorMath !== undefined && !['auto', 'tf', 'js'].includes(o.vectorMath)) {
    throw new ConvlabError(`L-BFGS: unknown vectorMath "${o.vectorMath}"`, { hint: "use 'auto', 'tf' or 'js'" });
  }
}

/**
 * Start an L-BFGS run at x0 (evaluates the loss there once). x0 stays the caller's; the optimiser
 * works on its own copy. lossAndGrad receives tensors it must not dispose and returns loss and
 * gradient tensors that the optimiser takes over (and disposes).
 */
export async function createLbfgs(lossAndGrad: LossAndGradFn, x0: Tensor, options: LbfgsOptions = {}): Promise<Lbfgs> {
  checkOptions(options);
  const maxIterations = options.maxIterations ?? 100;
  const maxEvaluations = options.maxEvaluations ?? Math.ceil((maxIterations * 5) / 4) + 1;
  const historySize = options.historySize ?? 100;
  const tolChange = options.tolChange ?? 1e-9;
  const tolGrad = options.tolGrad ?? 1e-7;
  const lr = options.learningRate ?? 1;
  const lineSearch = options.lineSearch ?? 'strong-wolfe';
  const vm = vectorMathFor(options.vectorMath);

  let x = tf.clone(x0);
  const first = await evaluateLossAndGrad(lossAndGrad, x);
  let loss = first.loss;
  let g = first.grad;
  let evaluations = 1;
  let iteration = 0;
  const losses = [loss];
  let stopReason: StopReason | undefined;
  if (!Number.isFinite(loss)) stopReason = 'nonFinite';
  else if ((await vm.maxAbs(g)) <= tolGrad) stopReason = 'gradientTolerance';

  let d: Tensor | undefined; // search direction
  let t = 0; // step length along d of the last iteration
  let prevG: Tensor | undefined; // gradient at the previous iterate
  const dirs: Tensor[] = []; // y_k = g_{k+1} - g_k
  const stps: Tensor[] = []; // s_k = x_{k+1} - x_k
  const ro: number[] = []; // 1 / (y_k . s_k)
  let hDiag = 1;

  const evaluateAt = (base: Tensor, step: number, dir: Tensor) => async () => {
    const xt = vm.axpy(base, step, dir);
    try {
      return await evaluateLossAndGrad(lossAndGrad, xt);
    } finally {
      xt.dispose();
    }
  };

  const disposeState = () => {
    for (const tensor of [...dirs, ...stps, d, prevG, g]) tensor?.dispose();
    dirs.length = 0;
    stps.length = 0;
    d = undefined;
    prevG = undefined;
  };

  const opt: Lbfgs = {
    get x() {
      return x;
    },
    get loss() {
      return loss;
    },
    get iteration() {
      return iteration;
    },
    get evaluations() {
      return evaluations;
    },
    losses,
    stopReason,
    async step() {
      if (opt.stopReason) return undefined;
      iteration += 1;
      if (iteration === 1) {
        d = tf.neg(g);
        hDiag = 1;
      } else {
        const y = vm.sub(g, prevG!);
        const s = vm.scale(d!, t);
        const ys = await vm.dot(y, s);
        if (ys > 1e-10) {
          if (dirs.length === historySize) {
            dirs.shift()!.dispose();
            stps.shift()!.dispose();
            ro.shift();
          }
          dirs.push(y);
          stps.push(s);
          ro.push(1 / ys);
          hDiag = ys / (await vm.dot(y, y));
        } else {
          y.dispose();
          s.dispose();
        }
        d!.dispose();
        d = vm.direction(g, stps, dirs, ro, hDiag);
      }
      prevG?.dispose();
      prevG = g; // g is replaced, never mutated, so the old tensor can serve as prev_flat_grad
      const prevLoss = loss;
      t = iteration === 1 ? Math.min(1, 1 / (await vm.sumAbs(g))) * lr : lr;
      const gtd = await vm.dot(g, d!);
      if (gtd > -tolChange) {
        iteration -= 1;
        opt.stopReason = 'notDescent';
        return undefined;
      }

      let newLoss: number;
      let newG: Tensor;
      let stepEvaluations: number;
      if (lineSearch === 'strong-wolfe') {
        const dir = d!;
        const ls = await strongWolfe(vm, (step) => evaluateAt(x, step, dir)(), t, dir, loss, g, gtd);
        ({ loss: newLoss, grad: newG, t, evaluations: stepEvaluations } = ls);
      } else {
        ({ loss: newLoss, grad: newG } = await evaluateAt(x, t, d!)());
        stepEvaluations = 1;
      }
      evaluations += stepEvaluations;
      if (!Number.isFinite(newLoss)) {
        // Keep the last finite iterate rather than stepping onto NaN/Inf.
        newG.dispose();
        g = prevG;
        prevG = undefined;
        iteration -= 1;
        opt.stopReason = 'nonFinite';
        return undefined;
      }
      const newX = vm.axpy(x, t, d!);
      x.dispose();
      x = newX;
      g = newG;
      loss = newLoss;
      losses.push(loss);

      // Stopping tests in torch's order.
      if (iteration >= maxIterations) opt.stopReason = 'maxIterations';
      else if (evaluations >= maxEvaluations) opt.stopReason = 'maxEvaluations';
      else if ((await vm.maxAbs(g)) <= tolGrad) opt.stopReason = 'gradientTolerance';
      else if ((await vm.maxAbs(d!)) * Math.abs(t) <= tolChange) opt.stopReason = 'stepTolerance';
      else if (Math.abs(loss - prevLoss) < tolChange) opt.stopReason = 'lossTolerance';
      return { iteration, loss, evaluations, x, step: t };
    },
    finish() {
      disposeState();
      const result: MinimizeResult = { x, losses: [...losses], iterations: iteration, evaluations, stopReason: opt.stopReason ?? 'callback' };
      return result;
    },
    dispose() {
      disposeState();
      x.dispose();
    },
  };
  return opt;
}

/**
 * Minimise lossAndGrad from x0 with L-BFGS. Returns the final x (a new tensor the caller owns; x0 is
 * untouched), the loss at x0 and after each iteration, and why it stopped.
 */
export async function minimizeLbfgs(lossAndGrad: LossAndGradFn, x0: Tensor, options: MinimizeLbfgsOptions = {}): Promise<MinimizeResult> {
  const opt = await createLbfgs(lossAndGrad, x0, options);
  try {
    while (!opt.stopReason) {
      if (options.signal?.aborted) {
        opt.stopReason = 'aborted';
        break;
      }
      const info = await opt.step();
      if (info && options.onIteration && (await options.onIteration(info)) === false && !opt.stopReason) {
        opt.stopReason = 'callback';
      }
    }
  } catch (err) {
    opt.dispose();
    throw err;
  }
  return opt.finish();
}
