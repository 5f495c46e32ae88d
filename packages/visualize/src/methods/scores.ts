/**
 * Shared pieces of the newer methods: the target's score for each image of a batch (perturbation
 * methods need one number per image, the gradient methods a batch sum), the model's "zero" pixel, the
 * baselines images are blended towards, and a Gaussian blur. Everything is plain tfjs ops, so it runs
 * on every backend.
 */
import { ConvlabError, opSeed, tf, type RgbImage, type Tensor, type Tensor1D, type Tensor4D } from '@convlab/core';
import type { ConvNet, ForwardOptions } from '@convlab/models';
import { toBatch } from '../attribution.js';
import { targetSource, type ResolvedTarget } from '../target.js';
import { BASELINES, type BaselineKind } from '../names.js';

/** One score per image of a layer output / logits [n, ...]: the unit at its position, its map summed, or the class. */
export function scoresOf(out: Tensor, target: ResolvedTarget): Tensor1D {
  if (out.rank === 4) {
    const [n, h, w] = out.shape;
    if (target.position) {
      const [y, x] = target.position;
      return tf.reshape(tf.slice(out, [0, y, x, target.index], [n, 1, 1, 1]), [n]);
    }
    return tf.sum(tf.slice(out, [0, 0, 0, target.index], [n, h, w, 1]), [1, 2, 3]);
  }
  const flat = tf.reshape(out, [out.shape[0], -1]);
  return tf.reshape(tf.slice(flat, [0, target.index], [flat.shape[0], 1]), [flat.shape[0]]);
}

/** The target's score (logit for a class, activation for a unit) of each RGB image (0..255) [n, h, w, 3]. */
export function targetScores(model: ConvNet, images: Tensor4D, target: ResolvedTarget, options: Omit<ForwardOptions, 'outputs'> = {}): Tensor1D {
  return tf.tidy(() => scoresOf(targetSource(model, model.preprocess(images), target, options), target));
}

/** Scores of many images in batches, as numbers. */
export function batchedScores(model: ConvNet, images: Tensor4D, target: ResolvedTarget, batchSize: number): Float32Array {
  const n = images.shape[0];
  const out = new Float32Array(n);
  for (let s = 0; s < n; s += batchSize) {
    const k = Math.min(batchSize, n - s);
    const v = tf.tidy(() => targetScores(model, tf.slice(images, [s, 0, 0, 0], [k, -1, -1, -1]), target).dataSync() as Float32Array);
    out.set(v, s);
  }
  return out;
}

/**
 * The RGB pixel (0..255) the network sees as zero input: black for x/255 models, 127.5 for [-1, 1]
 * models, the mean pixel for caffe-style VGG. "Input x gradient", Score-CAM's masking and the
 * occlusion's 'zero' baseline work relative to it, as captum and the papers do in the network's input space.
 */
export function zeroPixel(model: ConvNet): [number, number, number] {
  return tf.tidy(() => Array.from(model.deprocess(tf.zeros([1, 1, 1, 3]) as Tensor4D).dataSync()) as [number, number, number]);
}

/** Gaussian blur of [n, h, w, 3] images with std `sigma` px (reflect padding; forward only). */
export function gaussianBlur(images: Tensor4D, sigma: number): Tensor4D {
  if (!(sigma > 0)) return tf.clone(images);
  const [, h, w] = images.shape;
  const radius = Math.max(1, Math.min(Math.ceil(3 * sigma), Math.floor((Math.min(h, w) - 1) / 2)));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return tf.tidy(() => {
    const padded = tf.mirrorPad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'reflect');
    const kernel = tf.tensor1d(k);
    const ky = tf.tile(tf.reshape(kernel, [k.length, 1, 1, 1]), [1, 1, 3, 1]) as ReturnType<typeof tf.tensor4d>;
    const kx = tf.tile(tf.reshape(kernel, [1, k.length, 1, 1]), [1, 1, 3, 1]) as ReturnType<typeof tf.tensor4d>;
    return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, ky, 1, 'valid'), kx, 1, 'valid');
  });
}

export { BASELINES, type BaselineKind } from '../names.js';

/** A baseline: a named kind, an RGB colour, or an image of the input's size (RgbImage or tensor, 0..255). */
export type Baseline = BaselineKind | [number, number, number] | RgbImage | Tensor;

export interface BaselineOptions {
  /** 'blur': std of the Gaussian in px (default: 1/20 of the shorter side, at least 1). */
  blurSigma?: number;
  /** 'noise': std of the Gaussian noise added to the image, as a fraction of 255 (default 0.15). */
  noiseSigma?: number;
  seed?: number;
}

/**
 * The baseline image [1, h, w, 3] (caller disposes) for an image [1, h, w, 3]:
 *   black    all zeros (Sundararajan et al.'s default)
 *   zero     the model's zero input (zeroPixel)
 *   blur     the image blurred (Fong & Vedaldi 2017; Sturmfels et al. 2020)
 *   noise    the image plus Gaussian noise, clipped to 0..255 (Sturmfels et al. 2020)
 *   uniform  uniform noise in 0..255 (Sturmfels et al. 2020)
 */
export function baselineImage(model: ConvNet, image: Tensor4D, baseline: Baseline, options: BaselineOptions = {}): Tensor4D {
  const [, h, w] = image.shape;
  const seed = options.seed ?? 0;
  if (typeof baseline === 'string') {
    switch (baseline) {
      case 'black':
        return tf.zerosLike(image);
      case 'zero': {
        const z = zeroPixel(model);
        return tf.tidy(() => tf.add(tf.zerosLike(image), tf.tensor1d(z)) as Tensor4D);
      }
      case 'blur':
        return gaussianBlur(image, options.blurSigma ?? Math.max(1, Math.min(h, w) / 20));
      case 'noise':
        return tf.tidy(() => tf.clipByValue(tf.add(image, tf.randomNormal(image.shape, 0, 255 * (options.noiseSigma ?? 0.15), 'float32', opSeed(seed, 17))), 0, 255) as Tensor4D);
      case 'uniform':
        return tf.randomUniform(image.shape, 0, 255, 'float32', opSeed(seed, 19)) as Tensor4D;
      default:
        throw new ConvlabError(`unknown baseline "${baseline as string}"`, { hint: `use one of: ${BASELINES.join(', ')}, an r,g,b colour or an image` });
    }
  }
  if (Array.isArray(baseline)) return tf.tidy(() => tf.add(tf.zerosLike(image), tf.tensor1d(baseline)) as Tensor4D);
  const b = toBatch(baseline);
  if (b.shape[1] !== h || b.shape[2] !== w) {
    const shape = b.shape;
    b.dispose();
    throw new ConvlabError(`the baseline image is ${shape[2]}x${shape[1]}, the input ${w}x${h}`, { hint: 'give a baseline image of the input size' });
  }
  return b;
}

/** Describe a baseline for the run record. */
export function baselineLabel(baseline: Baseline): string | number[] {
  if (typeof baseline === 'string') return baseline;
  if (Array.isArray(baseline)) return baseline;
  return 'custom image';
}
