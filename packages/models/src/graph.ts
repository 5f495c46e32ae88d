/**
 * A small interpreter for a Keras LayersModel's layer graph that runs each layer with plain,
 * differentiable tf ops on weights it reads once (batch norm folded into a per-channel scale and shift).
 *
 * Why not model.predict / layer.apply: tfjs-layers' Conv2D uses tf.fused.conv2d, whose gradient asks for
 * Conv2DBackpropFilter (missing on wasm), and tfjs's batch-norm gradient crashes when the layer has no
 * scale (InceptionV3). Interpreting the graph also gives taps at any layer, any input size, the
 * deconvnet/guided ReLU backward rules and per-layer overrides, and evaluates only what the requested
 * outputs need.
 *
 * What each Keras class does lives in the layer-handler registry (layers/); which conv chains are fused
 * at inference in fusion.ts. Classes without a handler run through tfjs-layers (fallbackFn).
 */
import { ConvlabError, tf } from '@convlab/core';
import { chainUsable, foldChain, planFusion, runFused, type FusableConv, type FusableScaleShift, type FusionChain, type FusionNode, type FusionPlan, type FusionRole } from './fusion.js';
import { frozenConv2d } from './ops.js';
import { layerHandlerFor, type BuildContext, type LayerHandler, type NodeFn, type RunContext } from './layers/index.js';
import type { ExecutorOptions, ForwardOptions } from './types.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;
type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;
type Layer = LayersModel['layers'][number];
type SymbolicTensor = LayersModel['outputs'][number];
type Shape = (number | null)[];

/** Layer config as Keras/tfjs-layers serializes it (camelCase keys in tfjs-layers' getConfig()). */
type Config = Record<string, unknown>;

export interface GraphNode {
  /** Unique key: the layer name (with ':<node index>' if a shared layer is used more than once). */
  name: string;
  layer: Layer;
  className: string;
  config: Config;
  /** The nodes feeding this one; [] for a source (an input layer). */
  inbound: string[];
  /** True for the graph's sources: its input layers (tfjs lists an InputLayer as its own input; not here). */
  source: boolean;
}

export interface GraphExecutorOptions extends ExecutorOptions {
  /** Handlers consulted before the global registry (for this executor only). */
  layerHandlers?: LayerHandler[];
}

export type RunOptions = Omit<ForwardOptions, 'outputs'>;

const warnedClasses = new Set<string>();

/** Fallback: run the layer itself (not guaranteed differentiable on every backend). */
function fallbackFn(node: GraphNode): NodeFn {
  return (xs) => {
    if (!warnedClasses.has(node.className)) {
      warnedClasses.add(node.className);
      process.stderr.write(
        `convlab: layer class ${node.className} (${node.name}) runs through tfjs-layers' own code; ` +
          `gradients and relu modes may not apply to it\n`,
      );
    }
    const out = node.layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as Tensor | Tensor[];
    return Array.isArray(out) ? out[0] : out;
  };
}

/**
 * Whether a symbolic tensor comes from a graph source. tfjs's InputLayer lists its own output as its
 * node's input (Keras's does too); read literally that is a self-loop. A layer is a source if it is one
 * of the model's input layers, is an InputLayer, or lists nothing but its own outputs as inputs.
 */
function isSource(model: LayersModel, t: SymbolicTensor): boolean {
  const layer = t.sourceLayer;
  if (model.inputLayers.includes(layer) || layer.getClassName() === 'InputLayer') return true;
  const inputs = layer.inboundNodes[t.nodeIndex]?.inputTensors ?? [];
  return inputs.every((i) => i.sourceLayer === layer);
}

/** Collect the model's layer graph (the nodes reachable backwards from its outputs) in topological order. */
function collectNodes(model: LayersModel): GraphNode[] {
  const order: GraphNode[] = [];
  const layerNodeCount = new Map<Layer, Set<number>>();
  const seen = new Set<string>();
  const inputsOf = (t: SymbolicTensor): SymbolicTensor[] =>
    isSource(model, t) ? [] : (t.sourceLayer.inboundNodes[t.nodeIndex]?.inputTensors ?? []);

  // First pass: find which (layer, node index) pairs the model uses, to name shared layers uniquely.
  const stack: SymbolicTensor[] = [...model.outputs];
  const visited = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    const key = `${t.sourceLayer.name}#${t.nodeIndex}`;
    if (visited.has(key)) continue;
    visited.add(key);
    const set = layerNodeCount.get(t.sourceLayer) ?? new Set<number>();
    set.add(t.nodeIndex);
    layerNodeCount.set(t.sourceLayer, set);
    stack.push(...inputsOf(t));
  }
  const keyOf = (layer: Layer, nodeIndex: number): string =>
    (layerNodeCount.get(layer)?.size ?? 1) > 1 ? `${layer.name}:${nodeIndex}` : layer.name;

  const visit = (t: SymbolicTensor): void => {
    const key = keyOf(t.sourceLayer, t.nodeIndex);
    if (seen.has(key)) return;
    seen.add(key);
    const inputs = inputsOf(t);
    // Inputs produced by the same node as other outputs (multi-output layers) are not supported.
    for (const input of inputs) visit(input);
    order.push({
      name: key,
      layer: t.sourceLayer,
      className: t.sourceLayer.getClassName(),
      config: t.sourceLayer.getConfig() as Config,
      inbound: inputs.map((i) => keyOf(i.sourceLayer, i.nodeIndex)),
      source: inputs.length === 0,
    });
  };
  // Iterative deepening would avoid recursion limits; Keras graphs are a few hundred layers deep at most.
  for (const out of model.outputs) visit(out);
  return order;
}

/** Chains the frozen-weight path takes: dense convs, dilation 1, no activation or relu (relu6's gradient at its cap needs the input). */
function frozenUsable(conv: FusableConv, chain: FusionChain): boolean {
  return !conv.depthwise && conv.dilation[0] === 1 && conv.dilation[1] === 1 && (chain.activation === 'linear' || chain.activation === 'relu');
}

/** Whether the engine records gradients right now (inside tf.grad / tf.customGrad). */
function taping(): boolean {
  return tf.engine().isTapeOn();
}

export class GraphExecutor {
  readonly nodes: GraphNode[];
  readonly inputName: string;
  /** Defaults of fusedInference / convGradient for `run` (each call may override them). */
  readonly options: Required<ExecutorOptions>;
  /** Which conv chains are fused at inference (planFusion over the handlers' fusion roles). */
  readonly fusionPlan: FusionPlan;
  private readonly byName = new Map<string, GraphNode>();
  private readonly handlers = new Map<string, LayerHandler | undefined>();
  private readonly fns = new Map<string, NodeFn>();
  private readonly owned: Tensor[] = [];
  private readonly consumers = new Map<string, string[]>();
  private readonly fusable = new Map<string, FusableConv | FusableScaleShift>();
  private readonly fusedWeights = new Map<string, { filter: Tensor4D; bias?: Tensor }>();

  constructor(
    readonly model: LayersModel,
    options: GraphExecutorOptions = {},
  ) {
    if (model.inputs.length !== 1) {
      throw new ConvlabError(`model ${model.name} has ${model.inputs.length} inputs; only single-input models are supported`);
    }
    this.options = { fusedInference: options.fusedInference ?? true, convGradient: options.convGradient ?? 'auto', frozenWeights: options.frozenWeights ?? false };
    this.nodes = collectNodes(model);
    this.inputName = model.inputs[0].sourceLayer.name;
    const local = new Map<string, LayerHandler>();
    for (const h of options.layerHandlers ?? []) for (const c of h.classNames) local.set(c, h);
    const keep = <T extends Tensor>(t: T): T => {
      tf.keep(t);
      this.owned.push(t);
      return t;
    };
    const roles: FusionNode[] = [];
    for (const node of this.nodes) {
      this.byName.set(node.name, node);
      const handler = local.get(node.className) ?? layerHandlerFor(node.className);
      this.handlers.set(node.name, handler);
      const ctx: BuildContext = { keep, fusable: (p) => this.fusable.set(node.name, p) };
      this.fns.set(node.name, (node.source ? undefined : handler?.build?.(node, ctx)) ?? fallbackFn(node));
      for (const src of node.inbound) {
        const list = this.consumers.get(src) ?? [];
        list.push(node.name);
        this.consumers.set(src, list);
      }
      roles.push({ name: node.name, inbound: node.inbound, fusion: this.fusionRole(node, handler) });
    }
    this.fusionPlan = planFusion(roles);
  }

  /** A node's part in fusion: what its handler declares, backed by the weights it offered. */
  private fusionRole(node: GraphNode, handler: LayerHandler | undefined): FusionRole | undefined {
    const offered = this.fusable.get(node.name);
    switch (handler?.fusion) {
      case 'conv':
        return offered?.op === 'conv' ? { op: 'conv', activation: offered.activation, bias: offered.bias !== undefined } : undefined;
      case 'scale-shift':
        return offered?.op === 'scale-shift' ? { op: 'scale-shift' } : undefined;
      case 'relu': {
        const flavour = handler.reluFlavour?.(node);
        return flavour ? { op: 'relu', flavour } : undefined;
      }
      default:
        return undefined;
    }
  }

  /** Conv weights with the chain's batch norm folded in (made on first use, then kept). */
  private fused(chain: FusionChain): { filter: Tensor4D; bias?: Tensor } {
    const head = chain.nodes[0];
    let w = this.fusedWeights.get(head);
    if (w) return w;
    const conv = this.fusable.get(head) as FusableConv;
    const second = chain.nodes.length > 1 ? this.fusable.get(chain.nodes[1]) : undefined;
    const bn = second?.op === 'scale-shift' ? second : undefined;
    w = foldChain(conv, bn);
    if (bn) {
      tf.keep(w.filter);
      tf.keep(w.bias!);
      this.owned.push(w.filter, w.bias!);
    }
    this.fusedWeights.set(head, w);
    return w;
  }

  node(name: string): GraphNode | undefined {
    return this.byName.get(name);
  }

  /** The handler that runs and describes a node (undefined: an unknown class, run by tfjs-layers). */
  handlerOf(name: string): LayerHandler | undefined {
    return this.handlers.get(name);
  }

  /** The nodes `outputs` depend on, in topological order. */
  private subgraph(outputs: string[]): GraphNode[] {
    const needed = new Set<string>();
    const stack = [...outputs];
    while (stack.length) {
      const name = stack.pop()!;
      if (needed.has(name)) continue;
      needed.add(name);
      stack.push(...(this.byName.get(name)?.inbound ?? []));
    }
    return this.nodes.filter((n) => needed.has(n.name));
  }

  /**
   * Evaluate the graph on x for the named nodes (canonical names). Without a gradient tape or an
   * override, and with fusedInference on, conv -> batch norm -> relu chains run as one fused kernel
   * (tfjs's fused ops, whose gradients are unusable on wasm, are only used then), and intermediates no
   * longer needed are disposed at once, so plain inference holds memory near one layer's worth.
   */
  run(x: Tensor4D, outputs: string[], options: RunOptions = {}): Record<string, Tensor> {
    for (const o of outputs) {
      if (!this.byName.has(o)) throw new ConvlabError(`unknown layer "${o}" in model ${this.model.name}`);
    }
    const ctx: RunContext = {
      relu: options.relu ?? 'normal',
      pool: options.pool ?? 'max',
      convGradient: options.convGradient ?? this.options.convGradient,
    };
    const nodes = this.subgraph(outputs);
    const wanted = new Set(outputs);
    const values = new Map<string, Tensor>();
    const remaining = new Map<string, number>();
    const inSub = new Set(nodes.map((n) => n.name));
    for (const n of nodes) remaining.set(n.name, (this.consumers.get(n.name) ?? []).filter((c) => inSub.has(c)).length);
    const freeEarly = !taping();
    const fuse = freeEarly && (options.fusedInference ?? this.options.fusedInference) && !options.override;
    // Under a tape: frozen-weight chains (input gradient only) where the caller asked for them.
    const frozen = !freeEarly && (options.frozenWeights ?? this.options.frozenWeights) && !options.override && ctx.relu === 'normal';
    const skipped = new Set<string>(); // chain members computed as part of a fused chain
    const mine = new Set<Tensor>(); // tensors created here (safe to dispose early)

    for (const node of nodes) {
      if (skipped.has(node.name)) continue;
      let name = node.name;
      let y: Tensor;
      if (node.source) {
        if (node.name !== this.inputName) throw new ConvlabError(`model ${this.model.name}: unexpected extra input ${node.name}`);
        y = x;
      } else {
        const inputs = node.inbound.map((i) => values.get(i)!);
        const chain = fuse || frozen ? this.fusionPlan.get(node.name) : undefined;
        const conv = chain ? (this.fusable.get(chain.nodes[0]) as FusableConv) : undefined;
        if (chain && conv && chainUsable(chain, inSub, wanted) && (fuse || frozenUsable(conv, chain))) {
          name = chain.nodes[chain.nodes.length - 1];
          chain.nodes.slice(1).forEach((n) => skipped.add(n));
          const w = this.fused(chain);
          y = fuse
            ? tf.tidy(() => runFused(conv, w, chain.activation, inputs[0] as Tensor4D))
            : frozenConv2d(inputs[0] as Tensor4D, w.filter, w.bias, conv.strides, conv.padding, chain.activation as 'linear' | 'relu', ctx.convGradient);
        } else {
          const fn = this.fns.get(node.name)!;
          // Without a gradient tape, a layer's temporaries (conv before bias, etc.) can go at once.
          y = freeEarly ? tf.tidy(() => fn(inputs, ctx)) : fn(inputs, ctx);
        }
        if (!inputs.includes(y)) mine.add(y);
        // Release inputs whose last consumer has run.
        for (const i of node.inbound) {
          const left = remaining.get(i)! - 1;
          remaining.set(i, left);
          const t = values.get(i)!;
          if (left === 0 && freeEarly && !wanted.has(i) && mine.has(t) && t !== y) {
            t.dispose();
            mine.delete(t);
            values.delete(i);
          }
        }
      }
      if (options.override) {
        const replaced = options.override(name, y);
        if (replaced && replaced !== y) {
          if (!arraysEqual(replaced.shape, y.shape)) {
            throw new ConvlabError(
              `override for layer ${name} returned shape [${replaced.shape.join(', ')}], expected [${y.shape.join(', ')}]`,
            );
          }
          y = replaced;
        }
      }
      values.set(name, y);
    }
    const result: Record<string, Tensor> = {};
    for (const o of outputs) result[o] = values.get(o)!;
    return result;
  }

  /** Output shape of a node for an input of [h, w] (batch dimension null). */
  outputShape(name: string, inputHW: [number, number]): Shape {
    return this.outputShapes(inputHW, [name]).get(name)!;
  }

  /**
   * Output shapes of the nodes `names` need (default: every node) for an input of [h, w]. A layer the
   * size does not fit throws, or with `skipUnfit` is left out (with everything downstream of it).
   */
  outputShapes(inputHW: [number, number], names?: string[], options: { skipUnfit?: boolean } = {}): Map<string, Shape> {
    const inputShape = this.model.inputs[0].shape;
    const channels = inputShape[inputShape.length - 1];
    const shapes = new Map<string, Shape>();
    for (const node of names ? this.subgraph(names) : this.nodes) {
      if (node.name === this.inputName) {
        shapes.set(node.name, [null, inputHW[0], inputHW[1], channels]);
        continue;
      }
      if (options.skipUnfit && node.inbound.some((i) => !shapes.has(i))) continue;
      try {
        shapes.set(node.name, this.nodeOutputShape(node, node.inbound.map((i) => shapes.get(i)!), inputHW));
      } catch (err) {
        if (!options.skipUnfit) throw err;
      }
    }
    return shapes;
  }

  private nodeOutputShape(node: GraphNode, ins: Shape[], inputHW: [number, number]): Shape {
    let out: Shape | Shape[];
    try {
      out = node.layer.computeOutputShape((ins.length === 1 ? ins[0] : ins) as never) as Shape | Shape[];
    } catch (err) {
      throw new ConvlabError(
        `input size ${inputHW[0]}x${inputHW[1]} does not fit layer ${node.name}: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    const shape = (Array.isArray(out[0]) ? out[0] : out) as Shape;
    if (shape.some((d) => d !== null && (d as number) < 1)) {
      throw new ConvlabError(
        `input size ${inputHW[0]}x${inputHW[1]} is too small: layer ${node.name} would have shape [${shape.join(', ')}]`,
      );
    }
    this.handlers.get(node.name)?.checkInputShapes?.(node, ins, inputHW);
    return shape;
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}

function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
