/**
 * Inception-ResNet-v2 (Szegedy, Ioffe, Vanhoucke & Alemi 2016, "Inception-v4, Inception-ResNet and the
 * Impact of Residual Connections on Learning"), the Keras-applications layout
 * (keras/applications/inception_resnet_v2.py). Each Inception-ResNet block adds a scaled Inception
 * module to its input (section 3.3, Figure 20):
 *
 *   y = act( x + s * W_up * concat_c(b_1(x), ..., b_m(x)) ),   s = 0.17 (block35), 0.1 (block17), 0.2 (block8)
 *
 * (block8_10: s = 1, no activation). conv2d_bn is conv (no bias) -> batch norm (no scale, eps 1e-3) ->
 * relu; the `_conv` up-projection has a bias and no batch norm. Names: Keras 2's automatic conv2d_N,
 * batch_normalization_N, activation_N, max_pooling2d_N, average_pooling2d_1, plus mixed_5b,
 * block35_{1..10}{_mixed,_conv,,_ac}, mixed_6a, block17_{1..20}..., mixed_7a, block8_{1..10}...,
 * conv_7b, conv_7b_bn, conv_7b_ac, avg_pool, predictions. The scaled sum `block35_1` is a Keras Lambda;
 * here it is the ScaledResidual layer of the same name. Preprocessing 'tf'; native 299, any size >= 75.
 */
import { tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { apply, KerasNamer, ScaledResidual, type Sym } from './keras-layers.js';
import type { BuildKerasAppOptions } from './resnet.js';

class Builder {
  names = new KerasNamer();
  /** conv2d_bn of inception_resnet_v2.py (named layers get `_bn` / `_ac` suffixes). */
  cbr(x: Sym, filters: number, kernel: number | [number, number], opts: { strides?: number; padding?: 'same' | 'valid'; activation?: boolean; useBias?: boolean; name?: string } = {}): Sym {
    const { strides = 1, padding = 'same', activation = true, useBias = false, name } = opts;
    x = apply(tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding, useBias, name: name ?? this.names.next('conv2d') }), x);
    if (!useBias) {
      x = apply(tf.layers.batchNormalization({ axis: 3, scale: false, epsilon: 1e-3, name: name ? `${name}_bn` : this.names.next('batch_normalization') }), x);
    }
    if (activation) x = apply(tf.layers.activation({ activation: 'relu', name: name ? `${name}_ac` : this.names.next('activation') }), x);
    return x;
  }
  maxPool(x: Sym): Sym {
    return apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: this.names.next('max_pooling2d') }), x);
  }

  block(x: Sym, scale: number, type: 'block35' | 'block17' | 'block8', idx: number, activation = true): Sym {
    let branches: Sym[];
    if (type === 'block35') {
      const b0 = this.cbr(x, 32, 1);
      const b1 = this.cbr(this.cbr(x, 32, 1), 32, 3);
      const b2 = this.cbr(this.cbr(this.cbr(x, 32, 1), 48, 3), 64, 3);
      branches = [b0, b1, b2];
    } else if (type === 'block17') {
      const b0 = this.cbr(x, 192, 1);
      const b1 = this.cbr(this.cbr(this.cbr(x, 128, 1), 160, [1, 7]), 192, [7, 1]);
      branches = [b0, b1];
    } else {
      const b0 = this.cbr(x, 192, 1);
      const b1 = this.cbr(this.cbr(this.cbr(x, 192, 1), 224, [1, 3]), 256, [3, 1]);
      branches = [b0, b1];
    }
    const name = `${type}_${idx}`;
    const mixed = apply(tf.layers.concatenate({ axis: 3, name: `${name}_mixed` }), branches);
    const up = this.cbr(mixed, x.shape[3] as number, 1, { activation: false, useBias: true, name: `${name}_conv` });
    let y = apply(new ScaledResidual({ scale, name }), [x, up]);
    if (activation) y = apply(tf.layers.activation({ activation: 'relu', name: `${name}_ac` }), y);
    return y;
  }
}

/** Inception-ResNet-v2 with Keras's layer names; input [null, null, 3]. */
export function buildInceptionResNetV2(options: BuildKerasAppOptions = {}): LayersModel {
  const b = new Builder();
  const input = tf.input({ shape: [null, null, 3], name: 'input_1' });
  // Stem: 35 x 35 x 192
  let x = b.cbr(input, 32, 3, { strides: 2, padding: 'valid' });
  x = b.cbr(x, 32, 3, { padding: 'valid' });
  x = b.cbr(x, 64, 3);
  x = b.maxPool(x);
  x = b.cbr(x, 80, 1, { padding: 'valid' });
  x = b.cbr(x, 192, 3, { padding: 'valid' });
  x = b.maxPool(x);
  // mixed_5b (Inception-A): 35 x 35 x 320
  {
    const b0 = b.cbr(x, 96, 1);
    const b1 = b.cbr(b.cbr(x, 48, 1), 64, 5);
    const b2 = b.cbr(b.cbr(b.cbr(x, 64, 1), 96, 3), 96, 3);
    const pool = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: b.names.next('average_pooling2d') }), x);
    const bp = b.cbr(pool, 64, 1);
    x = apply(tf.layers.concatenate({ axis: 3, name: 'mixed_5b' }), [b0, b1, b2, bp]);
  }
  for (let i = 1; i <= 10; i++) x = b.block(x, 0.17, 'block35', i);
  // mixed_6a (Reduction-A): 17 x 17 x 1088
  {
    const b0 = b.cbr(x, 384, 3, { strides: 2, padding: 'valid' });
    const b1 = b.cbr(b.cbr(b.cbr(x, 256, 1), 256, 3), 384, 3, { strides: 2, padding: 'valid' });
    const bp = b.maxPool(x);
    x = apply(tf.layers.concatenate({ axis: 3, name: 'mixed_6a' }), [b0, b1, bp]);
  }
  for (let i = 1; i <= 20; i++) x = b.block(x, 0.1, 'block17', i);
  // mixed_7a (Reduction-B): 8 x 8 x 2080
  {
    const b0 = b.cbr(b.cbr(x, 256, 1), 384, 3, { strides: 2, padding: 'valid' });
    const b1 = b.cbr(b.cbr(x, 256, 1), 288, 3, { strides: 2, padding: 'valid' });
    const b2 = b.cbr(b.cbr(b.cbr(x, 256, 1), 288, 3), 320, 3, { strides: 2, padding: 'valid' });
    const bp = b.maxPool(x);
    x = apply(tf.layers.concatenate({ axis: 3, name: 'mixed_7a' }), [b0, b1, b2, bp]);
  }
  for (let i = 1; i <= 9; i++) x = b.block(x, 0.2, 'block8', i);
  x = b.block(x, 1, 'block8', 10, false);
  x = b.cbr(x, 1536, 1, { name: 'conv_7b' });
  if (options.includeTop ?? true) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: options.classes ?? 1000, activation: 'softmax', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'inception_resnet_v2' });
}
