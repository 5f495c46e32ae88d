/**
 * Transformation robustness (Olah, Mordvintsev & Schubert 2017; lucid's transform.standard_transforms):
 * the objective is evaluated on a randomly padded, jittered, scaled and rotated copy of the image at
 * every step, so the image must work under all of them and loses the high-frequency patterns that
 * fool one exact alignment:
 *
 *   T(x) = jitter_4( rotate_a( scale_s( jitter_8( pad_12(x) ) ) ) ),  s in 1 + {-5..5}/50,  a in {-10..10} deg
 *
 * Each transform is differentiable on every backend: padding and jitter are pads and slices, scaling
 * is a bilinear resize (ResizeBilinearGrad exists on cpu and wasm), and a rotation's backward pass
 * rotates the gradient back by -a (the adjoint of a rotation is its inverse; with bilinear sampling
 * this is exact up to interpolation and the corners). The result is resized back to the model's input
 * size, so heads that need a fixed size (class logits) work too. Random choices come from a seeded
 * generator: the same seed gives the same sequence.
 */
import { seededRandom as coreSeededRandom, tf, type Tensor, type Tensor4D } from '@convlab/core';

export interface TransformOptions {
  /** Constant padding in px, grey (default 12). */
  pad?: number;
  /** Random translation before scaling/rotation, in px (default 8). */
  jitter?: number;
  /** Scales to pick from (default 0.9, 0.92, ..., 1.1). */
  scales?: number[];
  /** Angles in degrees to pick from (default -10..10 and five more zeros, lucid's). */
  angles?: number[];
  /** Random translation at the end, in px (default 4). */
  jitterAfter?: number;
}

export const STANDARD_TRANSFORMS: Required<TransformOptions> = {
  pad: 12,
  jitter: 8,
  scales: Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50),
  angles: [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0],
  jitterAfter: 4,
};

export const NO_TRANSFORMS: Required<TransformOptions> = { pad: 0, jitter: 0, scales: [1], angles: [0], jitterAfter: 0 };

/** mulberry32 (@convlab/core's seededRandom) on the seed mixed with 0x9e3779b9: a small seeded generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  return coreSeededRandom((seed ^ 0x9e3779b9) >>> 0);
}

function jitter(x: Tensor4D, d: number, rand: () => number): Tensor4D {
  if (d <= 0) return x;
  const [n, h, w, c] = x.shape;
  const dy = Math.floor(rand() * (d + 1));
  const dx = Math.floor(rand() * (d + 1));
  return tf.slice(x, [0, dy, dx, 0], [n, h - d, w - d, c]);
}

/** Rotation by `radians` about the centre whose gradient is the gradient rotated back. */
function rotate(x: Tensor4D, radians: number, fill: number): Tensor4D {
  if (radians === 0) return x;
  const f = tf.customGrad((...args: unknown[]) => {
    const input = args[0] as Tensor4D;
    return {
      value: tf.image.rotateWithOffset(input, radians, fill),
      gradFunc: (dy: Tensor) => tf.image.rotateWithOffset(dy as Tensor4D, -radians, 0),
    };
  });
  return f(x) as Tensor4D;
}

/** One random draw of the transforms applied to a batch (RGB 0..255), resized back to [h, w]. */
export function transformBatch(x: Tensor4D, options: Required<TransformOptions>, rand: () => number, size: [number, number]): Tensor4D {
  let t = x;
  if (options.pad > 0) t = tf.pad(t, [[0, 0], [options.pad, options.pad], [options.pad, options.pad], [0, 0]], 127.5);
  t = jitter(t, options.jitter, rand);
  const s = options.scales[Math.floor(rand() * options.scales.length)] ?? 1;
  if (s !== 1) {
    const [, h, w] = t.shape;
    t = tf.image.resizeBilinear(t, [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))], false, true);
  }
  const a = options.angles[Math.floor(rand() * options.angles.length)] ?? 0;
  t = rotate(t, (a * Math.PI) / 180, 127.5);
  t = jitter(t, options.jitterAfter, rand);
  if (t.shape[1] !== size[0] || t.shape[2] !== size[1]) t = tf.image.resizeBilinear(t, size, false, true);
  return t;
}
