/**
 * createConvNet: wrap a Keras LayersModel (any source: nsfwjs, VGG from h5, custom folder) into the
 * ConvNet contract of types.ts: preprocessing, layer listing with geometry, name/alias resolution,
 * forward passes through the GraphExecutor, and shape arithmetic for other input sizes.
 */
import { ConvlabError, tf } from '@convlab/core';
import { chooseRoles, describeFeatures, LAYER_ROLES } from './features.js';
import { GraphExecutor, type GraphExecutorOptions, type GraphNode } from './graph.js';
import { activationFor, kindFor } from './layers/index.js';
import type { ConvNet, ForwardOptions, LayerInfo, LayerRole, ModelFamily, WeightsInfo } from './types.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;
type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

export type Preprocessing =
  | { kind: 'caffe'; meanRgb: [number, number, number] } // RGB->BGR, subtract mean (VGG: BGR means 103.939, 116.779, 123.68)
  | { kind: 'tf' } // x / 127.5 - 1 (MobileNet, Inception)
  | { kind: 'torch' } // /255, ImageNet mean/std
  | { kind: 'unit' } // x / 255 (what nsfwjs feeds its models)
  | { kind: 'none' };

export interface ConvNetSpec {
  name: string;
  family: ModelFamily;
  model: LayersModel;
  inputSize: [number, number];
  preprocessing: Preprocessing;
  weights: WeightsInfo;
  aliases?: Record<string, string>; // alias -> layer name
  classNames?: string[];
  headLayer?: string;
  minInputSize?: number;
  /** Whether the trunk accepts sizes other than inputSize (default true). */
  anySize?: boolean;
}

const TORCH_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const TORCH_STD: [number, number, number] = [0.229, 0.224, 0.225];

function to4d(images: Tensor): Tensor4D {
  if (images.rank === 3) return tf.expandDims(images, 0) as Tensor4D;
  if (images.rank === 4) return images as Tensor4D;
  throw new ConvlabError(`expected an image tensor [h, w, 3] or [n, h, w, 3], got shape [${images.shape.join(', ')}]`);
}

export function preprocessWith(p: Preprocessing, images: Tensor): Tensor4D {
  return tf.tidy(() => {
    const x = tf.cast(to4d(images), 'float32') as Tensor4D;
    if (x.shape[3] !== 3) throw new ConvlabError(`expected 3 colour channels, got ${x.shape[3]}`);
    switch (p.kind) {
      case 'caffe': {
        const bgr = tf.reverse(x, -1);
        return tf.sub(bgr, tf.tensor1d([p.meanRgb[2], p.meanRgb[1], p.meanRgb[0]])) as Tensor4D;
      }
      case 'tf':
        return tf.sub(tf.div(x, 127.5), 1) as Tensor4D;
      case 'torch':
        return tf.div(tf.sub(tf.div(x, 255), tf.tensor1d(TORCH_MEAN)), tf.tensor1d(TORCH_STD)) as Tensor4D;
      case 'unit':
        return tf.div(x, 255) as Tensor4D;
      case 'none':
        return x;
    }
  });
}

export function deprocessWith(p: Preprocessing, x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    switch (p.kind) {
      case 'caffe': {
        const bgr = tf.add(x, tf.tensor1d([p.meanRgb[2], p.meanRgb[1], p.meanRgb[0]]));
        return tf.reverse(bgr, -1) as Tensor4D;
      }
      case 'tf':
        return tf.mul(tf.add(x, 1), 127.5) as Tensor4D;
      case 'torch':
        return tf.mul(tf.add(tf.mul(x, tf.tensor1d(TORCH_STD)), tf.tensor1d(TORCH_MEAN)), 255) as Tensor4D;
      case 'unit':
        return tf.mul(x, 255) as Tensor4D;
      case 'none':
        return tf.clone(x);
    }
  });
}

function layerInfo(executor: GraphExecutor, node: GraphNode, aliases: string[], outputShape: (number | null)[]): LayerInfo {
  const handler = executor.handlerOf(node.name);
  const info: LayerInfo = {
    name: node.name,
    aliases,
    className: node.className,
    kind: node.source ? 'input' : kindFor(handler, node),
    outputShape,
    inbound: node.inbound,
  };
  const geometry = handler?.geometry?.(node);
  if (geometry) {
    for (const key of ['kernel', 'strides', 'dilation', 'padding'] as const) {
      if (geometry[key] !== undefined) (info as unknown as Record<string, unknown>)[key] = geometry[key];
    }
  }
  const act = activationFor(handler, node);
  if (act) info.activation = act;
  return info;
}

/** Layers worth showing when a name is unknown: the ones people tap. */
function notableLayers(layers: LayerInfo[]): string[] {
  const picks = layers.filter(
    (l) =>
      l.kind === 'relu' ||
      /^mixed\d+$/.test(l.name) ||
      (l.kind === 'conv' && l.activation !== undefined) ||
      l.kind === 'maxpool' ||
      l.kind === 'global_pool',
  );
  const names = (picks.length ? picks : layers).map((l) => l.name);
  if (names.length <= 40) return names;
  // Too many to read: keep the block outputs (Inception's mixedN) and an even sample of the rest.
  const blocks = new Set(names.filter((n) => /^mixed\d+$/.test(n)));
  const others = names.filter((n) => !blocks.has(n));
  const room = Math.max(40 - blocks.size, 8);
  const step = others.length / room;
  const sample = new Set(Array.from({ length: Math.min(room, others.length) }, (_, i) => others[Math.floor(i * step)]));
  sample.add(others[others.length - 1]);
  return names.filter((n) => blocks.has(n) || sample.has(n));
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

function abbreviate(names: string[], max = 48): string {
  if (names.length <= max) return names.join(', ');
  const head = names.slice(0, max - 8);
  const tail = names.slice(-6);
  return `${head.join(', ')}, ... (${names.length - head.length - tail.length} more), ${tail.join(', ')}`;
}

/** Smallest square input for which every trunk layer up to `last` keeps a spatial size >= 1. */
function findMinInputSize(executor: GraphExecutor, last: string, upper: number): number {
  let lo = 1;
  let hi = upper;
  const fits = (s: number): boolean => {
    try {
      executor.outputShape(last, [s, s]);
      return true;
    } catch {
      return false;
    }
  };
  if (!fits(hi)) return upper;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Wrap a model. `options` sets the executor's defaults (fusedInference, convGradient, extra layer
 * handlers); forward/taps calls may override fusedInference and convGradient per call.
 */
export function createConvNet(spec: ConvNetSpec, options: GraphExecutorOptions = {}): ConvNet {
  const executor = new GraphExecutor(spec.model, options);
  const aliasMap = new Map<string, string>(Object.entries(spec.aliases ?? {}));
  const aliasesOf = new Map<string, string[]>();
  for (const [alias, target] of aliasMap) {
    if (!executor.node(target)) {
      throw new ConvlabError(`model ${spec.name}: alias "${alias}" points to unknown layer "${target}"`);
    }
    aliasesOf.set(target, [...(aliasesOf.get(target) ?? []), alias]);
  }
  let computed: Map<string, (number | null)[]>;
  try {
    computed = executor.outputShapes(spec.inputSize);
  } catch {
    computed = new Map(); // an odd layer: fall back to the shapes tfjs-layers recorded
  }
  const defaultShapes = new Map<string, (number | null)[]>();
  const layers: LayerInfo[] = executor.nodes.map((node) => {
    const shape = computed.get(node.name) ?? [...(node.layer.outputShape as (number | null)[])];
    defaultShapes.set(node.name, shape);
    return layerInfo(executor, node, aliasesOf.get(node.name) ?? [], shape);
  });
  const byName = new Map(layers.map((l) => [l.name, l]));

  // The last layer with a spatial output: the trunk's end, for the minimum input size.
  const spatial = layers.filter((l) => l.outputShape.length === 4);
  const trunkEnd = spatial[spatial.length - 1]?.name ?? layers[layers.length - 1].name;
  const minInputSize = spec.minInputSize ?? findMinInputSize(executor, trunkEnd, Math.max(...spec.inputSize));

  let roles: Record<LayerRole, string> | undefined;
  const layerRoles = (): Record<LayerRole, string> => (roles ??= chooseRoles(layers, spec.inputSize));
  const layerForRole = (role: LayerRole): string => {
    if (!LAYER_ROLES.includes(role)) {
      throw new ConvlabError(`unknown layer role "${String(role)}"`, { hint: `roles: ${LAYER_ROLES.join(', ')}` });
    }
    return layerRoles()[role];
  };

  const resolveLayer = (nameOrAlias: string): string => {
    if (byName.has(nameOrAlias)) return nameOrAlias;
    const target = aliasMap.get(nameOrAlias);
    if (target) return target;
    if (nameOrAlias.startsWith('@')) return layerForRole(nameOrAlias.slice(1) as LayerRole);
    const all = [...byName.keys(), ...aliasMap.keys()];
    const close = all
      .map((n) => ({ n, d: editDistance(nameOrAlias.toLowerCase(), n.toLowerCase()) }))
      .filter(({ d, n }) => d <= Math.max(2, Math.floor(n.length / 4)))
      .sort((a, b) => a.d - b.d)
      .slice(0, 3)
      .map(({ n }) => n);
    const suggestion = close.length ? ` (did you mean ${close.join(', ')}?)` : '';
    const notable = notableLayers(layers);
    const aliasText =
      (aliasMap.size ? `; aliases: ${abbreviate([...aliasMap.keys()], 30)}` : '') + `; roles: ${LAYER_ROLES.map((r) => `@${r}`).join(', ')}`;
    throw new ConvlabError(`unknown layer "${nameOrAlias}" in model ${spec.name}${suggestion}`, {
      hint:
        `valid layers include: ${abbreviate(notable)}${aliasText} ` +
        `(${layers.length} layers in all; list them with convlab-models info ${spec.name})`,
    });
  };

  const forward = (x: Tensor4D, options: ForwardOptions): Record<string, Tensor> => {
    if (x.rank !== 4) throw new ConvlabError(`forward expects a batch [n, h, w, c], got shape [${x.shape.join(', ')}]`);
    const canonical = options.outputs.map(resolveLayer);
    const [, h, w] = x.shape;
    if (Math.min(h, w) < minInputSize) {
      throw new ConvlabError(`input ${h}x${w} is too small for ${spec.name}`, {
        hint: `use images of at least ${minInputSize}x${minInputSize} pixels`,
      });
    }
    const values = executor.run(x, canonical, options);
    const out: Record<string, Tensor> = {};
    options.outputs.forEach((name, i) => (out[name] = values[canonical[i]]));
    return out;
  };

  let disposed = false;
  const net: ConvNet = {
    name: spec.name,
    family: spec.family,
    inputSize: spec.inputSize,
    minInputSize,
    anySize: spec.anySize ?? true,
    weights: spec.weights,
    model: spec.model,
    layers,
    classNames: spec.classNames,
    headLayer: spec.headLayer,
    preprocess: (images) => preprocessWith(spec.preprocessing, images),
    deprocess: (x) => deprocessWith(spec.preprocessing, x),
    resolveLayer,
    layer: (nameOrAlias) => byName.get(resolveLayer(nameOrAlias))!,
    forward,
    taps: (names, options = {}) => {
      names.forEach(resolveLayer); // fail early on unknown names
      return (images) => {
        const x = preprocessWith(spec.preprocessing, images);
        const out = forward(x, { ...options, outputs: names });
        // The preprocessed batch is ours unless a gradient is being recorded or it is itself an output.
        if (!tf.engine().isTapeOn() && !Object.values(out).includes(x)) x.dispose();
        return out;
      };
    },
    outputShapeFor: (nameOrAlias, inputSize) => {
      const name = resolveLayer(nameOrAlias);
      if (inputSize[0] === spec.inputSize[0] && inputSize[1] === spec.inputSize[1]) {
        return defaultShapes.get(name)!.slice(1) as number[];
      }
      return executor.outputShape(name, inputSize).slice(1) as number[];
    },
    featureInfo: (inputSize = spec.inputSize) => {
      const shapes =
        inputSize[0] === spec.inputSize[0] && inputSize[1] === spec.inputSize[1] && computed.size
          ? defaultShapes
          : executor.outputShapes(inputSize, undefined, { skipUnfit: true });
      return describeFeatures(layers, shapes, inputSize, layerRoles());
    },
    layerForRole,
    layerRoles: () => ({ ...layerRoles() }),
    dispose: () => {
      if (disposed) return;
      disposed = true;
      executor.dispose();
      spec.model.dispose();
    },
  };
  return net;
}
