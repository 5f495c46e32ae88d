/**
 * ResNet-50/101/152 (He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image Recognition"), the
 * Keras-applications v1 layout (keras/applications/resnet.py): bottleneck blocks with the stride on the
 * first 1x1 conv (the Caffe release the weights were converted from), batch norm epsilon 1.001e-5.
 *
 *   y = F(x, {W_i}) + W_s x          (eq. 2; W_s is the 1x1 projection `_0_conv` in each stage's first
 *                                     block, the identity elsewhere: eq. 1, y = F(x, {W_i}) + x)
 *
 * with F = conv1x1 -> BN -> relu -> conv3x3 -> BN -> relu -> conv1x1 -> BN, then relu(y).
 * Layer names: conv1_pad, conv1_conv, conv1_bn, conv1_relu, pool1_pad, pool1_pool,
 * conv{2..5}_block{i}_{0..3}_{conv,bn}, _{1,2}_relu, _add, _out, avg_pool, predictions.
 * Preprocessing: 'caffe' (RGB -> BGR, minus the ImageNet mean). Any input >= 32 px for the trunk; the
 * head (global average pooling + softmax) works at any size, as trained at 224.
 */
import { tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { apply, type Sym } from './keras-layers.js';

export type ResNetDepth = 50 | 101 | 152;

/** Blocks per stage (conv2..conv5). */
export const RESNET_STAGES: Record<ResNetDepth, [number, number, number, number]> = {
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

const EPS = 1.001e-5;

export interface BuildKerasAppOptions {
  /** Keep the ImageNet classifier (global average pooling + 1000-way softmax). Default true. */
  includeTop?: boolean;
  /** Number of classes of the head (default 1000). */
  classes?: number;
}

function convBn(x: Sym, filters: number, kernel: number, strides: number, name: string, padding: 'valid' | 'same' = 'valid'): Sym {
  x = apply(tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding, useBias: true, name: `${name}_conv` }), x);
  return apply(tf.layers.batchNormalization({ axis: 3, epsilon: EPS, name: `${name}_bn` }), x);
}

function block(x: Sym, filters: number, stride: number, shortcutConv: boolean, name: string): Sym {
  const shortcut = shortcutConv ? convBn(x, 4 * filters, 1, stride, `${name}_0`) : x;
  let y = convBn(x, filters, 1, stride, `${name}_1`);
  y = apply(tf.layers.activation({ activation: 'relu', name: `${name}_1_relu` }), y);
  y = convBn(y, filters, 3, 1, `${name}_2`, 'same');
  y = apply(tf.layers.activation({ activation: 'relu', name: `${name}_2_relu` }), y);
  y = convBn(y, 4 * filters, 1, 1, `${name}_3`);
  y = apply(tf.layers.add({ name: `${name}_add` }), [shortcut, y]);
  return apply(tf.layers.activation({ activation: 'relu', name: `${name}_out` }), y);
}

/** ResNet-50/101/152 v1 with Keras's layer names; input [null, null, 3]. */
export function buildResNet(depth: ResNetDepth, options: BuildKerasAppOptions = {}): LayersModel {
  const input = tf.input({ shape: [null, null, 3], name: 'input_1' });
  let x = apply(tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }), input);
  x = apply(tf.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: true, name: 'conv1_conv' }), x);
  x = apply(tf.layers.batchNormalization({ axis: 3, epsilon: EPS, name: 'conv1_bn' }), x);
  x = apply(tf.layers.activation({ activation: 'relu', name: 'conv1_relu' }), x);
  x = apply(tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);
  RESNET_STAGES[depth].forEach((blocks, s) => {
    const filters = 64 * 2 ** s;
    for (let i = 1; i <= blocks; i++) {
      x = block(x, filters, i === 1 && s > 0 ? 2 : 1, i === 1, `conv${s + 2}_block${i}`);
    }
  });
  if (options.includeTop ?? true) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: options.classes ?? 1000, activation: 'softmax', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: `resnet${depth}` });
}

/** The last layer of the trunk. */
export function resnetTrunkEnd(depth: ResNetDepth): string {
  return `conv5_block${RESNET_STAGES[depth][3]}_out`;
}
