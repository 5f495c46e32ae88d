/**
 * Gram matrices and the style/content losses of Gatys, Ecker & Bethge (2015/2016), with the
 * normalisation conventions of jcjohnson/neural-style spelled out.
 *
 * Notation: a layer's activations F have C channels over M = H*W positions, reshaped to [M, C].
 * The Gram matrix is G = F^T F ([C, C]): G_ij = sum_k F_ki F_kj.
 *
 * Speed: ms per Gram matrix of 128x128x256 features (F = [16384, 256]), tfjs 4.22, 2 cores shared
 * with other jobs (load 10-19, so compare within a column only):
 *   form                                        wasm*   native    cpu
 *   matMul(F, F, transposeA=true)                 893       34    1847
 *   matMul(Ft, Ft, false, transposeB=true)        600       71    1558
 *   matMul(transpose(F), F)                       113      376    2061
 *   forward + gradient, autodiff of transposeA   1538      324    8026
 *   forward + gradient, autodiff of transpose(F) 2700     1369    9373
 *   forward + gradient, gramMatrix below          179       85    4964
 *   (* plain tfjs-backend-wasm; @convlab/native's wasm kernels reroute transposed matMuls through an
 *   explicit Transpose themselves, making the forms equal there.)
 * wasm's BatchMatMul is 5-10x slower whenever a transpose flag is set, while an explicit Transpose
 * followed by a plain matMul is fast; with oneDNN (native) the flag is free and tfjs's JS Transpose
 * kernel is the slow part. So the forward picks the form by backend, and the gradient is written by
 * hand as dF = F (dG + dG^T): one plain matMul, where autodiff runs two matMuls with transpose flags.
 * Reproduce: `cd packages/core && npx tsx --conditions=@convlab/source bench/gram-forms.ts wasm|native|cpu`
 * (wasm there includes @convlab/native's kernels when that package loads).
 */
import * as tf from '@tensorflow/tfjs-core';
// tf.ts loads tfjs-layers, which registers tfjs-core's gradients (tfjs-core's node entry alone does not).
import '../tf.js';
import { ConvlabError } from '../errors.js';

export type GramNormalization = 'hwc' | 'hw' | 'none';

export interface GramOptions {
  /**
   * Divide G by C*H*W ('hwc', jcjohnson/neural-style's GramMatrix followed by `div(input:nElement())`,
   * the default), by H*W ('hw', a per-position average that does not depend on the channel count),
   * or not at all ('none', Gatys et al.'s G).
   */
  normalize?: GramNormalization;
}

/** G = F^T F for F [M, C], with a hand-written gradient that uses only untransposed matMuls. */
const gramOf2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const f = args[0] as tf.Tensor2D;
  const save = args[1] as tf.GradSaveFunc;
  save([f]);
  // wasm: explicit Transpose + plain matMul; elsewhere the transposeA flag (free in oneDNN/BLAS).
  const value = tf.getBackend() === 'wasm' ? tf.matMul(tf.transpose(f), f) : tf.matMul(f, f, true, false);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.matMul(saved[0] as tf.Tensor2D, tf.add(dy, tf.transpose(dy)) as tf.Tensor2D),
  };
});

/**
 * The Gram matrix [C, C] of feature maps [H, W, C] or [1, H, W, C]. Differentiable; call it inside
 * tf.tidy / tf.grad like any op.
 */
export function gramMatrix(features: tf.Tensor3D | tf.Tensor4D | tf.Tensor, options: GramOptions = {}): tf.Tensor2D {
  const shape = features.shape;
  if (!((shape.length === 4 && shape[0] === 1) || shape.length === 3)) {
    throw new ConvlabError(`gramMatrix expects features [h, w, c] or [1, h, w, c], got [${shape.join(', ')}]`, {
      hint: 'compute one Gram matrix per image: slice the batch first',
    });
  }
  const [h, w, c] = shape.slice(-3);
  const normalize = options.normalize ?? 'hwc';
  return tf.tidy(() => {
    const gram = gramOf2d(tf.reshape(features, [h * w, c])) as tf.Tensor2D;
    if (normalize === 'none') return gram;
    return tf.div(gram, normalize === 'hwc' ? h * w * c : h * w);
  });
}

export interface LossReductionOptions {
  /** 'mean' over elements (jcjohnson's nn.MSECriterion, the default) or 'sum' of squares. */
  reduction?: 'mean' | 'sum';
}

function squaredError(a: tf.Tensor, b: tf.Tensor, what: string, reduction: 'mean' | 'sum'): tf.Scalar {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ConvlabError(`${what}: shapes differ, [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`, {
      hint: 'compare features of the same layer, computed at the same image size for content loss',
    });
  }
  return tf.tidy(() => {
    const sq = tf.squaredDifference(a, b);
    return reduction === 'mean' ? tf.mean(sq) : tf.sum(sq);
  });
}

/**
 * Style loss of one layer between two Gram matrices: mean((A - B)^2) by default.
 *
 * With 'hwc'-normalised Grams and the default 'mean' reduction this is exactly jcjohnson/neural-style's
 * StyleLoss (before its per-layer weight). Gatys et al.'s per-layer E_l = 1/(4 C^2 M^2) sum (G - A)^2
 * on unnormalised Grams equals 0.25 * styleLoss(..., {reduction: 'sum'}) on 'hwc'-normalised ones
 * (= C^2/4 times the default), so the two conventions differ by a per-layer factor C^2/4.
 */
export function styleLoss(gramA: tf.Tensor, gramB: tf.Tensor, options: LossReductionOptions = {}): tf.Scalar {
  return squaredError(gramA, gramB, 'styleLoss', options.reduction ?? 'mean');
}

/**
 * Content loss of one layer: mean((F - P)^2) by default (jcjohnson/neural-style's ContentLoss,
 * nn.MSECriterion). Gatys et al.'s L_content = 1/2 sum (F - P)^2 = 0.5 * contentLoss(..., {reduction: 'sum'}).
 */
export function contentLoss(features: tf.Tensor, target: tf.Tensor, options: LossReductionOptions = {}): tf.Scalar {
  return squaredError(features, target, 'contentLoss', options.reduction ?? 'mean');
}
