/**
 * What an attribution explains: one unit of a layer (channel, at a feature-map position or summed
 * over the map) or one class of the model's head. Resolving a target checks it against the model
 * (unknown layer and out-of-range units list the valid ones) and fixes the default position: the
 * argmax of the unit's channel on the given image, as Zeiler & Fergus project the strongest activation.
 */
import { ConvlabError, tf, type Scalar, type Tensor, type Tensor4D } from '@convlab/core';
import { imagenetClass, topK, type ConvNet, type ForwardOptions, type TopKEntry } from '@convlab/models';

export interface Target {
  /** Layer name or alias (unit targets; also the Grad-CAM layer default). */
  layer?: string;
  /** Channel index in the layer, or 'strongest': the channel with the largest activation on this image (Z&F Fig. 7). */
  unit?: number | 'strongest';
  /** Feature-map position [y, x]; 'argmax' (default) = strongest position of the channel; 'all' = sum over the map. */
  position?: [number, number] | 'argmax' | 'all';
  /**
   * Class of the model's head (instead of a unit): an index, or a name (--class "bull mastiff"), looked
   * up by resolveClassIndex; checkTargetForModel returns the target with the index.
   */
  classIndex?: number | string;
}

export interface ResolvedTarget {
  kind: 'unit' | 'class';
  /** Canonical layer name (the head layer for class targets). */
  layer: string;
  /** Channel (unit) or class index. */
  index: number;
  /** Position in the feature map for point targets; undefined when summed over the map or a class. */
  position?: [number, number];
  /** Feature map size [h, w] of the layer at this input size. */
  featureSize?: [number, number];
  /** Target value on the unmodified image (for classes: the logit). */
  value: number;
  /** Class targets: softmax probability on the unmodified image. */
  probability?: number;
  /** Human-readable, e.g. 'block_6_expand_relu unit 12 at (5, 9)' or 'class 2 (neutral)'. */
  label: string;
  /** ReLU6 layers: the unit sits at the cap (its pre-activation is >= 6), so its gradient is zero. */
  saturated?: boolean;
  /** ReLU6 layers: the value before the cap at the target (ranks units and positions where the output ties at 6). */
  preActivation?: number;
  /** ReLU6 layers: the layer feeding the ReLU6 (its pre-activation). */
  preActivationLayer?: string;
}

/**
 * The layer whose values rank units and positions of `layer`: the input of a ReLU6 (monotone, same
 * positions; top-9 scans it too), since the capped outputs of strong units tie at 6; else the layer.
 */
export function rankingLayer(model: ConvNet, layer: string): string {
  const info = model.layer(layer);
  return info.kind === 'relu' && info.activation === 'relu6' && info.inbound.length === 1 ? info.inbound[0] : layer;
}

function headOutput(model: ConvNet): string {
  if (!model.headLayer) {
    throw new ConvlabError(`model ${model.name} has no classifier head, so a class cannot be targeted`, {
      hint: 'target a unit instead (--layer NAME --unit N)',
    });
  }
  return model.headLayer;
}

/** Outputs of the model's head (its class count). */
export function headClasses(model: ConvNet): number {
  return model.classNames?.length ?? (model.layer(headOutput(model)).outputShape.at(-1) as number);
}

/** True when the head is a 1000-way ImageNet classifier named by ImageNet's table (not by other class names). */
function namesAreImagenet(model: ConvNet): boolean {
  if (!model.headLayer || headClasses(model) !== 1000) return false;
  return !model.classNames || model.classNames.length === 1000;
}

/** The name of class i of the model's head (ImageNet's first synonym for a 1000-way ImageNet head). */
export function classNameOf(model: ConvNet, index: number): string | undefined {
  return model.classNames?.[index] ?? (namesAreImagenet(model) ? imagenetClass(index).name : undefined);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return d[b.length];
}

/**
 * The class index of `--class NAME|K` for the model's head: an index, or a name looked up in
 * ImageNet's table (synonyms, case-insensitive; imagenetClass) for a 1000-way ImageNet head, else in
 * the model's classNames (case-insensitive, underscores as spaces). An unknown name is one ConvlabError
 * naming --class with the closest names.
 */
export function resolveClassIndex(model: ConvNet, nameOrIndex: string | number): number {
  const raw = typeof nameOrIndex === 'number' ? String(nameOrIndex) : nameOrIndex.trim();
  if (/^\d+$/.test(raw)) {
    const index = Number(raw);
    checkClass(model, index);
    return index;
  }
  headOutput(model);
  if (namesAreImagenet(model)) {
    try {
      return imagenetClass(raw).index;
    } catch (err) {
      if (!(err instanceof ConvlabError)) throw err;
      throw new ConvlabError(`--class "${raw}": ${err.message.replace(/^unknown /, 'not an ')} (${model.name} has a 1000-class ImageNet head)`, { hint: err.hint, cause: err });
    }
  }
  const names = model.classNames;
  if (!names) {
    throw new ConvlabError(`--class "${raw}": ${model.name}'s head has no class names`, { hint: `give a class index 0..${headClasses(model) - 1}` });
  }
  const norm = (s: string) => s.toLowerCase().replace(/[_\s]+/g, ' ').trim();
  const q = norm(raw);
  const hits = names.map((n, i) => [n, i] as const).filter(([n]) => norm(n) === q);
  if (hits.length === 1) return hits[0][1];
  const near = names
    .map((n, i) => ({ n, i, d: norm(n).includes(q) || q.includes(norm(n)) ? 0 : editDistance(norm(n), q) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, 5);
  throw new ConvlabError(`--class "${raw}" is not one of ${model.name}'s ${names.length} classes`, {
    hint: `closest: ${near.map((c) => `${c.i} ${c.n}`).join('; ')}; or give an index 0..${names.length - 1}`,
  });
}

/**
 * The k most probable classes of the model's head on an image (RGB 0..255), with names; undefined when
 * the model has no head or the image is not at the head's native size.
 */
export function predictTopK(model: ConvNet, image: Tensor4D, k = 5): TopKEntry[] | undefined {
  if (!model.headLayer) return undefined;
  const [h, w] = model.inputSize;
  if (image.shape[1] !== h || image.shape[2] !== w) return undefined;
  const probs = tf.tidy(() => tf.softmax(tf.reshape(classLogits(model, model.preprocess(image)), [-1])).dataSync());
  const names = namesAreImagenet(model) ? undefined : model.classNames;
  return topK(probs, Math.min(k, probs.length), names);
}

export function checkClass(model: ConvNet, classIndex: number): void {
  const n = model.classNames?.length ?? (model.layer(headOutput(model)).outputShape.at(-1) as number);
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= n) {
    const names = model.classNames ? `: ${model.classNames.map((c, i) => `${i}=${c}`).join(', ')}` : '';
    throw new ConvlabError(`class ${classIndex} out of range for ${model.name}'s head`, { hint: `use 0..${n - 1}${names}` });
  }
}

/** A classifier head only fits the model's native input size (checked before running it: on wasm a
 * pooling window larger than its input corrupts memory instead of failing). */
export function checkHeadSize(model: ConvNet, height: number, width: number): void {
  const [h, w] = model.inputSize;
  if (height !== h || width !== w) {
    throw new ConvlabError(`class targets need ${model.name}'s native input size ${w}x${h}, got ${width}x${height}`, {
      hint: 'leave out --size for class targets, or target a unit (--layer NAME --unit N) at any size',
    });
  }
}

/** Layers that have a spatial [h, w, c] output: the ones a unit can be picked from. */
export function spatialLayers(model: ConvNet): string[] {
  return model.layers.filter((l) => l.outputShape.length === 4 && l.kind !== 'input').map((l) => l.name);
}

/** Canonical layer name, with a ConvlabError listing valid layers if unknown. */
export function resolveLayerName(model: ConvNet, layer: string): string {
  return model.resolveLayer(layer);
}

export function channelsOf(model: ConvNet, layer: string): number {
  return model.layer(layer).outputShape.at(-1) as number;
}

export function checkUnit(model: ConvNet, layer: string, unit: number): void {
  const c = channelsOf(model, layer);
  if (!Number.isInteger(unit) || unit < 0 || unit >= c) {
    throw new ConvlabError(`unit ${unit} out of range for layer ${layer}`, { hint: `${layer} has ${c} channels: use units 0..${c - 1}` });
  }
}

/**
 * Resolve a target on an image (RGB 0..255, [1, h, w, 3]): validates it, picks the default position,
 * and records the target value.
 */
export function resolveTarget(model: ConvNet, image: Tensor4D, target: Target): ResolvedTarget {
  if (target.classIndex !== undefined) {
    const layer = headOutput(model);
    const classIndex = resolveClassIndex(model, target.classIndex);
    checkHeadSize(model, image.shape[1], image.shape[2]);
    const { logit, probability } = tf.tidy(() => {
      const logits = classLogits(model, model.preprocess(image));
      const row = tf.reshape(logits, [-1]);
      return {
        logit: (row.arraySync() as number[])[classIndex],
        probability: (tf.softmax(row).arraySync() as number[])[classIndex],
      };
    });
    const name = classNameOf(model, classIndex);
    return {
      kind: 'class',
      layer,
      index: classIndex,
      value: logit,
      probability,
      label: `class ${classIndex}${name ? ` (${name})` : ''}`,
    };
  }
  if (target.layer === undefined || target.unit === undefined) {
    throw new ConvlabError('a target needs a layer and a unit, or a class index', {
      hint: `e.g. --layer ${spatialLayers(model).at(-1) ?? 'NAME'} --unit 0, or --class 0`,
    });
  }
  const layer = model.resolveLayer(target.layer);
  const info = model.layer(layer);
  if (info.outputShape.length !== 4 && Array.isArray(target.position)) {
    throw new ConvlabError(`layer ${layer} has no spatial map, so a position cannot be given`, { hint: 'leave out --position' });
  }
  const unit = target.unit === 'strongest' ? strongestChannel(model, image, layer) : target.unit;
  checkUnit(model, layer, unit);
  const rankBy = rankingLayer(model, layer);
  return tf.tidy(() => {
    const outs = model.forward(model.preprocess(image), { outputs: [...new Set([layer, rankBy])] });
    const act = outs[layer];
    if (act.rank !== 4) {
      const value = (tf.reshape(act, [-1]).arraySync() as number[])[unit];
      return { kind: 'unit' as const, layer, index: unit, value, label: `${layer} unit ${unit}` };
    }
    const [, h, w] = act.shape;
    const channel = tf.reshape(tf.slice(act, [0, 0, 0, unit], [1, h, w, 1]), [h * w]);
    const values = channel.dataSync();
    const pre = rankBy === layer ? values : tf.reshape(tf.slice(outs[rankBy], [0, 0, 0, unit], [1, h, w, 1]), [h * w]).dataSync();
    if (target.position === 'all') {
      let sum = 0;
      for (const v of values) sum += v;
      return { kind: 'unit' as const, layer, index: unit, featureSize: [h, w] as [number, number], value: sum, label: `${layer} unit ${unit} (whole map)` };
    }
    let position: [number, number];
    if (Array.isArray(target.position)) {
      const [y, x] = target.position;
      if (!Number.isInteger(y) || !Number.isInteger(x) || y < 0 || y >= h || x < 0 || x >= w) {
        throw new ConvlabError(`position (${y}, ${x}) is outside ${layer}'s ${h}x${w} map`, { hint: `use y in 0..${h - 1}, x in 0..${w - 1}` });
      }
      position = [y, x];
    } else {
      let best = 0;
      for (let i = 1; i < pre.length; i++) if (pre[i] > pre[best]) best = i;
      position = [Math.floor(best / w), best % w];
    }
    const value = values[position[0] * w + position[1]];
    const relu6 = rankBy !== layer ? { preActivation: pre[position[0] * w + position[1]], preActivationLayer: rankBy, saturated: pre[position[0] * w + position[1]] >= 6 } : {};
    return {
      kind: 'unit' as const,
      layer,
      index: unit,
      position,
      featureSize: [h, w] as [number, number],
      value,
      label: `${layer} unit ${unit} at (${position[0]}, ${position[1]})`,
      ...relu6,
    };
  });
}

/**
 * The channel of a layer with the largest activation anywhere on the image. A ReLU6 layer is ranked on
 * its input (rankingLayer): its strong units all read 6, and the first of them by index would win.
 */
export function strongestChannel(model: ConvNet, image: Tensor4D, layer: string): number {
  const rankBy = rankingLayer(model, layer);
  return tf.tidy(() => {
    const act = model.forward(model.preprocess(image), { outputs: [rankBy] })[rankBy];
    const flat = tf.reshape(act, [-1, act.shape[act.rank - 1]]);
    return tf.argMax(tf.max(flat, 0)).dataSync()[0];
  });
}

/**
 * Class scores before the softmax, [n, classes]. Grad-CAM and the gradient methods explain the logit
 * (as the papers do): a saturated softmax probability has almost no gradient. A Dense head with a
 * fused softmax is recomputed from its input with the layer's own kernel and bias.
 */
export function classLogits(model: ConvNet, x: Tensor4D, options: Omit<ForwardOptions, 'outputs'> = {}): Tensor {
  const plan = logitsPlan(model);
  return plan.apply(model.forward(x, { ...options, outputs: [plan.from] })[plan.from]);
}

/** Which layer to run to and how to turn its output into logits (see classLogits). */
export function logitsPlan(model: ConvNet): { from: string; apply: (t: Tensor) => Tensor } {
  const head = model.layer(headOutput(model));
  if (head.activation === 'softmax' && head.kind === 'dense') {
    const [kernel, bias] = model.model.getLayer(head.name).getWeights();
    return {
      from: head.inbound[0],
      apply: (input) => {
        const flat = tf.reshape(input, [input.shape[0], -1]);
        const z = tf.matMul(flat as ReturnType<typeof tf.tensor2d>, kernel as ReturnType<typeof tf.tensor2d>);
        return bias ? tf.add(z, bias) : z;
      },
    };
  }
  if (head.kind === 'activation' && (head.activation === 'softmax' || head.className === 'Softmax')) {
    return { from: head.inbound[0], apply: (t) => t };
  }
  return { from: head.name, apply: (t) => t };
}

/** The tensor a target is read from: the layer's activations, or the class logits. */
export function targetSource(model: ConvNet, x: Tensor4D, target: ResolvedTarget, options: Omit<ForwardOptions, 'outputs'> = {}): Tensor {
  if (target.kind === 'class') return classLogits(model, x, options);
  return model.forward(x, { ...options, outputs: [target.layer] })[target.layer];
}

/** Pick the target from a layer's output (batch summed). */
export function selectTarget(out: Tensor, target: ResolvedTarget): Scalar {
  if (out.rank === 4) {
    const [n, h, w] = out.shape;
    if (target.position) {
      const [y, x] = target.position;
      return tf.sum(tf.slice(out, [0, y, x, target.index], [n, 1, 1, 1]));
    }
    return tf.sum(tf.slice(out, [0, 0, 0, target.index], [n, h, w, 1]));
  }
  const flat = tf.reshape(out, [out.shape[0], -1]);
  return tf.sum(tf.slice(flat, [0, target.index], [flat.shape[0], 1]));
}
