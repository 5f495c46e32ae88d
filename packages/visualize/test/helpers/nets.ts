/** Small networks with fixed weights, built as tfjs-layers models and wrapped with createConvNet. */
import { tf } from '@convlab/core';
import { createConvNet } from '@convlab/models';
import type { ConvNet } from '@convlab/models';

/** Deterministic pseudo-random numbers in [-1, 1) (no tf randomness involved). */
export function fixedValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export interface HandNet {
  net: ConvNet;
  W1: Float32Array; // [3, 3, 3, 4]
  b1: Float32Array; // [4]
  W2: Float32Array; // [3, 3, 4, 2]
  b2: Float32Array; // [2]
}

/**
 * input 8x8x3 -> conv1 3x3 same (4) -> relu1 -> pool1 2x2/2 -> conv2 3x3 valid (2) -> relu2 (2x2x2).
 * Preprocessing 'none': the image tensor is the network input.
 */
export function handNet(): HandNet {
  const input = tf.input({ shape: [8, 8, 3], name: 'input' });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv1' }).apply(input);
  const r1 = tf.layers.activation({ activation: 'relu', name: 'relu1' }).apply(c1);
  const p1 = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }).apply(r1);
  const c2 = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'valid', name: 'conv2' }).apply(p1);
  const r2 = tf.layers.activation({ activation: 'relu', name: 'relu2' }).apply(c2);
  const model = tf.model({ inputs: input, outputs: r2 as ReturnType<typeof tf.input>, name: 'hand' });
  const W1 = fixedValues(3 * 3 * 3 * 4, 11);
  const b1 = Float32Array.from([0.1, -0.2, 0.05, 0]);
  const W2 = fixedValues(3 * 3 * 4 * 2, 23);
  const b2 = Float32Array.from([0.05, -0.05]);
  model.getLayer('conv1').setWeights([tf.tensor4d(W1, [3, 3, 3, 4]), tf.tensor1d(b1)]);
  model.getLayer('conv2').setWeights([tf.tensor4d(W2, [3, 3, 4, 2]), tf.tensor1d(b2)]);
  const net = createConvNet({
    name: 'hand',
    family: 'custom',
    model,
    inputSize: [8, 8],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'fixed test weights', quantized: false },
    anySize: false,
  });
  return { net, W1, b1, W2, b2 };
}

/**
 * A small VGG-style stack with seeded weights: 2 blocks of conv-relu-conv-relu-maxpool (8, 16 channels),
 * caffe preprocessing, and a 3-class dense head on global average pooling.
 */
export function tinyVgg(size = 32): ConvNet {
  const input = tf.input({ shape: [size, size, 3], name: 'input_1' });
  let x = input as ReturnType<typeof tf.input>;
  let seed = 100;
  const conv = (filters: number, name: string) =>
    tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name, kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) });
  x = conv(8, 'block1_conv1').apply(x) as typeof x;
  x = conv(8, 'block1_conv2').apply(x) as typeof x;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'block1_pool' }).apply(x) as typeof x;
  x = conv(16, 'block2_conv1').apply(x) as typeof x;
  x = conv(16, 'block2_conv2').apply(x) as typeof x;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'block2_pool' }).apply(x) as typeof x;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as typeof x;
  x = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }) }).apply(x) as typeof x;
  const model = tf.model({ inputs: input, outputs: x, name: 'tiny_vgg' });
  return createConvNet({
    name: 'tiny_vgg',
    family: 'vgg',
    model,
    inputSize: [size, size],
    preprocessing: { kind: 'caffe', meanRgb: [123.68, 116.779, 103.939] },
    weights: { source: 'random', description: 'seeded He-normal', quantized: false },
    aliases: { conv1_1: 'block1_conv1', conv1_2: 'block1_conv2', conv2_1: 'block2_conv1', conv2_2: 'block2_conv2' },
    classNames: ['a', 'b', 'c'],
    headLayer: 'logits',
  });
}
