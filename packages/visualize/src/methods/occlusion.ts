/**
 * Occlusion sensitivity (Zeiler & Fergus 2013, section 4.2): slide a grey square over the image and
 * record, at each position, (a) the target score (class probability, or the total activation of a
 * unit's feature map) and (b) the most probable class. Occluded copies are evaluated in batches.
 *
 * Square placement: the image is cut into cells of `stride` pixels; the square is centred on each
 * cell's centre (clipped at the borders), so the map has ceil(H/stride) x ceil(W/stride) values and
 * value (i, j) belongs to the image region of cell (i, j).
 */
import { tf, type RgbImage, type Tensor1D, type Tensor2D, type Tensor3D, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { toBatch } from '../attribution.js';
import { logitsPlan, resolveTarget, type ResolvedTarget, type Target } from '../target.js';

/** Scores a batch of RGB images (0..255): a target value per image and, optionally, class probabilities. */
export type OcclusionScorer = (images: Tensor4D) => { target: Tensor1D; probs?: Tensor2D };

export interface OcclusionMapOptions {
  /** Side of the grey square in pixels (default: about 1/7 of the shorter image side, Z&F-like). */
  size?: number;
  /** Step between square positions in pixels (default size / 4, at least 1). */
  stride?: number;
  /** Occluded images per forward pass (default 16). */
  batchSize?: number;
  /** RGB 0..255 of the square (default 128 grey; use the model's mean pixel for VGG). */
  fill?: [number, number, number];
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface OcclusionResult {
  rows: number;
  cols: number;
  size: number;
  stride: number;
  fill: [number, number, number];
  /** Target score with the square at each position, row-major rows x cols. */
  target: Float32Array;
  /** Target score of the unoccluded image. */
  baseline: number;
  /** Most probable class at each position (when the scorer returns probabilities). */
  topClass?: Int32Array;
  topProb?: Float32Array;
  baselineClass?: number;
  baselineProb?: number;
  /** Whether all positions were evaluated (false if interrupted). */
  complete: boolean;
  seconds: number;
}

export function occlusionGrid(height: number, width: number, size: number, stride: number) {
  const rows = Math.ceil(height / stride);
  const cols = Math.ceil(width / stride);
  const boxes: { y0: number; y1: number; x0: number; x1: number }[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const cy = i * stride + stride / 2;
      const cx = j * stride + stride / 2;
      const y0 = Math.round(cy - size / 2);
      const x0 = Math.round(cx - size / 2);
      boxes.push({ y0: Math.max(0, y0), x0: Math.max(0, x0), y1: Math.min(height, y0 + size), x1: Math.min(width, x0 + size) });
    }
  }
  return { rows, cols, boxes };
}

function asTensor(image: Tensor3D | RgbImage): Tensor3D {
  if ('data' in image && 'width' in image) {
    return tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, 3]);
  }
  return tf.clone(image);
}

export async function occlusion(image: Tensor3D | RgbImage, scorer: OcclusionScorer, options: OcclusionMapOptions = {}): Promise<OcclusionResult> {
  const started = performance.now();
  const base = asTensor(image);
  const [height, width] = base.shape;
  const size = Math.max(1, Math.round(options.size ?? Math.min(height, width) / 7));
  const stride = Math.max(1, Math.round(options.stride ?? size / 4));
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const fill = options.fill ?? [128, 128, 128];
  const { rows, cols, boxes } = occlusionGrid(height, width, size, stride);

  const first = tf.tidy(() => {
    const out = scorer(tf.expandDims(base, 0) as Tensor4D);
    return { t: out.target.dataSync()[0], p: out.probs ? Array.from(out.probs.dataSync()) : undefined };
  });
  const target = new Float32Array(boxes.length);
  const withClasses = first.p !== undefined;
  const topClass = withClasses ? new Int32Array(boxes.length) : undefined;
  const topProb = withClasses ? new Float32Array(boxes.length) : undefined;

  let done = 0;
  const fillT = tf.tensor1d(fill);
  for (let start = 0; start < boxes.length; start += batchSize) {
    if (options.signal?.aborted) break;
    const chunk = boxes.slice(start, start + batchSize);
    // Mask [n, h, w, 1]: 1 inside the square. Built on the CPU: it is small and exact.
    const mask = new Float32Array(chunk.length * height * width);
    chunk.forEach((b, n) => {
      for (let y = b.y0; y < b.y1; y++) mask.fill(1, n * height * width + y * width + b.x0, n * height * width + y * width + b.x1);
    });
    const res = tf.tidy(() => {
      const m = tf.tensor4d(mask, [chunk.length, height, width, 1]);
      const batch = tf.add(tf.mul(tf.expandDims(base, 0), tf.sub(1, m)), tf.mul(m, tf.reshape(fillT, [1, 1, 1, 3]))) as Tensor4D;
      const out = scorer(batch);
      return {
        t: out.target.dataSync() as Float32Array,
        cls: out.probs ? (tf.argMax(out.probs, 1).dataSync() as Int32Array) : undefined,
        p: out.probs ? (tf.max(out.probs, 1).dataSync() as Float32Array) : undefined,
      };
    });
    target.set(res.t, start);
    if (topClass && res.cls && topProb && res.p) {
      topClass.set(res.cls, start);
      topProb.set(res.p, start);
    }
    done += chunk.length;
    options.onProgress?.(done, boxes.length);
    // Let Ctrl-C and progress output through between batches.
    await new Promise((r) => setImmediate(r));
  }
  fillT.dispose();
  base.dispose();
  let baselineClass: number | undefined;
  let baselineProb: number | undefined;
  if (first.p) {
    baselineClass = first.p.indexOf(Math.max(...first.p));
    baselineProb = first.p[baselineClass];
  }
  return {
    rows,
    cols,
    size,
    stride,
    fill,
    target,
    baseline: first.t,
    topClass,
    topProb,
    baselineClass,
    baselineProb,
    complete: done === boxes.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Nearest-neighbour upsampling of a rows x cols map to the image size (cell (i, j) covers its stride cell). */
export function upsampleGrid(values: ArrayLike<number>, rows: number, cols: number, stride: number, height: number, width: number): Float32Array {
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const i = Math.min(rows - 1, Math.floor(y / stride));
    for (let x = 0; x < width; x++) out[y * width + x] = values[i * cols + Math.min(cols - 1, Math.floor(x / stride))];
  }
  return out;
}

/**
 * Occlusion for a ConvNet target. Class targets score the softmax probability of the class (Z&F
 * Fig. 7 d); unit targets score the unit's total activation over its feature map (Fig. 7 b), or its
 * value at a fixed position when one is given. When the model has a classifier head usable at this
 * input size, the most probable class at each position is recorded too (Fig. 7 e).
 */
export async function occlusionForModel(
  model: ConvNet,
  image: Tensor3D | RgbImage,
  target: Target,
  options: OcclusionMapOptions = {},
): Promise<OcclusionResult & { target: Float32Array; resolved: ResolvedTarget }> {
  const batch = toBatch(image as RgbImage | Tensor3D);
  const resolved = resolveTarget(model, batch, target);
  const [, h, w] = batch.shape;
  const headUsable =
    model.headLayer !== undefined && h === model.inputSize[0] && w === model.inputSize[1];
  const plan = headUsable ? logitsPlan(model) : undefined;
  const explicitPosition = Array.isArray(target.position);
  const scorer: OcclusionScorer = (images) => {
    const x = model.preprocess(images);
    const outputs = [...new Set([...(resolved.kind === 'unit' ? [resolved.layer] : []), ...(plan ? [plan.from] : [])])];
    const out = model.forward(x, { outputs });
    const probs = plan ? (tf.softmax(plan.apply(out[plan.from])) as Tensor2D) : undefined;
    let t: Tensor1D;
    if (resolved.kind === 'class') {
      t = tf.reshape(tf.slice(probs!, [0, resolved.index], [-1, 1]), [-1]) as Tensor1D;
    } else {
      const act = out[resolved.layer];
      const n = act.shape[0];
      if (act.rank === 4 && explicitPosition && resolved.position) {
        const [y, xx] = resolved.position;
        t = tf.reshape(tf.slice(act, [0, y, xx, resolved.index], [n, 1, 1, 1]), [n]) as Tensor1D;
      } else if (act.rank === 4) {
        t = tf.sum(tf.slice(act, [0, 0, 0, resolved.index], [n, -1, -1, 1]), [1, 2, 3]) as Tensor1D;
      } else {
        t = tf.reshape(tf.slice(tf.reshape(act, [n, -1]), [0, resolved.index], [n, 1]), [n]) as Tensor1D;
      }
    }
    return { target: t, probs };
  };
  const fill = options.fill ?? (tf.tidy(() => Array.from(model.deprocess(tf.zeros([1, 1, 1, 3]) as Tensor4D).dataSync())) as [number, number, number]);
  try {
    const result = await occlusion(tf.squeeze(batch, [0]) as Tensor3D, scorer, { ...options, fill: options.fill ?? neutralFill(fill) });
    return { ...result, resolved };
  } finally {
    batch.dispose();
  }
}

/**
 * The grey used for the square: the model's "zero input" pixel when that is a plausible grey
 * (VGG: the ImageNet mean pixel; [-1, 1] models: 127.5), else mid-grey 128.
 */
function neutralFill(zero: number[]): [number, number, number] {
  const ok = zero.every((v) => v >= 64 && v <= 192);
  return ok ? (zero.map((v) => Math.round(v * 10) / 10) as [number, number, number]) : [128, 128, 128];
}
