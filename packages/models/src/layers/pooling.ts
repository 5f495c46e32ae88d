/** Pooling: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D (ctx.pool 'avg' turns max into average). */
import { tf } from '@convlab/core';
import type { GraphNode } from '../graph.js';
import type { LayerGeometry, LayerHandler, NodeFn, Tensor4D } from './registry.js';
import { channelsFirst, optionalPair, pair, paddingOf } from './util.js';

function poolGeometry({ config }: GraphNode): LayerGeometry {
  return {
    kernel: optionalPair(config.poolSize),
    strides: optionalPair(config.strides ?? config.poolSize),
    dilation: [1, 1],
    padding: config.padding === 'same' ? 'same' : 'valid',
  };
}

function buildPool(node: GraphNode, isMax: boolean): NodeFn | undefined {
  const { config } = node;
  if (channelsFirst(config)) return undefined;
  const size = pair(config.poolSize, 2);
  const strides = pair(config.strides ?? config.poolSize, size[0]);
  const padding = paddingOf(config);
  return (xs, ctx) =>
    isMax && ctx.pool === 'max'
      ? tf.maxPool(xs[0] as Tensor4D, size, strides, padding)
      : tf.avgPool(xs[0] as Tensor4D, size, strides, padding);
}

function buildGlobalPool(node: GraphNode, isMax: boolean): NodeFn | undefined {
  const { config } = node;
  if (channelsFirst(config)) return undefined;
  const keepDims = Boolean(config.keepdims ?? config.keepDims ?? false);
  return (xs, ctx) => (isMax && ctx.pool === 'max' ? tf.max(xs[0], [1, 2], keepDims) : tf.mean(xs[0], [1, 2], keepDims));
}

export const maxPoolHandler: LayerHandler = {
  classNames: ['MaxPooling2D'],
  kind: 'maxpool',
  build: (node) => buildPool(node, true),
  geometry: poolGeometry,
};

export const avgPoolHandler: LayerHandler = {
  classNames: ['AveragePooling2D'],
  kind: 'avgpool',
  build: (node) => buildPool(node, false),
  geometry: poolGeometry,
};

export const globalAvgPoolHandler: LayerHandler = {
  classNames: ['GlobalAveragePooling2D'],
  kind: 'global_pool',
  build: (node) => buildGlobalPool(node, false),
};

export const globalMaxPoolHandler: LayerHandler = {
  classNames: ['GlobalMaxPooling2D'],
  kind: 'global_pool',
  build: (node) => buildGlobalPool(node, true),
};

export const poolingHandlers: LayerHandler[] = [maxPoolHandler, avgPoolHandler, globalAvgPoolHandler, globalMaxPoolHandler];
