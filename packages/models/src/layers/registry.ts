/**
 * The layer-handler registry: one entry per Keras layer kind, looked up by class name (tfjs's
 * KernelConfig registry, one kernel per file, applied to Keras layers). An entry says how to run the
 * layer with plain differentiable ops, what kind of layer it is for LayerInfo, its conv geometry for
 * receptive-field arithmetic, and how it takes part in conv+BN+ReLU fusion. Classes without an entry
 * run through tfjs-layers' own `layer.apply` (the executor's fallback).
 */
import type { tf } from '@convlab/core';
import type { GraphNode } from '../graph.js';
import type { FusableConv, FusableScaleShift } from '../fusion.js';
import type { ConvGradientMode, LayerKind, ReluBackward } from '../types.js';

export type Tensor = ReturnType<typeof tf.tensor>;
export type Tensor4D = ReturnType<typeof tf.tensor4d>;
export type Shape = (number | null)[];

/** What a layer's op sees at run time (per call of `run`). */
export interface RunContext {
  /** Backward rule of ReLU-like nonlinearities. */
  relu: ReluBackward;
  /** 'avg' replaces max pooling by average pooling of the same geometry. */
  pool: 'max' | 'avg';
  /** How conv input gradients are computed (ops.ts). */
  convGradient: ConvGradientMode;
}

/** A layer's op: its input tensors (in inbound order) -> its output. */
export type NodeFn = (inputs: Tensor[], ctx: RunContext) => Tensor;

/** What `build` gets besides the node. */
export interface BuildContext {
  /** Keep a tensor for the executor's lifetime (it is disposed with the executor); returns it. */
  keep<T extends Tensor>(t: T): T;
  /**
   * Offer the layer's weights to conv+BN+ReLU fusion. Only read for handlers whose `fusion` is 'conv'
   * (pass a FusableConv) or 'scale-shift' (pass a FusableScaleShift); tensors must be kept ones.
   */
  fusable(params: FusableConv | FusableScaleShift): void;
}

/** Conv-like geometry, as LayerInfo and @convlab/core's receptiveFields read it. */
export interface LayerGeometry {
  kernel?: [number, number];
  strides?: [number, number];
  dilation?: [number, number];
  padding?: 'same' | 'valid' | [[number, number], [number, number]];
}

export interface LayerHandler {
  /** Keras class names (getClassName()) this entry handles. */
  classNames: readonly string[];
  /** LayerInfo.kind for these layers (a function where it depends on the config). */
  kind: LayerKind | ((node: GraphNode) => LayerKind);
  /**
   * Read the layer's weights once and return its op, or undefined to run the layer through
   * tfjs-layers instead (an unsupported config, e.g. channels_first).
   */
  build?(node: GraphNode, ctx: BuildContext): NodeFn | undefined;
  /**
   * How the layer takes part in conv -> batch norm -> relu fusion at inference time:
   * 'conv' heads a chain (build calls ctx.fusable with a FusableConv), 'scale-shift' folds into the conv
   * before it (build calls ctx.fusable with a FusableScaleShift), 'relu' ends a chain when
   * `reluFlavour` names a flavour. Absent: never fused.
   */
  fusion?: 'conv' | 'scale-shift' | 'relu';
  /** For ReLU-like layers: 'relu' or 'relu6' if this node is a plain one, else undefined. */
  reluFlavour?(node: GraphNode): 'relu' | 'relu6' | undefined;
  /** Geometry for receptive-field arithmetic (conv, pooling, padding layers). */
  geometry?(node: GraphNode): LayerGeometry | undefined;
  /**
   * LayerInfo.activation. Default: the config's `activation` when it is a string other than 'linear'.
   */
  activation?(node: GraphNode): string | undefined;
  /**
   * Extra checks on the input shapes (batch dimension null) for an input size, beyond tfjs-layers'
   * computeOutputShape; throw a ConvlabError if the layer cannot take them.
   */
  checkInputShapes?(node: GraphNode, inputShapes: Shape[], inputSize: [number, number]): void;
}

const handlers = new Map<string, LayerHandler>();

/**
 * Register a handler for its class names (a later registration of a class name wins). Returns a
 * function that restores what was registered for those names before.
 */
export function registerLayerHandler(handler: LayerHandler): () => void {
  if (!handler.classNames.length) throw new Error('registerLayerHandler: classNames is empty');
  const previous = handler.classNames.map((name) => [name, handlers.get(name)] as const);
  for (const name of handler.classNames) handlers.set(name, handler);
  return () => {
    for (const [name, old] of previous) {
      if (handlers.get(name) !== handler) continue;
      if (old) handlers.set(name, old);
      else handlers.delete(name);
    }
  };
}

/** The handler registered for a Keras class name, if any. */
export function layerHandlerFor(className: string): LayerHandler | undefined {
  return handlers.get(className);
}

/** Every registered class name with its handler, in registration order. */
export function registeredLayerHandlers(): Map<string, LayerHandler> {
  return new Map(handlers);
}

/** The handler's kind for a node. */
export function kindFor(handler: LayerHandler | undefined, node: GraphNode): LayerKind {
  if (!handler) return 'other';
  return typeof handler.kind === 'function' ? handler.kind(node) : handler.kind;
}

/** LayerInfo.activation for a node (the handler's rule, else the config's activation name). */
export function activationFor(handler: LayerHandler | undefined, node: GraphNode): string | undefined {
  if (handler?.activation) return handler.activation(node);
  const a = node.config.activation;
  return typeof a === 'string' && a !== 'linear' ? a : undefined;
}
