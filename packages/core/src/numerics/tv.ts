/**
 * Total-variation regularisers for an image being optimised (style transfer, feature visualisation).
 * They act on the image as given, [1, h, w, c] or [h, w, c], in whatever space it is optimised in.
 */
import * as tf from '@tensorflow/tfjs-core';
// tf.ts loads tfjs-layers, which registers tfjs-core's gradients (tfjs-core's node entry alone does not).
import '../tf.js';
import { ConvlabError } from '../errors.js';

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

export function totalVariationLoss(x: tf.Tensor4D | tf.Tensor3D | tf.Tensor, options: TotalVariationOptions = {}): tf.Scalar {
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
    const img = (x.rank === 3 ? tf.expandDims(x, 0) : x) as tf.Tensor4D;
    const [n, , , c] = img.shape;
    const reduce = (t: tf.Tensor) => (reduction === 'mean' ? tf.mean(t) : tf.sum(t));
    if (kind === 'beta') {
      const base = tf.slice(img, [0, 0, 0, 0], [n, h - 1, w - 1, c]);
      const dy = tf.sub(tf.slice(img, [0, 1, 0, 0], [n, h - 1, w - 1, c]), base);
      const dx = tf.sub(tf.slice(img, [0, 0, 1, 0], [n, h - 1, w - 1, c]), base);
      const beta = options.beta ?? 2;
      const energy = tf.add(tf.square(dx), tf.square(dy));
      if (beta === 2) return reduce(energy) as tf.Scalar;
      return reduce(tf.pow(beta < 2 ? tf.add(energy, BETA_EPS) : energy, beta / 2)) as tf.Scalar;
    }
    const dy = tf.sub(tf.slice(img, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(img, [0, 0, 0, 0], [n, h - 1, w, c]));
    const dx = tf.sub(tf.slice(img, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(img, [0, 0, 0, 0], [n, h, w - 1, c]));
    const penalty = kind === 'l1' ? tf.abs : tf.square;
    if (reduction === 'sum') return tf.add(tf.sum(penalty(dy)), tf.sum(penalty(dx))) as tf.Scalar;
    const terms = dy.size + dx.size;
    return tf.div(tf.add(tf.sum(penalty(dy)), tf.sum(penalty(dx))), terms) as tf.Scalar;
  });
}
