/**
 * Memory a deconvnet / attribution run needs, estimated from the model's layer shapes before any
 * image is read, so an oversized --size is refused at once (naming the flag and a size that fits)
 * instead of growing past the machine's memory, or aborting the wasm heap, halfway through.
 *
 * Model: a gradient pass (every projection and attribution method, the top-9 projections) keeps
 * every activation from the input up to the target layer, plus their gradients and temporaries; a
 * forward pass (occlusion, the top-9 scan, feature maps) frees each activation once used. With A the
 * bytes of all layer outputs up to the deepest layer needed, for one image at the run's size, and
 * the batch b (SmoothGrad's 5 noisy copies, the k top-9 projections, --batch for forward passes):
 *
 *   process bytes = BASELINE_BYTES + A x max(RSS_GRADIENT x b_gradient, RSS_FORWARD x b_forward, 1)
 *   tensor bytes  = weights + A x max(TENSOR_GRADIENT x b_gradient, TENSOR_FORWARD x b_forward, 1)
 *
 * The process estimate is held against the memory budget (80% of RAM or CONVLAB_MAX_MEMORY_GB); the
 * tensor estimate, on the wasm backend, against its 4 GB heap (wasm32), past which it aborts.
 *
 * Calibration (MobileNetV2 with the nsfwjs weights, dog.jpg, 2-core machine shared with other jobs):
 * - Tensors (tf.profile peakBytes, wasm, 128 and 256 px, targets out_relu and block_6_expand_relu):
 *   per image of a gradient batch the peak grows by 2.7 A (deconvnet, Grad-CAM), 3.2 A (guided), 3.3 A
 *   (saliency; SmoothGrad 16.5 A for its batch of 5; the top-9 projection of 9 images 24 A); a forward
 *   pass by 0.04-0.13 A per image of its batch.
 * - Peak RSS (/usr/bin/time -v) of `attribute dog.jpg --layer out_relu --unit 0 --size S` (all six
 *   methods; A = 88 MB at 224, 351 MB at 448, 789 MB at 672): native 1.51 / 4.79 / 9.39 GB, wasm 1.81 GB
 *   at 224; at 448 and 672 wasm aborted ("Aborted()") with its heap full (4.9 GB RSS), as the tensor
 *   estimate (5.8 GB at 448) says. `layers` (model loaded, no image): 0.79 GB wasm, 0.54 GB native.
 *   Above the baseline that is 2.2-2.4 A per image of SmoothGrad's batch; the formula gives 1.9 / 5.2 /
 *   10.7 GB.
 * - Occlusion (forward batches of 16, out_relu unit 0): 1.02 GB wasm and 1.08 GB native at 224 px, 1.71 GB
 *   wasm at 448 px, i.e. 0.15-0.2 A per image of the batch above the baseline; the formula gives 1.08 /
 *   1.92 GB.
 * - top9 (7 photos, out_relu, --batch 8, k = 9: the projections' gradient batch of 9 dominates) at
 *   224 px: 2.77 GB wasm; the formula gives 2.78 GB.
 */
import { ConvlabError, availableMemoryBytes, checkMemoryEstimate, formatBytes } from '@convlab/core';
import type { ConvNet } from '@convlab/models';

/** Node, TensorFlow.js, the backend and the model (peak RSS of `convlab-deconv layers` on wasm, rounded up). */
export const BASELINE_BYTES = 800e6;
/** Resident bytes per image of a gradient batch, per byte of activations up to the target layer. */
export const RSS_GRADIENT = 2.5;
/** The same for a forward-only batch (activations are freed as the pass goes). */
export const RSS_FORWARD = 0.2;
/** Peak tensor bytes per image of a gradient batch, per byte of activations (tf.profile). */
export const TENSOR_GRADIENT = 3.4;
/** The same for a forward-only batch. */
export const TENSOR_FORWARD = 0.15;
/** tfjs-backend-wasm's heap cannot grow past 4 GB (wasm32); above it the backend aborts. */
export const WASM_HEAP_BYTES = 4294901760;

/** Floats of every layer output up to and including `layer` (default: the whole model) for one image. */
export function activationFloats(model: ConvNet, layer: string | undefined, size: [number, number]): number {
  const names = model.layers.map((l) => l.name);
  const last = layer === undefined ? names.length - 1 : names.indexOf(model.resolveLayer(layer));
  let total = 0;
  for (let i = 0; i <= last; i++) {
    let shape: number[];
    try {
      shape = model.outputShapeFor(names[i], size);
    } catch {
      // Head layers have no shape away from the native size; they are tiny anyway.
      continue;
    }
    total += shape.reduce((a, b) => a * (b ?? 1), 1);
  }
  return total;
}

export interface MemoryPlan {
  /** The deepest layer the run computes (undefined: the whole model, e.g. class targets). */
  layer?: string;
  size: [number, number];
  /** Images per gradient call (SmoothGrad's noisy copies, the k top-9 projections); 0 if none. */
  gradientBatch: number;
  /** Images per forward-only call (occlusion batch, top-9 scan batch); 0 if none. */
  forwardBatch: number;
  /** What else lowers the estimate, for the hint (e.g. 'a smaller --batch'). */
  alternative?: string;
}

export interface MemoryEstimate {
  /** Peak bytes of tensors. */
  tensorBytes: number;
  /** Peak resident memory of the process. */
  processBytes: number;
}

function weightBytes(model: ConvNet): number {
  let n = 0;
  for (const w of model.model.weights) n += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return 4 * n;
}

export function estimateMemory(model: ConvNet, plan: MemoryPlan): MemoryEstimate {
  const a = 4 * activationFloats(model, plan.layer, plan.size);
  return {
    tensorBytes: weightBytes(model) + a * Math.max(TENSOR_GRADIENT * plan.gradientBatch, TENSOR_FORWARD * plan.forwardBatch, 1),
    processBytes: BASELINE_BYTES + a * Math.max(RSS_GRADIENT * plan.gradientBatch, RSS_FORWARD * plan.forwardBatch, 1),
  };
}

/** The largest square side (multiple of 16, at least the model's minimum) whose estimate fits `budget`. */
function sizeThatFits(model: ConvNet, plan: MemoryPlan, budget: number, which: keyof MemoryEstimate): number | undefined {
  let lo = model.minInputSize;
  if (estimateMemory(model, { ...plan, size: [lo, lo] })[which] > budget) return undefined;
  let hi = Math.max(...plan.size);
  while (hi - lo > 16) {
    const mid = Math.floor((lo + hi) / 2);
    if (estimateMemory(model, { ...plan, size: [mid, mid] })[which] <= budget) lo = mid;
    else hi = mid;
  }
  return Math.max(model.minInputSize, Math.floor(lo / 16) * 16);
}

/**
 * Refuse a run whose estimate is above the memory budget (core's checkMemoryEstimate: 80% of the
 * machine or CONVLAB_MAX_MEMORY_GB) or, on the wasm backend, above the wasm heap. Names --size and,
 * where one exists, a size that fits.
 */
export function checkRunMemory(model: ConvNet, plan: MemoryPlan, backend: string | undefined, what: string): MemoryEstimate {
  const est = estimateMemory(model, plan);
  const side = plan.size[0] === plan.size[1] ? `${plan.size[0]}` : plan.size.join(',');
  const env = Number(process.env.CONVLAB_MAX_MEMORY_GB);
  const budget = Number.isFinite(env) && env > 0 ? env * 1e9 : 0.8 * availableMemoryBytes();
  try {
    checkMemoryEstimate(est.processBytes, `${what} at --size ${side}`, '--size', budget);
  } catch (err) {
    if (!(err instanceof ConvlabError)) throw err;
    const fit = sizeThatFits(model, plan, budget, 'processBytes');
    throw new ConvlabError(err.message, {
      hint: `${fit ? `try --size ${fit} or smaller` : 'lower --size'}${plan.alternative ? `, or ${plan.alternative}` : ''} (or set CONVLAB_MAX_MEMORY_GB if the estimate is wrong for this machine)`,
      cause: err,
    });
  }
  if (backend === 'wasm' && est.tensorBytes > WASM_HEAP_BYTES) {
    const fit = sizeThatFits(model, plan, WASM_HEAP_BYTES, 'tensorBytes');
    throw new ConvlabError(`${what} at --size ${side} needs about ${formatBytes(est.tensorBytes)} of tensors, more than the wasm backend's ${formatBytes(WASM_HEAP_BYTES)} heap`, {
      hint: `${fit ? `try --size ${fit} or smaller` : 'lower --size'}${plan.alternative ? `, ${plan.alternative}` : ''}, or use --backend native`,
    });
  }
  return est;
}
