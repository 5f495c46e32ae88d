/**
 * A small interpreter for a Keras LayersModel's layer graph that runs each layer with plain,
 * differentiable tf ops on weights it reads once (batch norm folded into a per-channel scale and shift).
 *
 * Why not model.predict / layer.apply: tfjs-layers' Conv2D uses tf.fused.conv2d, whose gradient asks for
 * Conv2DBackpropFilter (missing on wasm), and tfjs's batch-norm gradient crashes when the layer has no
 * scale (InceptionV3). Interpreting the graph also gives taps at any layer, any input size, the
 * deconvnet/guided ReLU backward rules and per-layer overrides, and evaluates only what the requested
 * outputs need.
 */
import { ConvlabError, tf } from '@convlab/core';
import type { ForwardOptions, ReluBackward } from './types.js';
import { conv2d, depthwiseConv2d, reluLike, type Padding } from './ops.js';

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
  inbound: string[];
}

interface RunContext {
  relu: ReluBackward;
  pool: 'max' | 'avg';
}

type NodeFn = (inputs: Tensor[], ctx: RunContext) => Tensor;

const warnedClasses = new Set<string>();

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

function paddingOf(config: Config): Padding {
  const p = config.padding;
  if (p === 'same' || p === 'valid') return p;
  if (p === 'causal') throw new ConvlabError(`padding 'causal' is not supported for 2D layers`);
  return 'valid';
}

function weightByName(layer: Layer, suffix: string): Tensor | undefined {
  const i = layer.weights.findIndex((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
  if (i < 0) return undefined;
  return layer.getWeights()[i];
}

/** Keras activation name -> op; relu-like ones take the backward rule. Undefined for unknown names. */
function activationFn(name: string): ((x: Tensor, ctx: RunContext) => Tensor) | undefined {
  switch (name) {
    case 'linear':
    case undefined:
      return undefined;
    case 'relu':
      return (x, ctx) => reluLike(x, false, ctx.relu);
    case 'relu6':
      return (x, ctx) => reluLike(x, true, ctx.relu);
    case 'softmax':
      return (x) => tf.softmax(x, -1);
    case 'sigmoid':
      return (x) => tf.sigmoid(x);
    case 'tanh':
      return (x) => tf.tanh(x);
    case 'elu':
      return (x) => tf.elu(x);
    case 'selu':
      return (x) => tf.selu(x);
    case 'softplus':
      return (x) => tf.softplus(x);
    case 'softsign':
      return (x) => tf.div(x, tf.add(tf.abs(x), 1));
    case 'swish':
    case 'silu':
      return (x) => tf.mul(x, tf.sigmoid(x));
    case 'hard_sigmoid':
    case 'hardSigmoid':
      return (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
    case 'gelu':
      return (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    default:
      return undefined;
  }
}

const KNOWN_ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'softmax', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'silu', 'hard_sigmoid', 'hardSigmoid', 'gelu']);

function applyActivation(name: unknown, x: Tensor, ctx: RunContext): Tensor {
  const fn = activationFn(String(name ?? 'linear'));
  return fn ? fn(x, ctx) : x;
}

/** Activation names accepted by the executor (others fall back to layer.apply). */
export function isKnownActivation(name: unknown): boolean {
  return name === undefined || name === null || KNOWN_ACTIVATIONS.has(String(name));
}

/** Weights and geometry of a conv layer, kept for the fused inference path. */
interface ConvParams {
  depthwise: boolean;
  kernel: Tensor4D;
  bias?: Tensor;
  strides: [number, number];
  padding: Padding;
  dilation: [number, number];
  activation: string;
}

/** What buildNodeFn records for fusing conv -> batch norm -> relu at inference time. */
interface FusionParams {
  conv: Map<string, ConvParams>;
  bn: Map<string, { scale: Tensor; shift: Tensor }>;
}

/** Build the op for one layer, reading (and owning) its weights. `keep` collects owned tensors. */
function buildNodeFn(node: GraphNode, keep: (t: Tensor) => Tensor, params: FusionParams): NodeFn | undefined {
  const { layer, config } = node;
  switch (node.className) {
    case 'InputLayer':
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      return (xs) => xs[0];
    case 'Conv2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const kernel = keep(weightByName(layer, 'kernel')!.clone()) as Tensor4D;
      const bias = config.useBias ? weightByName(layer, 'bias') : undefined;
      const b = bias ? keep(bias.clone()) : undefined;
      const strides = pair(config.strides, 1);
      const dilation = pair(config.dilationRate, 1);
      const padding = paddingOf(config);
      if ((strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1)) return undefined;
      if (!isKnownActivation(config.activation)) return undefined;
      params.conv.set(node.name, { depthwise: false, kernel, bias: b, strides, padding, dilation, activation: String(config.activation ?? 'linear') });
      return (xs, ctx) => {
        let y: Tensor = conv2d(xs[0] as Tensor4D, kernel, strides, padding, dilation);
        if (b) y = tf.add(y, b);
        return applyActivation(config.activation, y, ctx);
      };
    }
    case 'DepthwiseConv2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const kernel = keep(weightByName(layer, 'depthwise_kernel')!.clone()) as Tensor4D;
      const bias = config.useBias ? weightByName(layer, 'bias') : undefined;
      const b = bias ? keep(bias.clone()) : undefined;
      const strides = pair(config.strides, 1);
      const dilation = pair(config.dilationRate, 1);
      const padding = paddingOf(config);
      if (!isKnownActivation(config.activation)) return undefined;
      params.conv.set(node.name, { depthwise: true, kernel, bias: b, strides, padding, dilation, activation: String(config.activation ?? 'linear') });
      return (xs, ctx) => {
        let y: Tensor = depthwiseConv2d(xs[0] as Tensor4D, kernel, strides, padding, dilation);
        if (b) y = tf.add(y, b);
        return applyActivation(config.activation, y, ctx);
      };
    }
    case 'BatchNormalization': {
      const axis = Array.isArray(config.axis) ? config.axis[0] : config.axis;
      const rank = layer.inputSpec?.[0]?.ndim ?? 4;
      if (axis !== -1 && axis !== rank - 1 && axis !== 3) return undefined;
      const eps = Number(config.epsilon ?? 1e-3);
      const mean = weightByName(layer, 'moving_mean')!;
      const variance = weightByName(layer, 'moving_variance')!;
      const gamma = config.scale === false ? undefined : weightByName(layer, 'gamma');
      const beta = config.center === false ? undefined : weightByName(layer, 'beta');
      // Inference-mode batch norm as y = x * scale + shift (a missing gamma is ones, a missing beta zeros).
      const scale = keep(
        tf.tidy(() => {
          const inv = tf.rsqrt(tf.add(variance, eps));
          return gamma ? tf.mul(gamma, inv) : inv;
        }),
      );
      const shift = keep(tf.tidy(() => tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale))));
      params.bn.set(node.name, { scale, shift });
      return (xs) => tf.add(tf.mul(xs[0], scale), shift);
    }
    case 'Activation': {
      if (!isKnownActivation(config.activation)) return undefined;
      return (xs, ctx) => applyActivation(config.activation, xs[0], ctx);
    }
    case 'ReLU': {
      const maxValue = config.maxValue as number | null | undefined;
      const slope = Number(config.negativeSlope ?? 0);
      const threshold = Number(config.threshold ?? 0);
      if (slope === 0 && threshold === 0 && (maxValue == null || maxValue === 6)) {
        return (xs, ctx) => reluLike(xs[0], maxValue === 6, ctx.relu);
      }
      return (xs) => {
        const x = xs[0];
        let y: Tensor = tf.where(tf.greaterEqual(x, threshold), x, tf.mul(tf.sub(x, threshold), slope));
        if (maxValue != null) y = tf.minimum(y, maxValue);
        return y;
      };
    }
    case 'LeakyReLU':
      return (xs) => tf.leakyRelu(xs[0], Number(config.alpha ?? 0.3));
    case 'ELU':
      return Number(config.alpha ?? 1) === 1 ? (xs) => tf.elu(xs[0]) : undefined;
    case 'Softmax': {
      const axis = Number(config.axis ?? -1);
      return (xs) => tf.softmax(xs[0], axis);
    }
    case 'ZeroPadding2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const p = config.padding as number | [number, number] | [[number, number], [number, number]];
      let pads: [[number, number], [number, number]];
      if (typeof p === 'number') pads = [[p, p], [p, p]];
      else if (Array.isArray(p) && typeof p[0] === 'number') pads = [[p[0], p[0]], [p[1] as number, p[1] as number]];
      else pads = p as [[number, number], [number, number]];
      return (xs) => tf.pad(xs[0], [[0, 0], pads[0], pads[1], [0, 0]]);
    }
    case 'Cropping2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const c = config.cropping as [[number, number], [number, number]];
      return (xs) => {
        const [n, h, w, ch] = xs[0].shape;
        return tf.slice(xs[0], [0, c[0][0], c[1][0], 0], [n, h - c[0][0] - c[0][1], w - c[1][0] - c[1][1], ch]);
      };
    }
    case 'UpSampling2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const [sh, sw] = pair(config.size, 2);
      const bilinear = config.interpolation === 'bilinear';
      return (xs) => {
        const x = xs[0] as Tensor4D;
        const size: [number, number] = [x.shape[1] * sh, x.shape[2] * sw];
        return bilinear ? tf.image.resizeBilinear(x, size) : tf.image.resizeNearestNeighbor(x, size);
      };
    }
    case 'Add':
      return (xs) => (xs.length === 1 ? xs[0] : tf.addN(xs));
    case 'Subtract':
      return (xs) => tf.sub(xs[0], xs[1]);
    case 'Multiply':
      return (xs) => xs.slice(1).reduce((a, b) => tf.mul(a, b), xs[0]);
    case 'Average':
      return (xs) => tf.div(tf.addN(xs), xs.length);
    case 'Maximum':
      return (xs) => xs.slice(1).reduce((a, b) => tf.maximum(a, b), xs[0]);
    case 'Minimum':
      return (xs) => xs.slice(1).reduce((a, b) => tf.minimum(a, b), xs[0]);
    case 'Concatenate': {
      const axis = Number(config.axis ?? -1);
      return (xs) => tf.concat(xs, axis);
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const size = pair(config.poolSize, 2);
      const strides = pair(config.strides ?? config.poolSize, size[0]);
      const padding = paddingOf(config);
      const isMax = node.className === 'MaxPooling2D';
      return (xs, ctx) =>
        isMax && ctx.pool === 'max'
          ? tf.maxPool(xs[0] as Tensor4D, size, strides, padding)
          : tf.avgPool(xs[0] as Tensor4D, size, strides, padding);
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      if (config.dataFormat === 'channels_first') return undefined;
      const keepDims = Boolean(config.keepdims ?? config.keepDims ?? false);
      const isMax = node.className === 'GlobalMaxPooling2D';
      return (xs, ctx) => (isMax && ctx.pool === 'max' ? tf.max(xs[0], [1, 2], keepDims) : tf.mean(xs[0], [1, 2], keepDims));
    }
    case 'Flatten':
      return (xs) => tf.reshape(xs[0], [xs[0].shape[0], -1]);
    case 'Reshape': {
      const target = config.targetShape as number[];
      return (xs) => tf.reshape(xs[0], [xs[0].shape[0], ...target]);
    }
    case 'Dense': {
      const kernel = keep(weightByName(layer, 'kernel')!.clone());
      const bias = config.useBias ? weightByName(layer, 'bias') : undefined;
      const b = bias ? keep(bias.clone()) : undefined;
      if (!isKnownActivation(config.activation)) return undefined;
      const [inUnits] = kernel.shape;
      return (xs, ctx) => {
        const x = xs[0];
        if (x.shape[x.rank - 1] !== inUnits) {
          throw new ConvlabError(
            `layer ${node.name} expects ${inUnits} input features but got ${x.shape[x.rank - 1]} (input shape [${x.shape.join(', ')}])`,
            { hint: 'the classifier head only works at the model\'s native input size; ask for a trunk layer for other sizes' },
          );
        }
        const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inUnits]);
        let y: Tensor = tf.matMul(flat as ReturnType<typeof tf.tensor2d>, kernel as ReturnType<typeof tf.tensor2d>);
        if (b) y = tf.add(y, b);
        if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
        return applyActivation(config.activation, y, ctx);
      };
    }
    default:
      return undefined;
  }
}

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

/** Collect the model's layer graph (the nodes reachable backwards from its outputs) in topological order. */
function collectNodes(model: LayersModel): GraphNode[] {
  const order: GraphNode[] = [];
  const byKey = new Map<string, GraphNode>();
  const layerNodeCount = new Map<Layer, Set<number>>();
  const seen = new Set<string>();

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
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    for (const input of node?.inputTensors ?? []) stack.push(input);
  }
  const keyOf = (layer: Layer, nodeIndex: number): string =>
    (layerNodeCount.get(layer)?.size ?? 1) > 1 ? `${layer.name}:${nodeIndex}` : layer.name;

  const visit = (t: SymbolicTensor): void => {
    const key = keyOf(t.sourceLayer, t.nodeIndex);
    if (seen.has(key)) return;
    seen.add(key);
    const kerasNode = t.sourceLayer.inboundNodes[t.nodeIndex];
    // tfjs's InputLayer lists its own output as its node's input; it is a source, not a cycle.
    const inputs = t.sourceLayer.getClassName() === 'InputLayer' ? [] : (kerasNode?.inputTensors ?? []);
    // Inputs produced by the same node as other outputs (multi-output layers) are not supported.
    for (const input of inputs) visit(input);
    const node: GraphNode = {
      name: key,
      layer: t.sourceLayer,
      className: t.sourceLayer.getClassName(),
      config: t.sourceLayer.getConfig() as Config,
      inbound: inputs.map((i) => keyOf(i.sourceLayer, i.nodeIndex)),
    };
    byKey.set(key, node);
    order.push(node);
  };
  // Iterative deepening would avoid recursion limits; Keras graphs are a few hundred layers deep at most.
  for (const out of model.outputs) visit(out);
  return order;
}

/** Whether the engine records gradients right now (inside tf.grad / tf.customGrad). */
function taping(): boolean {
  return tf.engine().isTapeOn();
}

/** conv [-> batch norm] [-> relu/relu6] run as one fused kernel at inference time. */
interface FusionChain {
  nodes: string[]; // conv first, chain end last
  activation: 'linear' | 'relu' | 'relu6';
}

/** The relu flavour of a standalone ReLU-like node, if it is a plain relu or relu6. */
function reluFlavour(node: GraphNode): 'relu' | 'relu6' | undefined {
  const c = node.config;
  if (node.className === 'Activation' && (c.activation === 'relu' || c.activation === 'relu6')) return c.activation;
  if (node.className === 'ReLU' && Number(c.negativeSlope ?? 0) === 0 && Number(c.threshold ?? 0) === 0) {
    if (c.maxValue == null) return 'relu';
    if (c.maxValue === 6) return 'relu6';
  }
  return undefined;
}

let fusedInference = true;
/** Turn the fused conv+BN+ReLU inference path off (to compare against the layer-by-layer path). */
export function setFusedInference(enabled: boolean): void {
  fusedInference = enabled;
}

export class GraphExecutor {
  readonly nodes: GraphNode[];
  readonly inputName: string;
  private readonly byName = new Map<string, GraphNode>();
  private readonly fns = new Map<string, NodeFn>();
  private readonly owned: Tensor[] = [];
  private readonly consumers = new Map<string, string[]>();
  private readonly params: FusionParams = { conv: new Map(), bn: new Map() };
  private readonly chains = new Map<string, FusionChain>();
  private readonly fusedWeights = new Map<string, { filter: Tensor4D; bias?: Tensor }>();

  constructor(readonly model: LayersModel) {
    if (model.inputs.length !== 1) {
      throw new ConvlabError(`model ${model.name} has ${model.inputs.length} inputs; only single-input models are supported`);
    }
    this.nodes = collectNodes(model);
    this.inputName = model.inputs[0].sourceLayer.name;
    const keep = (t: Tensor): Tensor => {
      tf.keep(t);
      this.owned.push(t);
      return t;
    };
    for (const node of this.nodes) {
      this.byName.set(node.name, node);
      this.fns.set(node.name, buildNodeFn(node, keep, this.params) ?? fallbackFn(node));
      for (const src of node.inbound) {
        const list = this.consumers.get(src) ?? [];
        list.push(node.name);
        this.consumers.set(src, list);
      }
    }
    for (const node of this.nodes) this.planChain(node);
  }

  /** Record a fusable conv [-> BN] [-> relu] chain starting at `node`. */
  private planChain(node: GraphNode): void {
    const conv = this.params.conv.get(node.name);
    if (!conv) return;
    const soleConsumer = (name: string): GraphNode | undefined => {
      const list = this.consumers.get(name) ?? [];
      return list.length === 1 ? this.byName.get(list[0]) : undefined;
    };
    if (conv.activation === 'relu' || conv.activation === 'relu6') {
      this.chains.set(node.name, { nodes: [node.name], activation: conv.activation });
      return;
    }
    if (conv.activation !== 'linear') return;
    const chain: string[] = [node.name];
    let activation: FusionChain['activation'] = 'linear';
    let next = soleConsumer(node.name);
    if (next && this.params.bn.has(next.name)) {
      chain.push(next.name);
      next = soleConsumer(next.name);
    }
    const flavour = next ? reluFlavour(next) : undefined;
    if (next && flavour) {
      chain.push(next.name);
      activation = flavour;
    }
    if (chain.length > 1 || conv.bias) this.chains.set(node.name, { nodes: chain, activation });
  }

  /** Conv weights with the chain's batch norm folded in (made on first use, then kept). */
  private fused(chain: FusionChain): { filter: Tensor4D; bias?: Tensor } {
    const head = chain.nodes[0];
    let w = this.fusedWeights.get(head);
    if (w) return w;
    const conv = this.params.conv.get(head)!;
    const bn = chain.nodes.length > 1 ? this.params.bn.get(chain.nodes[1]) : undefined;
    if (!bn) {
      w = { filter: conv.kernel, bias: conv.bias };
    } else {
      const made = tf.tidy(() => {
        const [, , cin, m] = conv.kernel.shape;
        const scale = conv.depthwise ? tf.reshape(bn.scale, [cin, m]) : bn.scale;
        const filter = tf.mul(conv.kernel, scale) as Tensor4D;
        const bias = conv.bias ? tf.add(tf.mul(conv.bias, bn.scale), bn.shift) : tf.clone(bn.shift);
        return { filter, bias };
      });
      tf.keep(made.filter);
      tf.keep(made.bias);
      this.owned.push(made.filter, made.bias);
      w = made;
    }
    this.fusedWeights.set(head, w);
    return w;
  }

  private runChain(chain: FusionChain, x: Tensor4D): Tensor {
    const conv = this.params.conv.get(chain.nodes[0])!;
    const { filter, bias } = this.fused(chain);
    const args = {
      x,
      filter,
      strides: conv.strides,
      pad: conv.padding,
      dataFormat: 'NHWC' as const,
      dilations: conv.dilation,
      bias,
      activation: chain.activation,
    };
    return conv.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  }

  node(name: string): GraphNode | undefined {
    return this.byName.get(name);
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
   * override, conv -> batch norm -> relu chains run as one fused kernel (tfjs's fused ops, whose
   * gradients are unusable on wasm, are only used then), and intermediates no longer needed are
   * disposed at once, so plain inference holds memory near one layer's worth.
   */
  run(x: Tensor4D, outputs: string[], options: Omit<ForwardOptions, 'outputs'> = {}): Record<string, Tensor> {
    for (const o of outputs) {
      if (!this.byName.has(o)) throw new ConvlabError(`unknown layer "${o}" in model ${this.model.name}`);
    }
    const ctx: RunContext = { relu: options.relu ?? 'normal', pool: options.pool ?? 'max' };
    const nodes = this.subgraph(outputs);
    const wanted = new Set(outputs);
    const values = new Map<string, Tensor>();
    const remaining = new Map<string, number>();
    const inSub = new Set(nodes.map((n) => n.name));
    for (const n of nodes) remaining.set(n.name, (this.consumers.get(n.name) ?? []).filter((c) => inSub.has(c)).length);
    const freeEarly = !taping();
    const fuse = freeEarly && fusedInference && !options.override;
    const skipped = new Set<string>(); // chain members computed as part of a fused chain
    const mine = new Set<Tensor>(); // tensors created here (safe to dispose early)

    for (const node of nodes) {
      if (skipped.has(node.name)) continue;
      let name = node.name;
      let y: Tensor;
      if (node.name === this.inputName || node.className === 'InputLayer') {
        if (node.name !== this.inputName) throw new ConvlabError(`model ${this.model.name}: unexpected extra input ${node.name}`);
        y = x;
      } else {
        const inputs = node.inbound.map((i) => values.get(i)!);
        const chain = fuse ? this.chains.get(node.name) : undefined;
        const usable =
          chain && inSub.has(chain.nodes[chain.nodes.length - 1]) && chain.nodes.slice(0, -1).every((n) => !wanted.has(n));
        if (chain && usable) {
          name = chain.nodes[chain.nodes.length - 1];
          chain.nodes.slice(1).forEach((n) => skipped.add(n));
          y = tf.tidy(() => this.runChain(chain, inputs[0] as Tensor4D));
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

  /** Output shapes of the nodes `names` need (default: every node) for an input of [h, w]. */
  outputShapes(inputHW: [number, number], names?: string[]): Map<string, Shape> {
    const inputShape = this.model.inputs[0].shape;
    const channels = inputShape[inputShape.length - 1];
    const shapes = new Map<string, Shape>();
    for (const node of names ? this.subgraph(names) : this.nodes) {
      if (node.name === this.inputName) {
        shapes.set(node.name, [null, inputHW[0], inputHW[1], channels]);
        continue;
      }
      const ins = node.inbound.map((i) => shapes.get(i)!);
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
      if (node.className === 'Flatten' || node.className === 'Dense') {
        // tfjs-layers' Dense does not check its input width; the head needs the model's own size.
        const kernel = node.className === 'Dense' ? node.layer.weights.find((w) => w.originalName.endsWith('/kernel')) : undefined;
        const last = ins[0][ins[0].length - 1];
        if (kernel && last !== kernel.shape[0]) {
          throw new ConvlabError(
            `input size ${inputHW[0]}x${inputHW[1]} does not fit layer ${node.name} (it needs ${kernel.shape[0]} input features, gets ${last})`,
            { hint: 'the classifier head only works at the model\'s native input size' },
          );
        }
      }
      shapes.set(node.name, shape);
    }
    return shapes;
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}

function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
