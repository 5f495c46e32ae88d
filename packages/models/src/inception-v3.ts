/**
 * Inception-v3 (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2016, "Rethinking the Inception Architecture
 * for Computer Vision"), the Keras-applications layout (keras/applications/inception_v3.py): every conv
 * is conv (no bias) -> batch norm (no scale, eps 1e-3) -> relu, and a module concatenates its branches,
 *
 *   mixed_k(x) = concat_c( b_1(x), ..., b_m(x) ),
 *
 * with n x n convolutions factorised into 1 x n then n x 1 (section 3.2). Layer names are Keras 2's
 * automatic ones in creation order (conv2d_1 .. conv2d_94, batch_normalization_*, activation_*,
 * max_pooling2d_*, average_pooling2d_*), plus mixed0 .. mixed10, mixed9_0, mixed9_1, concatenate_1/2,
 * avg_pool, predictions: the names of the published weight file and of the topology nsfwjs ships (a
 * test compares the two). Preprocessing 'tf' ([-1, 1]); native 299, any size >= 75.
 */
import { tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { apply, KerasNamer, type Sym } from './keras-layers.js';
import type { BuildKerasAppOptions } from './resnet.js';

class Builder {
  names = new KerasNamer();
  /** conv2d_bn: Conv2D(no bias) -> BatchNormalization(scale=False) -> Activation('relu'). */
  cbr(x: Sym, filters: number, rows: number, cols: number, padding: 'same' | 'valid' = 'same', strides = 1): Sym {
    x = apply(tf.layers.conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: this.names.next('conv2d') }), x);
    x = apply(tf.layers.batchNormalization({ axis: 3, scale: false, epsilon: 1e-3, name: this.names.next('batch_normalization') }), x);
    return apply(tf.layers.activation({ activation: 'relu', name: this.names.next('activation') }), x);
  }
  maxPool(x: Sym): Sym {
    return apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: this.names.next('max_pooling2d') }), x);
  }
  avgPool(x: Sym): Sym {
    return apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: this.names.next('average_pooling2d') }), x);
  }
  concat(xs: Sym[], name?: string): Sym {
    return apply(tf.layers.concatenate({ axis: 3, name: name ?? this.names.next('concatenate') }), xs);
  }
}

/** Inception-v3 with Keras's layer names; input [null, null, 3]. */
export function buildInceptionV3(options: BuildKerasAppOptions = {}): LayersModel {
  const b = new Builder();
  const input = tf.input({ shape: [null, null, 3], name: 'input_1' });
  let x = b.cbr(input, 32, 3, 3, 'valid', 2);
  x = b.cbr(x, 32, 3, 3, 'valid');
  x = b.cbr(x, 64, 3, 3);
  x = b.maxPool(x);
  x = b.cbr(x, 80, 1, 1, 'valid');
  x = b.cbr(x, 192, 3, 3, 'valid');
  x = b.maxPool(x);

  // mixed0..2: 35 x 35
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const b1 = b.cbr(x, 64, 1, 1);
    let b5 = b.cbr(x, 48, 1, 1);
    b5 = b.cbr(b5, 64, 5, 5);
    let b3 = b.cbr(x, 64, 1, 1);
    b3 = b.cbr(b3, 96, 3, 3);
    b3 = b.cbr(b3, 96, 3, 3);
    const bp = b.cbr(b.avgPool(x), poolFilters, 1, 1);
    x = b.concat([b1, b5, b3, bp], `mixed${i}`);
  }
  // mixed3: 17 x 17
  {
    const b3 = b.cbr(x, 384, 3, 3, 'valid', 2);
    let bd = b.cbr(x, 64, 1, 1);
    bd = b.cbr(bd, 96, 3, 3);
    bd = b.cbr(bd, 96, 3, 3, 'valid', 2);
    const bp = b.maxPool(x);
    x = b.concat([b3, bd, bp], 'mixed3');
  }
  // mixed4..7: 17 x 17, factorised 7x7
  for (const [i, c] of [128, 160, 160, 192].entries()) {
    const b1 = b.cbr(x, 192, 1, 1);
    let b7 = b.cbr(x, c, 1, 1);
    b7 = b.cbr(b7, c, 1, 7);
    b7 = b.cbr(b7, 192, 7, 1);
    let bd = b.cbr(x, c, 1, 1);
    bd = b.cbr(bd, c, 7, 1);
    bd = b.cbr(bd, c, 1, 7);
    bd = b.cbr(bd, c, 7, 1);
    bd = b.cbr(bd, 192, 1, 7);
    const bp = b.cbr(b.avgPool(x), 192, 1, 1);
    x = b.concat([b1, b7, bd, bp], `mixed${4 + i}`);
  }
  // mixed8: 8 x 8
  {
    let b3 = b.cbr(x, 192, 1, 1);
    b3 = b.cbr(b3, 320, 3, 3, 'valid', 2);
    let b7 = b.cbr(x, 192, 1, 1);
    b7 = b.cbr(b7, 192, 1, 7);
    b7 = b.cbr(b7, 192, 7, 1);
    b7 = b.cbr(b7, 192, 3, 3, 'valid', 2);
    const bp = b.maxPool(x);
    x = b.concat([b3, b7, bp], 'mixed8');
  }
  // mixed9, mixed10: 8 x 8, expanded filter banks
  for (let i = 0; i < 2; i++) {
    const b1 = b.cbr(x, 320, 1, 1);
    const b3 = b.cbr(x, 384, 1, 1);
    const b3a = b.cbr(b3, 384, 1, 3);
    const b3b = b.cbr(b3, 384, 3, 1);
    const b3c = b.concat([b3a, b3b], `mixed9_${i}`);
    let bd = b.cbr(x, 448, 1, 1);
    bd = b.cbr(bd, 384, 3, 3);
    const bda = b.cbr(bd, 384, 1, 3);
    const bdb = b.cbr(bd, 384, 3, 1);
    const bdc = b.concat([bda, bdb]);
    const bp = b.cbr(b.avgPool(x), 192, 1, 1);
    x = b.concat([b1, b3c, bdc, bp], `mixed${9 + i}`);
  }
  if (options.includeTop ?? true) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: options.classes ?? 1000, activation: 'softmax', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'inception_v3' });
}
