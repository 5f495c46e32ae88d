/** Convolutions: Conv2D and DepthwiseConv2D run here; SeparableConv2D and Conv2DTranspose are only described. */
import { tf } from '@convlab/core';
import type { GraphNode } from '../graph.js';
import { conv2d, depthwiseConv2d } from '../ops.js';
import { applyActivation, isKnownActivation } from './activation.js';
import type { BuildContext, LayerGeometry, LayerHandler, NodeFn, Tensor, Tensor4D } from './registry.js';
import { channelsFirst, optionalPair, pair, paddingOf, weightByName } from './util.js';

function convGeometry({ config }: GraphNode): LayerGeometry {
  return {
    kernel: optionalPair(config.kernelSize),
    strides: optionalPair(config.strides) ?? [1, 1],
    dilation: optionalPair(config.dilationRate) ?? [1, 1],
    padding: config.padding === 'same' ? 'same' : 'valid',
  };
}

function buildConv(node: GraphNode, ctx: BuildContext, depthwise: boolean): NodeFn | undefined {
  const { config } = node;
  if (channelsFirst(config)) return undefined;
  const kernel = ctx.keep(weightByName(node, depthwise ? 'depthwise_kernel' : 'kernel')!.clone()) as Tensor4D;
  const bias = config.useBias ? weightByName(node, 'bias') : undefined;
  const b = bias ? ctx.keep(bias.clone()) : undefined;
  const strides = pair(config.strides, 1);
  const dilation = pair(config.dilationRate, 1);
  const padding = paddingOf(config);
  // Keras refuses strides > 1 with dilation > 1 for Conv2D (DepthwiseConv2D accepts it).
  if (!depthwise && (strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1)) return undefined;
  if (!isKnownActivation(config.activation)) return undefined;
  ctx.fusable({ op: 'conv', depthwise, kernel, bias: b, strides, padding, dilation, activation: String(config.activation ?? 'linear') });
  const op = depthwise ? depthwiseConv2d : conv2d;
  return (xs, run) => {
    let y: Tensor = op(xs[0] as Tensor4D, kernel, strides, padding, dilation, run.convGradient);
    if (b) y = tf.add(y, b);
    return applyActivation(config.activation, y, run);
  };
}

export const conv2dHandler: LayerHandler = {
  classNames: ['Conv2D'],
  kind: 'conv',
  build: (node, ctx) => buildConv(node, ctx, false),
  fusion: 'conv',
  geometry: convGeometry,
};

export const depthwiseConv2dHandler: LayerHandler = {
  classNames: ['DepthwiseConv2D'],
  kind: 'depthwise_conv',
  build: (node, ctx) => buildConv(node, ctx, true),
  fusion: 'conv',
  geometry: convGeometry,
};

/** Described (kind, geometry) but run through tfjs-layers. */
export const otherConvHandler: LayerHandler = {
  classNames: ['SeparableConv2D', 'Conv2DTranspose'],
  kind: 'conv',
  geometry: convGeometry,
};

export const convHandlers: LayerHandler[] = [conv2dHandler, depthwiseConv2dHandler, otherConvHandler];
