/**
 * MobileNetV2 1.0 (Sandler, Howard, Zhu, Zhmoginov & Chen 2018, "MobileNetV2: Inverted Residuals and
 * Linear Bottlenecks"), the Keras-applications layout (keras/applications/mobilenet_v2.py). Each block
 * (Table 1) expands, filters depthwise and projects linearly, with a residual when shapes allow:
 *
 *   y = x + BN(W_project * relu6(BN(W_depthwise * relu6(BN(W_expand * x)))))     (stride 1, c_in = c_out)
 *
 * Convs have no bias; batch norm eps 1e-3. Stride-2 depthwise convs are 'valid' after a
 * ZeroPadding2D of ((0, 1), (0, 1)) (Keras's correct_pad for even sizes: what the 224 model uses).
 * Names: Conv1_pad, Conv1, bn_Conv1, Conv1_relu, expanded_conv_{depthwise,depthwise_BN,depthwise_relu,
 * project,project_BN}, block_{1..16}_{expand,expand_BN,expand_relu,pad,depthwise,depthwise_BN,
 * depthwise_relu,project,project_BN,add}, Conv_1, Conv_1_bn, out_relu, global_average_pooling2d_1,
 * Logits. Preprocessing 'tf' ([-1, 1]); native 224, any size >= 32.
 */
import { tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { apply, type Sym } from './keras-layers.js';
import type { BuildKerasAppOptions } from './resnet.js';

/** (filters, stride, expansion) of blocks 0..16. */
const BLOCKS: [number, number, number][] = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

const bn = (name: string) => tf.layers.batchNormalization({ axis: 3, epsilon: 1e-3, momentum: 0.999, name });
const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });

function invertedResidual(input: Sym, filters: number, stride: number, expansion: number, id: number): Sym {
  const inChannels = input.shape[3] as number;
  let x = input;
  let prefix = `block_${id}_`;
  if (id) {
    x = apply(tf.layers.conv2d({ filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}expand` }), x);
    x = apply(bn(`${prefix}expand_BN`), x);
    x = apply(relu6(`${prefix}expand_relu`), x);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) x = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: `${prefix}pad` }), x);
  x = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, useBias: false, padding: stride === 1 ? 'same' : 'valid', name: `${prefix}depthwise` }), x);
  x = apply(bn(`${prefix}depthwise_BN`), x);
  x = apply(relu6(`${prefix}depthwise_relu`), x);
  x = apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}project` }), x);
  x = apply(bn(`${prefix}project_BN`), x);
  if (inChannels === filters && stride === 1) return apply(tf.layers.add({ name: `${prefix}add` }), [input, x]);
  return x;
}

/** MobileNetV2 1.0 with Keras's layer names; input [null, null, 3]. */
export function buildMobileNetV2(options: BuildKerasAppOptions = {}): LayersModel {
  const input = tf.input({ shape: [null, null, 3], name: 'input_1' });
  let x = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'Conv1_pad' }), input);
  x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'Conv1' }), x);
  x = apply(bn('bn_Conv1'), x);
  x = apply(relu6('Conv1_relu'), x);
  BLOCKS.forEach(([filters, stride, expansion], id) => {
    x = invertedResidual(x, filters, stride, expansion, id);
  });
  x = apply(tf.layers.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'Conv_1' }), x);
  x = apply(bn('Conv_1_bn'), x);
  x = apply(relu6('out_relu'), x);
  if (options.includeTop ?? true) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d_1' }), x);
    x = apply(tf.layers.dense({ units: options.classes ?? 1000, activation: 'softmax', name: 'Logits' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'mobilenetv2_1.00_224' });
}
