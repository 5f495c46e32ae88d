/**
 * VGG16 / VGG19 (Simonyan & Zisserman 2014) convolutional trunks, built in code with the layer names of
 * Keras applications (block1_conv1 .. block5_pool, ReLU fused into each conv, 'same' padding, no
 * classifier), so the Keras `*_notop.h5` files load by name. The input is [null, null, 3]: any size
 * >= 32 works.
 */
import { ConvlabError, tf } from '@convlab/core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

export type VggDepth = 16 | 19;

/** Convs per block. */
const BLOCKS: Record<VggDepth, number[]> = { 16: [2, 2, 3, 3, 3], 19: [2, 2, 4, 4, 4] };
const FILTERS = [64, 128, 256, 512, 512];

/** ImageNet mean of the Caffe-trained VGG weights, in RGB order (Keras: [103.939, 116.779, 123.68] in BGR). */
export const VGG_MEAN_RGB: [number, number, number] = [123.68, 116.779, 103.939];

/** Five 2x2 poolings: 32 px is the smallest input that leaves block5_pool at 1x1. */
export const VGG_MIN_INPUT = 32;

/** The classifier of the Keras files with top: flatten, fc1 and fc2 (4096, relu), predictions (softmax). */
export const VGG_HEAD_LAYERS = ['flatten', 'fc1', 'fc2', 'predictions'] as const;

/** Layer names in order, input layer first (as in the Keras notop files; `includeTop` adds the head). */
export function vggLayerNames(depth: VggDepth, includeTop = false): string[] {
  const names = ['input_1'];
  BLOCKS[depth].forEach((convs, b) => {
    for (let i = 1; i <= convs; i++) names.push(`block${b + 1}_conv${i}`);
    names.push(`block${b + 1}_pool`);
  });
  if (includeTop) names.push(...VGG_HEAD_LAYERS);
  return names;
}

/**
 * Caffe/paper names for Keras names: conv4_2 and relu4_2 -> block4_conv2 (the same tensor: ReLU is fused
 * into the conv), pool4 -> block4_pool.
 */
export function vggAliases(depth: VggDepth): Record<string, string> {
  const aliases: Record<string, string> = {};
  BLOCKS[depth].forEach((convs, b) => {
    for (let i = 1; i <= convs; i++) {
      aliases[`conv${b + 1}_${i}`] = `block${b + 1}_conv${i}`;
      aliases[`relu${b + 1}_${i}`] = `block${b + 1}_conv${i}`;
    }
    aliases[`pool${b + 1}`] = `block${b + 1}_pool`;
  });
  return aliases;
}

/** Keras layer name for a Keras name or alias; ConvlabError listing the valid names otherwise. */
export function resolveVggLayer(depth: VggDepth, nameOrAlias: string): string {
  const names = vggLayerNames(depth).slice(1);
  if (names.includes(nameOrAlias)) return nameOrAlias;
  const alias = vggAliases(depth)[nameOrAlias];
  if (alias) return alias;
  throw new ConvlabError(`unknown VGG${depth} layer '${nameOrAlias}'`, {
    hint: `valid: ${names.join(', ')} (or aliases conv1_1, relu1_1, pool1, ...)`,
  });
}

export interface BuildVggOptions {
  /** Last layer to build (Keras name or alias). */
  upTo?: string;
  /** 'glorot' (seeded, like Keras' default init) or 'zeros' (when weights are loaded right after). */
  init?: 'glorot' | 'zeros';
  seed?: number;
  /**
   * Add the ImageNet classifier (flatten, fc1, fc2, predictions). It fixes the input size: 224 x 224
   * for the Keras weights; `topInputSize` builds it for another size (tests use 32 to keep fc1 small).
   */
  includeTop?: boolean;
  topInputSize?: number;
  /** Classes of the head (default 1000). */
  classes?: number;
}

/** The architecture, with fresh weights. */
export function buildVgg(depth: VggDepth, options: BuildVggOptions = {}): LayersModel {
  const last = options.upTo ? resolveVggLayer(depth, options.upTo) : undefined;
  const seed = options.seed ?? 0;
  const top = (options.includeTop ?? false) && last === undefined;
  const size = options.topInputSize ?? 224;
  const input = tf.input({ shape: top ? [size, size, 3] : [null, null, 3], name: 'input_1' });
  let x: SymbolicTensor = input;
  let layerIndex = 0;
  done: for (const [b, convs] of BLOCKS[depth].entries()) {
    for (let i = 1; i <= convs; i++) {
      const name = `block${b + 1}_conv${i}`;
      layerIndex++;
      const kernelInitializer =
        options.init === 'zeros' ? tf.initializers.zeros() : tf.initializers.glorotUniform({ seed: seed * 1000 + layerIndex });
      x = tf.layers
        .conv2d({ filters: FILTERS[b], kernelSize: 3, padding: 'same', activation: 'relu', name, kernelInitializer, biasInitializer: 'zeros' })
        .apply(x) as SymbolicTensor;
      if (name === last) break done;
    }
    const pool = `block${b + 1}_pool`;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: pool }).apply(x) as SymbolicTensor;
    if (pool === last) break;
  }
  if (top) {
    const init = (i: number) => (options.init === 'zeros' ? tf.initializers.zeros() : tf.initializers.glorotUniform({ seed: seed * 1000 + 100 + i }));
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as SymbolicTensor;
    x = tf.layers.dense({ units: 4096, activation: 'relu', name: 'fc1', kernelInitializer: init(1) }).apply(x) as SymbolicTensor;
    x = tf.layers.dense({ units: 4096, activation: 'relu', name: 'fc2', kernelInitializer: init(2) }).apply(x) as SymbolicTensor;
    x = tf.layers.dense({ units: options.classes ?? 1000, activation: 'softmax', name: 'predictions', kernelInitializer: init(3) }).apply(x) as SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: x, name: `vgg${depth}` });
}
