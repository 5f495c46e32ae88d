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

/** Layer names in order, input layer first (as in the Keras notop files). */
export function vggLayerNames(depth: VggDepth): string[] {
  const names = ['input_1'];
  BLOCKS[depth].forEach((convs, b) => {
    for (let i = 1; i <= convs; i++) names.push(`block${b + 1}_conv${i}`);
    names.push(`block${b + 1}_pool`);
  });
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
}

/** The architecture, with fresh weights. */
export function buildVgg(depth: VggDepth, options: BuildVggOptions = {}): LayersModel {
  const last = options.upTo ? resolveVggLayer(depth, options.upTo) : undefined;
  const seed = options.seed ?? 0;
  const input = tf.input({ shape: [null, null, 3], name: 'input_1' });
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
  return tf.model({ inputs: input, outputs: x, name: `vgg${depth}` });
}
