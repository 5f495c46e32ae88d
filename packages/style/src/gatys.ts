/**
 * Neural style transfer after Gatys, Ecker & Bethge, "A neural algorithm of artistic style" (arXiv 2015) and
 * "Image style transfer using convolutional neural networks" (CVPR 2016), in one file: the Gram matrix,
 * the content and style losses, total variation, and the weighted objective with its gradient with respect
 * to the image. (jcjohnson/neural-style's neural_style.lua is the model for keeping it in one place.)
 *
 * A layer l has N_l channels over M_l = h w positions; its activations for the generated image x are
 * F^l [M_l, N_l], for the content image p they are P^l, and the style image a gives the Gram matrices A^l.
 *
 *   Eq. 1  content loss   L_content(p, x, l) = 1/2 sum_ij (F^l_ij - P^l_ij)^2
 *   Eq. 3  Gram matrix    G^l_ij = sum_k F^l_ki F^l_kj                      (G = F^T F, [N_l, N_l])
 *   Eq. 4  layer loss     E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G^l_ij - A^l_ij)^2
 *   Eq. 5  style loss     L_style(a, x) = sum_l w_l E_l
 *   Eq. 7  total loss     L_total(p, a, x) = alpha L_content(p, x) + beta L_style(a, x)  (+ gamma TV(x) here)
 *
 * and x is found by L-BFGS on dL_total/dx (./optimizers), starting from p (or noise). What the code does
 * with these, and where it departs from the paper by default:
 * - G is divided by M_l (`gramMatrix(F, {normalize: 'hw'})`), so E_l's normaliser 'gatys' is 4 N_l^2
 *   (exactly Eq. 4); the default 'target' divides by sum_ij (A^l_ij)^2 instead, a relative error per layer,
 *   so layers with large activations do not drown the others.
 * - content 'gatys' is Eq. 1; the default 'variance' is mean_ij (F - P)^2 / var(P). Several content layers
 *   are averaged.
 * - w_l are normalised to sum 1; several style images blend their Gram matrices, A^l = sum_s b_s A^l_s
 *   (jcjohnson/neural-style's -style_blend_weights).
 * - TV(x) is the mean squared difference of neighbouring pixels of the RGB image / 255 (Mahendran &
 *   Vedaldi 2015; jcjohnson/neural-style's -tv_weight): it suppresses high-frequency noise.
 *
 * Border and stride-grid fixes (issue 16; measured by ./artifacts.ts). The network may see a view of x
 * instead of x itself: `networkView` reflection-pads x by P px (so the border pixels sit inside the image the
 * network sees, and a valid-padded first convolution that skips the last row and column skips a reflected
 * copy instead) and, with jitter J, takes the window shifted by (dy, dx), |dy|, |dx| <= J, drawn anew at each
 * evaluation (Mordvintsev et al.'s "transformation robustness", Distill 2018): the stride-2 grids of the
 * early layers then fall on a different pixel phase from one step to the next and stop imprinting one
 * period-2 pattern. The objective becomes L(view(x)) with the content targets P^l taken from the same view
 * of p; TV stays on x. Its gradient reaches x through slice, reverse and concat (tfjs's own MirrorPad
 * gradient drops the reflected part, so it is not used).
 *
 * Other style statistics plug into the same objective as a StyleTerm: sliced Wasserstein
 * (./sliced-wasserstein.ts), on softmax features (./softmax-features.ts) or not; see ./style-losses.ts.
 *
 * Gram speed: ms per Gram matrix of 128x128x256 features (F = [16384, 256]), tfjs 4.22, 2 cores shared
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
 * Reproduce: `npx tsx --conditions=@convlab/source tools/bench/gram-forms.ts wasm|native|cpu`
 * (wasm there includes @convlab/native's kernels when that package loads).
 */
import { ConvlabError, tf, type Scalar, type Tensor, type Tensor2D, type Tensor3D, type Tensor4D } from '@convlab/core';
import type { FeatureNet } from './features.js';

// ---------------------------------------------------------------------------------------------------
// Eq. 3: the Gram matrix

export type GramNormalization = 'hwc' | 'hw' | 'none';

export interface GramOptions {
  /**
   * Divide G by C*H*W ('hwc', jcjohnson/neural-style's GramMatrix followed by `div(input:nElement())`,
   * the default), by H*W ('hw', a per-position average that does not depend on the channel count; what
   * the objective below uses), or not at all ('none', Gatys et al.'s G).
   */
  normalize?: GramNormalization;
}

type GradSaveFunc = (save: Tensor[]) => void;

/** G = F^T F for F [M, C], with a hand-written gradient that uses only untransposed matMuls. */
const gramOf2d = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
  const f = args[0] as Tensor2D;
  const save = args[1] as GradSaveFunc;
  save([f]);
  // wasm: explicit Transpose + plain matMul; elsewhere the transposeA flag (free in oneDNN/BLAS).
  const value = tf.getBackend() === 'wasm' ? tf.matMul(tf.transpose(f), f) : tf.matMul(f, f, true, false);
  return {
    value,
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.matMul(saved[0] as Tensor2D, tf.add(dy, tf.transpose(dy)) as Tensor2D),
  };
});

/**
 * The Gram matrix [C, C] of feature maps [H, W, C] or [1, H, W, C]. Differentiable; call it inside
 * tf.tidy / tf.grad like any op.
 */
export function gramMatrix(features: Tensor3D | Tensor4D | Tensor, options: GramOptions = {}): Tensor2D {
  const shape = features.shape;
  if (!((shape.length === 4 && shape[0] === 1) || shape.length === 3)) {
    throw new ConvlabError(`gramMatrix expects features [h, w, c] or [1, h, w, c], got [${shape.join(', ')}]`, {
      hint: 'compute one Gram matrix per image: slice the batch first',
    });
  }
  const [h, w, c] = shape.slice(-3);
  const normalize = options.normalize ?? 'hwc';
  return tf.tidy(() => {
    const gram = gramOf2d(tf.reshape(features, [h * w, c])) as Tensor2D;
    if (normalize === 'none') return gram;
    return tf.div(gram, normalize === 'hwc' ? h * w * c : h * w);
  });
}

/** Blend Gram targets: A = sum_s b_s A_s (jcjohnson/neural-style's multi-style blend). Weights must sum to 1. */
export function blendGrams(grams: Tensor[], weights: number[]): Tensor {
  return tf.tidy(() => grams.reduce<Tensor>((acc, g, i) => (i === 0 ? tf.mul(g, weights[0]) : tf.add(acc, tf.mul(g, weights[i]))), grams[0]));
}

// ---------------------------------------------------------------------------------------------------
// Eq. 1: content loss

export type ContentNorm = 'variance' | 'gatys';

function sameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ConvlabError(`${what}: shapes differ, [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`, {
      hint: 'compare features of the same layer, computed at the same image size',
    });
  }
}

/**
 * Content loss of one layer. 'gatys': Eq. 1, 1/2 sum (F - P)^2. 'variance' (the default of stylize):
 * mean (F - P)^2 / var(P), so the loss does not depend on the layer's size or activation scale (with
 * var(P) = 1 it is jcjohnson/neural-style's ContentLoss, nn.MSECriterion). `targetVariance` saves
 * recomputing var(P) at every evaluation (featureVariance).
 */
export function contentLoss(features: Tensor, target: Tensor, norm: ContentNorm, targetVariance?: number): Tensor {
  sameShape(features, target, 'contentLoss');
  return tf.tidy(() => {
    const d = tf.squaredDifference(features, target);
    if (norm === 'gatys') return tf.mul(tf.sum(d), 0.5);
    const v = targetVariance ?? tf.moments(target).variance.dataSync()[0];
    return tf.div(tf.mean(d), Math.max(v, 1e-8));
  });
}

/** The variance of a target feature map (the 'variance' content normaliser), computed once. */
export function featureVariance(f: Tensor): number {
  return tf.tidy(() => tf.moments(f).variance.dataSync()[0]);
}

// ---------------------------------------------------------------------------------------------------
// Eq. 4-5: style loss

export type StyleNorm = 'target' | 'gatys';

/**
 * The normaliser of E_l for a target Gram A [N, N] computed with normalize 'hw' (G / M). 'gatys': 4 N^2,
 * which with G already divided by M is Eq. 4's 1 / (4 N^2 M^2). 'target': sum_ij A_ij^2, so E_l is a
 * relative error.
 */
export function gramNormaliser(target: Tensor, norm: StyleNorm): number {
  const c = target.shape[0];
  if (norm === 'gatys') return 4 * c * c;
  return Math.max(tf.tidy(() => tf.sum(tf.square(target)).dataSync()[0]), 1e-12);
}

/** Eq. 4: E_l = sum_ij (G(F)_ij - A_ij)^2 / normaliser, with G(F) = F^T F / M (normalize 'hw'). */
export function styleLoss(features: Tensor, targetGram: Tensor, normaliser: number): Tensor {
  return tf.tidy(() => {
    const g = gramMatrix(features, { normalize: 'hw' });
    sameShape(g, targetGram, 'styleLoss');
    return tf.div(tf.sum(tf.squaredDifference(g, targetGram)), normaliser);
  });
}

// ---------------------------------------------------------------------------------------------------
// Total variation (the gamma TV(x) term)

export interface TotalVariationOptions {
  /**
   * 'l2' (default): sum of squared differences between vertical and horizontal neighbours over every
   * neighbour pair. jcjohnson/neural-style's TVLoss has, as its gradient, 0.5x the gradient of this sum
   * taken over the top-left (h-1)x(w-1) crop (i.e. 'beta' with beta=2 times 0.5); the difference only
   * touches the last row and column.
   * 'l1': sum of absolute neighbour differences (anisotropic TV, as tf.image.total_variation).
   * 'beta': Mahendran & Vedaldi (2015): sum over the (h-1)x(w-1) crop of
   * ((x[i+1,j]-x[i,j])^2 + (x[i,j+1]-x[i,j])^2)^(beta/2), beta default 2; for beta < 2 an eps of 1e-8 is
   * added inside the power so the gradient stays finite where both differences vanish.
   */
  kind?: 'l2' | 'l1' | 'beta';
  beta?: number;
  /** 'sum' (default) or 'mean' over the terms summed. */
  reduction?: 'sum' | 'mean';
}

const BETA_EPS = 1e-8;

/** Total variation of an image [1, h, w, c] or [h, w, c], in whatever space it is optimised in. */
export function totalVariationLoss(x: Tensor4D | Tensor3D | Tensor, options: TotalVariationOptions = {}): Scalar {
  const kind = options.kind ?? 'l2';
  const reduction = options.reduction ?? 'sum';
  if (!(x.rank === 4 || x.rank === 3)) {
    throw new ConvlabError(`totalVariationLoss expects an image [n, h, w, c] or [h, w, c], got [${x.shape.join(', ')}]`);
  }
  const [h, w] = x.shape.slice(-3, -1);
  if (h < 2 || w < 2) throw new ConvlabError(`totalVariationLoss needs an image of at least 2x2 pixels, got ${w}x${h}`);
  if (kind === 'beta' && !(options.beta === undefined || (Number.isFinite(options.beta) && options.beta > 0))) {
    throw new ConvlabError(`totalVariationLoss: beta must be a positive number, got ${options.beta}`);
  }
  return tf.tidy(() => {
    const img = (x.rank === 3 ? tf.expandDims(x, 0) : x) as Tensor4D;
    const [n, , , c] = img.shape;
    const reduce = (t: Tensor) => (reduction === 'mean' ? tf.mean(t) : tf.sum(t));
    if (kind === 'beta') {
      const base = tf.slice(img, [0, 0, 0, 0], [n, h - 1, w - 1, c]);
      const dy = tf.sub(tf.slice(img, [0, 1, 0, 0], [n, h - 1, w - 1, c]), base);
      const dx = tf.sub(tf.slice(img, [0, 0, 1, 0], [n, h - 1, w - 1, c]), base);
      const beta = options.beta ?? 2;
      const energy = tf.add(tf.square(dx), tf.square(dy));
      if (beta === 2) return reduce(energy) as Scalar;
      return reduce(tf.pow(beta < 2 ? tf.add(energy, BETA_EPS) : energy, beta / 2)) as Scalar;
    }
    const dy = tf.sub(tf.slice(img, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(img, [0, 0, 0, 0], [n, h - 1, w, c]));
    const dx = tf.sub(tf.slice(img, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(img, [0, 0, 0, 0], [n, h, w - 1, c]));
    const penalty = kind === 'l1' ? tf.abs : tf.square;
    if (reduction === 'sum') return tf.add(tf.sum(penalty(dy)), tf.sum(penalty(dx))) as Scalar;
    const terms = dy.size + dx.size;
    return tf.div(tf.add(tf.sum(penalty(dy)), tf.sum(penalty(dx))), terms) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------------
// Style terms: what a layer's style statistic is (Gram matrices here; other papers in their own files)

/**
 * One layer's style statistic, built once from the style image(s) and compared at every evaluation. A factory
 * disposes its temporaries and keeps (tf.keep) the tensors its term holds until dispose().
 */
export interface StyleTerm {
  /** E_l of the generated image's (transformed) features at this layer; differentiable. */
  loss(features: Tensor): Tensor;
  dispose(): void;
}

export interface StyleTermInput {
  /** This layer's features of each style image, already through the feature transform. */
  styles: Tensor[];
  /** This layer's features of the content image: the shape the generated image's features will have. */
  content: Tensor;
  /** Blend weights of the style images, summing to 1. */
  blend: number[];
  norm: StyleNorm;
  /** Position of the layer in the style-layer list (seeds random projections per layer). */
  layerIndex: number;
  seed: number;
  /** Options a style term may read (e.g. sliced Wasserstein's projection count). */
  options: { swProjections?: number };
}

export type StyleTermFactory = (input: StyleTermInput) => StyleTerm;

/** Gatys et al.: the target is the blended Gram matrix A^l (Eq. 3), the loss E_l (Eq. 4). */
export const gramStyleTerm: StyleTermFactory = ({ styles, blend, norm }) => {
  const grams = styles.map((f) => gramMatrix(f, { normalize: 'hw' }));
  const target = tf.keep(blendGrams(grams, blend));
  grams.forEach((g) => g.dispose());
  const normaliser = gramNormaliser(target, norm);
  return { loss: (f) => styleLoss(f, target, normaliser), dispose: () => target.dispose() };
};

// ---------------------------------------------------------------------------------------------------
// Eq. 7: the weighted objective and its gradient with respect to the image

/** The weighted parts of the total loss at one evaluation: alpha L_content, beta L_style, gamma TV, and their sum. */
export interface IterationLosses {
  total: number;
  content: number;
  style: number;
  tv: number;
}

/** The objective's value, gradient with respect to the image (the optimiser takes it over) and parts. */
export interface ObjectiveValue {
  loss: number;
  grad: Tensor4D;
  parts: IterationLosses;
}

export type Objective = (x: Tensor4D) => ObjectiveValue;

/** What the objective needs to know besides the network and the targets. */
export interface GatysSettings {
  pool: 'max' | 'avg';
  contentNorm: ContentNorm;
  styleNorm: StyleNorm;
  /** alpha, beta, gamma of Eq. 7 (gamma: total variation). */
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  /** w_l of Eq. 5, one per style layer, summing to 1. */
  styleLayerWeights: number[];
  /** b_s, one per style image, summing to 1. */
  styleBlend: number[];
  seed: number;
  swProjections?: number;
}

/** The content features P^l and the style terms (targets A^l) of one stage. */
export interface GatysTargets {
  content: { layer: string; target: Tensor; variance: number }[];
  style: { layer: string; weight: number; term: StyleTerm }[];
}

const identity = (f: Tensor) => f;

/**
 * Forward the content image p and the style image(s) a once: keep P^l at the content layers and build each
 * style layer's term. `transform` maps features before the style statistics (softmax features).
 */
export function gatysTargets(
  net: FeatureNet,
  o: GatysSettings,
  images: { content: Tensor4D; styles: Tensor4D[] },
  layers: { content: string[]; style: string[] },
  styleTerm: StyleTermFactory = gramStyleTerm,
  transform: (f: Tensor) => Tensor = identity,
): GatysTargets {
  const contentFeats = net.forward(images.content, [...new Set([...layers.content, ...layers.style])], o.pool);
  const content = layers.content.map((layer) => ({ layer, target: tf.keep(contentFeats[layer]), variance: featureVariance(contentFeats[layer]) }));
  const styleFeats = images.styles.map((x) => net.forward(x, layers.style, o.pool));
  const style = layers.style.map((layer, layerIndex) => {
    const styles = styleFeats.map((fs) => tf.keep(tf.tidy(() => transform(fs[layer]))));
    const term = styleTerm({ styles, content: contentFeats[layer], blend: o.styleBlend, norm: o.styleNorm, layerIndex, seed: o.seed, options: { swProjections: o.swProjections } });
    for (const s of styles) if (!styleFeats.some((fs) => fs[layer] === s)) s.dispose();
    return { layer, weight: o.styleLayerWeights[layerIndex], term };
  });
  for (const t of Object.values(contentFeats)) if (!content.some((c) => c.target === t)) t.dispose();
  for (const fs of styleFeats) for (const t of Object.values(fs)) t.dispose();
  return { content, style };
}

export function disposeTargets(t: GatysTargets): void {
  for (const c of t.content) c.target.dispose();
  for (const s of t.style) s.term.dispose();
}

// ---------------------------------------------------------------------------------------------------
// The network's view of x: reflection padding and jitter (see the header)

/**
 * Reflection padding of [n, h, w, c] by p px on each side of h and w (the edge pixel is not repeated, as
 * numpy's 'reflect'), built from slice, reverse and concat so that its gradient adds the reflected copies'
 * gradients back onto the pixels they copy. Needs p < h and p < w.
 */
export function padByReflection(x: Tensor4D, p: number): Tensor4D {
  if (p === 0) return x;
  const [n, h, w, c] = x.shape;
  if (!(Number.isInteger(p) && p > 0 && p < h && p < w)) {
    throw new ConvlabError(`padByReflection: padding ${p} px needs an image larger than ${p} px per side, got ${w}x${h}`, { hint: 'use a smaller --pad / --jitter or a larger --size' });
  }
  return tf.tidy(() => {
    const top = tf.reverse(tf.slice(x, [0, 1, 0, 0], [n, p, w, c]), 1);
    const bottom = tf.reverse(tf.slice(x, [0, h - 1 - p, 0, 0], [n, p, w, c]), 1);
    const rows = tf.concat([top, x, bottom], 1) as Tensor4D;
    const left = tf.reverse(tf.slice(rows, [0, 0, 1, 0], [n, h + 2 * p, p, c]), 2);
    const right = tf.reverse(tf.slice(rows, [0, 0, w - 1 - p, 0], [n, h + 2 * p, p, c]), 2);
    return tf.concat([left, rows, right], 2) as Tensor4D;
  });
}

/**
 * What the network sees of an image x [1, h, w, c]: x reflection-padded by `pad` px and shifted by (dy, dx)
 * (|dy|, |dx| <= jitter), i.e. the (h + 2 pad) x (w + 2 pad) window at offset (jitter + dy, jitter + dx) of x
 * reflection-padded by pad + jitter. pad = jitter = 0 returns x itself (the plain objective).
 */
export function networkView(x: Tensor4D, pad: number, jitter: number, dy = 0, dx = 0): Tensor4D {
  if (pad === 0 && jitter === 0) return x;
  if (Math.abs(dy) > jitter || Math.abs(dx) > jitter) throw new ConvlabError(`networkView: shift (${dy}, ${dx}) exceeds the jitter of ${jitter} px`);
  const [n, h, w, c] = x.shape;
  const m = pad + jitter;
  return tf.tidy(() => tf.slice(padByReflection(x, m), [0, jitter + dy, jitter + dx, 0], [n, h + 2 * pad, w + 2 * pad, c]) as Tensor4D);
}

/** One evaluation's view: the network input made from x (differentiable) and the content targets of that view. */
export interface ObjectiveView {
  input(x: Tensor4D): Tensor4D;
  content: GatysTargets['content'];
}

/**
 * Eq. 7 as a function of the network input x: L = alpha L_content + beta sum_l w_l E_l + gamma TV(x), its
 * gradient dL/dx by autodiff through the network, and the weighted parts for progress and the run record.
 * `view`, called once per evaluation, makes the network see view.input(x) (padded, jittered: networkView)
 * against view.content; TV stays on x. Without it the network sees x (the objective checked against PyTorch).
 */
export function gatysObjective(
  net: FeatureNet,
  o: GatysSettings,
  targets: GatysTargets,
  transform: (f: Tensor) => Tensor = identity,
  view?: () => ObjectiveView,
): Objective {
  const layers = [...new Set([...targets.content.map((c) => c.layer), ...targets.style.map((s) => s.layer)])];
  return (x: Tensor4D) => {
    const parts = { content: 0, style: 0, tv: 0 };
    const v = view?.();
    const contentTargets = v ? v.content : targets.content;
    const f = (img: Tensor) => {
      const feats = net.forward(v ? v.input(img as Tensor4D) : (img as Tensor4D), layers, o.pool);
      let c: Tensor = tf.scalar(0);
      for (const t of contentTargets) c = tf.add(c, contentLoss(feats[t.layer], t.target, o.contentNorm, t.variance));
      if (contentTargets.length > 1) c = tf.div(c, contentTargets.length);
      let s: Tensor = tf.scalar(0);
      for (const t of targets.style) s = tf.add(s, tf.mul(t.term.loss(transform(feats[t.layer])), t.weight));
      const tv = o.tvWeight > 0 ? totalVariationLoss(tf.div(net.deprocess(img as Tensor4D), 255), { reduction: 'mean' }) : tf.scalar(0);
      parts.content = c.dataSync()[0];
      parts.style = s.dataSync()[0];
      parts.tv = tv.dataSync()[0];
      return tf.addN([tf.mul(c, o.contentWeight), tf.mul(s, o.styleWeight), tf.mul(tv, o.tvWeight)]) as Tensor;
    };
    const { value, grad } = tf.tidy(() => {
      const r = tf.valueAndGrad(f)(x);
      return { value: r.value, grad: r.grad };
    });
    const loss = value.dataSync()[0];
    value.dispose();
    return {
      loss,
      grad: grad as Tensor4D,
      parts: { total: loss, content: parts.content * o.contentWeight, style: parts.style * o.styleWeight, tv: parts.tv * o.tvWeight },
    };
  };
}
