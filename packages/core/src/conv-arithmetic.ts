/**
 * Convolution arithmetic: output sizes, TensorFlow/Keras 'same'/'valid' padding, parameter counts,
 * and receptive fields (size, stride, centre offset) of every layer of a layer graph, with the
 * conventions of Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
 * Networks", Distill 2019: input pixel i has its centre at coordinate i (0-based), and a layer's
 * field is described by its size r, its stride (jump) j between neighbouring output positions and
 * the centre `start` of output position 0, so output (y, x) sees the box centred at
 * start + j * (y, x), r pixels wide (possibly reaching into the padding).
 */
import { ConvlabError } from './errors.js';

export type SizeMode = 'exact' | 'floor' | 'ceil';

export interface ConvOutputOptions {
  dilation?: number;
  /**
   * 'exact' (default): the filter must tile the padded input exactly, else a ConvlabError.
   * 'floor': drop the last positions that do not fit (TF/Keras/PyTorch convs and pools).
   * 'ceil': keep a last, partial window (Caffe / PyTorch ceil_mode pools; a window starting in the
   * right padding is dropped as PyTorch does).
   */
  mode?: SizeMode;
}

function checkPositiveInt(value: number, name: string, fn: string, allowZero = false): void {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new ConvlabError(`${fn}: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`);
  }
}

/** Effective filter extent with dilation d: d (f - 1) + 1. */
export function effectiveKernel(f: number, dilation = 1): number {
  return dilation * (f - 1) + 1;
}

/**
 * Output size of a conv or pool along one dimension: (n + 2p - d(f - 1) - 1) / s + 1, the lecture's
 * (n + 2p - f) / s + 1 when d = 1.
 */
export function convOutputSize(n: number, f: number, p: number, s: number, options: ConvOutputOptions = {}): number {
  const d = options.dilation ?? 1;
  const mode = options.mode ?? 'exact';
  for (const [v, name] of [[n, 'input size n'], [f, 'filter size f'], [s, 'stride s'], [d, 'dilation']] as const) {
    checkPositiveInt(v, name, 'convOutputSize');
  }
  checkPositiveInt(p, 'padding p', 'convOutputSize', true);
  const span = n + 2 * p - effectiveKernel(f, d);
  if (span < 0) {
    throw new ConvlabError(
      `convOutputSize: the filter (${effectiveKernel(f, d)} px${d > 1 ? ` with dilation ${d}` : ''}) is larger than the padded input (${n} + 2*${p} = ${n + 2 * p} px)`,
      { hint: 'use a smaller filter, more padding or a larger input' },
    );
  }
  if (mode === 'floor') return Math.floor(span / s) + 1;
  if (mode === 'ceil') {
    let out = Math.ceil(span / s) + 1;
    if ((out - 1) * s >= n + p) out -= 1; // the last window would start inside the right padding
    return out;
  }
  if (span % s !== 0) {
    let fit: number | undefined;
    for (let q = 0; q <= f + s && fit === undefined; q++) if ((n + 2 * q - effectiveKernel(f, d)) % s === 0) fit = q;
    const suggestion = fit !== undefined ? `padding ${fit} fits exactly; ` : '';
    throw new ConvlabError(
      `convOutputSize: (n + 2p - ${d > 1 ? 'd(f-1)-1' : 'f'})/s + 1 = (${n} + 2*${p} - ${effectiveKernel(f, d)})/${s} + 1 = ${span / s + 1} is not an integer (input ${n}, filter ${f}, padding ${p}, stride ${s})`,
      { hint: `${suggestion}or use mode 'floor' (drops the last ${span % s} px) or 'ceil'` },
    );
  }
  return span / s + 1;
}

export interface PaddingSolution {
  /** Output size. */
  output: number;
  padBefore: number;
  padAfter: number;
}

/**
 * TensorFlow's 'SAME' padding along one dimension: output ceil(n / s), total padding
 * max((out - 1) s + d(f - 1) + 1 - n, 0), the smaller half before (top/left) and the extra pixel after.
 * For stride > 1 the split depends on n, e.g. f=3, s=2: n=224 pads (0, 1), n=225 pads (1, 1).
 */
export function samePadding(n: number, f: number, s = 1, dilation = 1): PaddingSolution {
  const output = Math.ceil(n / s);
  const total = Math.max((output - 1) * s + effectiveKernel(f, dilation) - n, 0);
  const padBefore = Math.floor(total / 2);
  return { output, padBefore, padAfter: total - padBefore };
}

/** TensorFlow's 'VALID': no padding, output ceil((n - d(f - 1)) / s) (floor mode of convOutputSize). */
export function validPadding(n: number, f: number, s = 1, dilation = 1): PaddingSolution {
  return { output: convOutputSize(n, f, 0, s, { dilation, mode: 'floor' }), padBefore: 0, padAfter: 0 };
}

/** Output size and padding along one dimension for a Keras padding spec ('same', 'valid' or [before, after]). */
export function paddingFor(n: number, f: number, s: number, padding: 'same' | 'valid' | [number, number], dilation = 1): PaddingSolution {
  if (padding === 'same') return samePadding(n, f, s, dilation);
  if (padding === 'valid') return validPadding(n, f, s, dilation);
  const [padBefore, padAfter] = padding;
  const span = n + padBefore + padAfter - effectiveKernel(f, dilation);
  if (span < 0) throw new ConvlabError(`paddingFor: filter ${effectiveKernel(f, dilation)} px is larger than the padded input ${n + padBefore + padAfter} px`);
  return { output: Math.floor(span / s) + 1, padBefore, padAfter };
}

export interface ConvParamSpec {
  kernel: [number, number];
  inChannels: number;
  /** Filters (ignored for depthwise convs, whose output is inChannels * depthMultiplier). */
  outChannels?: number;
  /** Default true. */
  bias?: boolean;
  depthwise?: boolean;
  depthMultiplier?: number;
}

/** Learnable parameters of a conv layer: kh kw cin cout (+ cout biases); depthwise: kh kw cin m (+ cin m). */
export function convParamCount(spec: ConvParamSpec): number {
  const [kh, kw] = spec.kernel;
  const bias = spec.bias ?? true;
  if (spec.depthwise) {
    const outputs = spec.inChannels * (spec.depthMultiplier ?? 1);
    return kh * kw * outputs + (bias ? outputs : 0);
  }
  if (spec.outChannels === undefined) throw new ConvlabError('convParamCount: outChannels is required for a regular conv');
  return kh * kw * spec.inChannels * spec.outChannels + (bias ? spec.outChannels : 0);
}

/** Learnable parameters of a dense layer: inputs * units (+ units biases). */
export function denseParamCount(inputs: number, units: number, bias = true): number {
  return inputs * units + (bias ? units : 0);
}

/**
 * The part of a layer description receptive-field arithmetic needs. @convlab/models' LayerInfo is
 * structurally one of these, so `receptiveFields(model.layers, [h, w])` works directly.
 */
export interface RfLayer {
  name: string;
  /** 'input', 'conv', 'depthwise_conv', 'maxpool', 'avgpool', 'pad', 'global_pool', 'flatten', 'dense', 'add', 'concat', ... */
  kind: string;
  inbound: string[];
  kernel?: [number, number];
  strides?: [number, number];
  dilation?: [number, number];
  padding?: 'same' | 'valid' | [[number, number], [number, number]];
  /** [batch, h, w, c] for the default input size; used for 'same' padding when no inputSize is given. */
  outputShape?: (number | null)[];
}

export interface ReceptiveField {
  /** Field size in input pixels [h, w] (may extend into the padding). */
  size: [number, number];
  /** Distance in input pixels between neighbouring output positions [h, w]. */
  stride: [number, number];
  /** Centre of output position (0, 0)'s field in input pixel coordinates [y, x] (may be negative or fractional). */
  start: [number, number];
  /** Spatial size of this layer's output [h, w] when the input size is known. */
  outputSize?: [number, number];
}

/** Kinds whose output mixes every spatial position of their input. */
const GLOBAL_KINDS = new Set(['global_pool', 'flatten', 'dense']);

interface Geometry {
  kernel: number;
  stride: number;
  dilation: number;
  padding: 'same' | 'valid' | [number, number];
}

/** Per-dimension composition of a field with one layer (Araujo et al. eqs. for r, j and the centre). */
function composeDim(
  rf: { size: number; stride: number; start: number; n?: number },
  g: Geometry,
): { size: number; stride: number; start: number; n?: number } {
  const k = effectiveKernel(g.kernel, g.dilation);
  let padBefore: number;
  let n: number | undefined;
  if (rf.n !== undefined) {
    const sol = paddingFor(rf.n, g.kernel, g.stride, g.padding, g.dilation);
    padBefore = sol.padBefore;
    n = sol.output;
  } else if (g.padding === 'same') {
    padBefore = Math.floor(Math.max(k - g.stride, 0) / 2); // TF's split when n is a multiple of the stride
  } else {
    padBefore = g.padding === 'valid' ? 0 : g.padding[0];
  }
  return {
    size: rf.size + (k - 1) * rf.stride,
    stride: rf.stride * g.stride,
    start: rf.start + ((k - 1) / 2 - padBefore) * rf.stride,
    n,
  };
}

/**
 * Receptive field of every layer's output in input pixels. Multi-input layers (Add, Concatenate)
 * take the union of their inputs' fields (the largest extent over all paths). 'same' padding is
 * resolved as TensorFlow does, which for stride > 1 depends on the size of the layer's input: give
 * `inputSize` [h, w], else the layers' outputShape is used, else sizes are assumed to be multiples of
 * the strides. Layers that pool globally (global pooling, flatten, dense) need a known size and are
 * left out of the map otherwise, as is everything downstream of them.
 */
export function receptiveFields(layers: RfLayer[], inputSize?: [number, number]): Map<string, ReceptiveField> {
  const byName = new Map(layers.map((l) => [l.name, l]));
  type DimState = { size: number; stride: number; start: number; n?: number };
  const state = new Map<string, [DimState, DimState] | null>();
  const visiting = new Set<string>();

  const shapeOf = (l: RfLayer): [number | undefined, number | undefined] => {
    const s = l.outputShape;
    if (!s || s.length !== 4) return [undefined, undefined];
    return [typeof s[1] === 'number' ? s[1] : undefined, typeof s[2] === 'number' ? s[2] : undefined];
  };

  const visit = (name: string): [DimState, DimState] | null => {
    if (state.has(name)) return state.get(name)!;
    const layer = byName.get(name);
    if (!layer) throw new ConvlabError(`receptiveFields: layer "${name}" is named as an input but is not in the layer list`);
    if (visiting.has(name)) throw new ConvlabError(`receptiveFields: the layer graph has a cycle through "${name}"`);
    visiting.add(name);
    let dims: [DimState, DimState] | null;
    // tfjs lists an InputLayer as its own inbound node: an input is a source whatever it lists.
    const inbound = layer.inbound.filter((n) => n !== layer.name);
    if (layer.kind === 'input' || inbound.length === 0) {
      const known = inputSize ?? shapeOf(layer);
      dims = [0, 1].map((i) => ({ size: 1, stride: 1, start: 0, n: known[i] })) as [DimState, DimState];
    } else {
      const inputs = inbound.map(visit);
      dims = inputs.some((x) => x === null) ? null : mergeInputs(inputs as [DimState, DimState][]);
    }
    if (dims && GLOBAL_KINDS.has(layer.kind)) {
      const d = dims;
      dims = d.some((x) => x.n === undefined)
        ? null
        : (d.map((x) => composeDim(x, { kernel: x.n!, stride: 1, dilation: 1, padding: 'valid' })) as [DimState, DimState]);
    } else if (dims && (layer.kernel || Array.isArray(layer.padding))) {
      const kernel = layer.kernel ?? [1, 1];
      const strides = layer.strides ?? [1, 1];
      const dilation = layer.dilation ?? [1, 1];
      const d = dims;
      dims = [0, 1].map((i) =>
        composeDim(d[i], {
          kernel: kernel[i],
          stride: strides[i],
          dilation: dilation[i],
          padding: Array.isArray(layer.padding) ? layer.padding[i] : (layer.padding ?? 'valid'),
        }),
      ) as [DimState, DimState];
    }
    visiting.delete(name);
    state.set(name, dims);
    return dims;
  };

  const result = new Map<string, ReceptiveField>();
  for (const layer of layers) {
    const dims = visit(layer.name);
    if (!dims) continue;
    const [h, w] = dims;
    const rf: ReceptiveField = { size: [h.size, w.size], stride: [h.stride, w.stride], start: [h.start, w.start] };
    if (h.n !== undefined && w.n !== undefined) rf.outputSize = [h.n, w.n];
    result.set(layer.name, rf);
  }
  return result;
}

/** Union of the fields of a merge layer's inputs, per dimension. */
function mergeInputs<T extends { size: number; stride: number; start: number; n?: number }>(inputs: [T, T][]): [T, T] {
  if (inputs.length === 1) return inputs[0];
  return [0, 1].map((i) => {
    const dims = inputs.map((x) => x[i]);
    const lo = Math.min(...dims.map((d) => d.start - (d.size - 1) / 2));
    const hi = Math.max(...dims.map((d) => d.start + (d.size - 1) / 2));
    return {
      size: hi - lo + 1,
      stride: Math.max(...dims.map((d) => d.stride)),
      start: (lo + hi) / 2,
      n: dims.find((d) => d.n !== undefined)?.n,
    };
  }) as [T, T];
}

export interface PixelBox {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  /** Exclusive. */
  y1: number;
}

/**
 * The input-image box seen by output position (y, x) of a layer, clamped to the image [h, w]:
 * the crop to show next to a deconvnet projection. x1/y1 are exclusive, so width = x1 - x0.
 */
export function receptiveFieldBox(rf: Pick<ReceptiveField, 'size' | 'stride' | 'start'>, y: number, x: number, imageSize: [number, number]): PixelBox {
  const [h, w] = imageSize;
  const edges = (pos: number, i: 0 | 1) => {
    const centre = rf.start[i] + pos * rf.stride[i];
    const half = (rf.size[i] - 1) / 2;
    return [Math.floor(centre - half + 1e-9), Math.ceil(centre + half + 1 - 1e-9)];
  };
  const [y0, y1] = edges(y, 0);
  const [x0, x1] = edges(x, 1);
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return { x0: clamp(x0, w), y0: clamp(y0, h), x1: clamp(x1, w), y1: clamp(y1, h) };
}
