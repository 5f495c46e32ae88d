/**
 * oneDNN-backed kernels for TensorFlow.js's 'cpu' backend. Each one handles float32 NHWC cases and
 * returns null for anything else (other dtypes, NCHW, shapes it cannot map), so the wrapper in
 * install.ts runs the original tfjs kernel instead. Inputs are read in place from the cpu backend's
 * storage and outputs are handed to it without a copy.
 */
import { backend_util, broadcast_util, util } from '@tensorflow/tfjs-core';
import type { DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { ACTIVATION, BINARY, UNARY, allocFloat32 } from './addon.js';
import type { NativeAddon } from './addon.js';
import { COPY_IMPLS } from './copy-kernels.js';
import type { CopyKernelArgs } from './copy-kernels.js';

/** The part of tfjs's MathBackendCPU these kernels use. */
export interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array): TensorInfo;
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: CpuBackendLike;
  attrs?: NamedAttrMap;
}

/** A native implementation: a TensorInfo, or null to use the original kernel. */
export type NativeImpl = (args: KernelArgs, addon: NativeAddon) => TensorInfo | TensorInfo[] | null;

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

function f32(backend: CpuBackendLike, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

/**
 * Like f32, but also takes a float32 tensor whose storage is still the Uint8Array / Int32Array of
 * the bool or int32 tensor it was cast from (tfjs's cpu Cast to float32 shares the data instead of
 * converting it; Relu6's gradient multiplies by such a mask at every layer), converted to a copy.
 */
function f32Converted(backend: CpuBackendLike, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  return v instanceof Uint8Array || v instanceof Int32Array ? Float32Array.from(v) : null;
}

function output(backend: CpuBackendLike, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

/**
 * oneDNN requires out = floor((in + before + after - effectiveKernel) / stride) + 1 exactly.
 * tfjs's padding satisfies it except for some explicit paddings and rounding modes; then a smaller
 * trailing pad that gives the same output size is used (the extra rows never reach an output).
 */
function trailingPad(inSize: number, outSize: number, kernel: number, stride: number, before: number, after: number): number | null {
  const fits = (a: number) => Math.floor((inSize + before + a - kernel) / stride) + 1 === outSize;
  if (fits(after)) return after;
  const a = (outSize - 1) * stride + kernel - inSize - before;
  return a >= 0 && fits(a) ? a : null;
}

/** The 18 conv parameters of csrc/conv.cc, or null when oneDNN cannot express this convolution. */
function convParams(info: backend_util.Conv2DInfo, groups: number): Int32Array | null {
  if (info.dataFormat !== 'channelsLast') return null;
  const effH = (info.filterHeight - 1) * info.dilationHeight + 1;
  const effW = (info.filterWidth - 1) * info.dilationWidth + 1;
  const { top, left, bottom, right } = info.padInfo;
  if (top < 0 || left < 0) return null;
  const pb = trailingPad(info.inHeight, info.outHeight, effH, info.strideHeight, top, bottom);
  const pr = trailingPad(info.inWidth, info.outWidth, effW, info.strideWidth, left, right);
  if (pb === null || pr === null) return null;
  const sizes = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels];
  if (sizes.some((s) => s <= 0)) return null;
  return Int32Array.from([
    ...sizes, info.filterHeight, info.filterWidth, groups, info.strideHeight, info.strideWidth,
    info.dilationHeight, info.dilationWidth, top, left, pb, pr,
  ]);
}

function poolParams(info: backend_util.Conv2DInfo): Int32Array | null {
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const { top, left, bottom, right } = info.padInfo;
  if (top < 0 || left < 0) return null;
  // oneDNN rejects windows that lie entirely in the padding; tfjs's shapes never produce them except
  // with explicit oversized pads, which the fallback handles.
  if (top >= info.filterHeight || left >= info.filterWidth) return null;
  const pb = trailingPad(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, top, bottom);
  const pr = trailingPad(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, left, right);
  if (pb === null || pr === null || pb >= info.filterHeight || pr >= info.filterWidth) return null;
  const sizes = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth];
  if (sizes.some((s) => s <= 0)) return null;
  return Int32Array.from([...sizes, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, top, left, pb, pr]);
}

function dataFormatOf(attrs: NamedAttrMap | undefined): 'channelsLast' | 'channelsFirst' {
  return backend_util.convertConv2DDataFormat(((attrs?.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC'));
}

function convInfoOf(xShape: number[], filterShape: number[], attrs: NamedAttrMap | undefined, depthwise: boolean): backend_util.Conv2DInfo {
  const a = attrs ?? {};
  return backend_util.computeConv2DInfo(
    xShape as Shape4, filterShape as Shape4, a.strides as number | [number, number],
    (a.dilations as number | [number, number] | undefined) ?? 1, a.pad as Pad, a.dimRoundingMode as Rounding,
    depthwise, dataFormatOf(attrs),
  );
}

/** Bias as a per-channel array for the fused kernels: [C] (or any shape of C values ending in C), or a scalar. */
function biasValues(backend: CpuBackendLike, bias: TensorInfo | undefined, channels: number): Float32Array | null | undefined {
  if (!bias) return undefined;
  const v = f32(backend, bias);
  if (!v) return null;
  if (v.length === channels && bias.shape[bias.shape.length - 1] === channels) return v;
  if (v.length === 1) return new Float32Array(channels).fill(v[0]);
  return null;
}

function activationCode(attrs: NamedAttrMap | undefined): { code: number; alpha: number } | null {
  const act = (attrs?.activation as string | undefined) ?? 'linear';
  if (!(act in ACTIVATION)) return null; // prelu: per-channel weights, left to the original kernel
  return { code: ACTIVATION[act as keyof typeof ACTIVATION], alpha: (attrs?.leakyreluAlpha as number | undefined) ?? 0.2 };
}

/**
 * Filter identities for the addon's cache of reordered filters (csrc/conv.cc): a tensor's values never change
 * under its dataId (tfjs writes new data under a new dataId, Variable.assign included), so a filter seen again
 * under the same dataId can reuse the copy oneDNN's layout asked for. A filter gets an id from its second use
 * by the same kind of kernel on: a filter used once (a training step's weights) is not cached.
 * CONVLAB_NATIVE_WEIGHT_CACHE=0 turns it off.
 */
const WEIGHT_CACHE = process.env.CONVLAB_NATIVE_WEIGHT_CACHE !== '0';
const filterUses = new WeakMap<object, { id: number; forward: number; backward: number }>();
let nextFilterId = 1;

/** The id to pass for this filter (0: do not cache), counting this use. */
export function filterId(filter: TensorInfo, kind: 'forward' | 'backward'): number {
  if (!WEIGHT_CACHE) return 0;
  let u = filterUses.get(filter.dataId);
  if (!u) {
    u = { id: nextFilterId++, forward: 0, backward: 0 };
    filterUses.set(filter.dataId, u);
  }
  return ++u[kind] >= 2 ? u.id : 0;
}

function convForward(args: KernelArgs, addon: NativeAddon, depthwise: boolean, fused: boolean): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x), w = f32(backend, inputs.filter);
  if (!x || !w || inputs.x.shape.length !== 4 || inputs.filter.shape.length !== 4) return null;
  const info = convInfoOf(inputs.x.shape, inputs.filter.shape, attrs, depthwise);
  const p = convParams(info, depthwise ? info.inChannels : 1);
  if (!p) return null;
  let bias: Float32Array | null = null;
  let act = { code: 0, alpha: 0 };
  if (fused) {
    const b = biasValues(backend, inputs.bias, info.outChannels);
    if (b === null) return null;
    bias = b ?? null;
    const a = activationCode(attrs);
    if (!a) return null;
    act = a;
  }
  const y = allocFloat32(util.sizeFromShape(info.outShape));
  addon.convForward(p, x, w, bias, y, act.code, act.alpha, filterId(inputs.filter, 'forward'));
  return output(backend, info.outShape, y);
}

function convBackwardData(args: KernelArgs, addon: NativeAddon, depthwise: boolean): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const dy = f32(backend, inputs.dy), w = f32(backend, inputs.filter);
  if (!dy || !w) return null;
  const inputShape = attrs?.inputShape as number[];
  const info = convInfoOf(inputShape, inputs.filter.shape, attrs, depthwise);
  if (!util.arraysEqual(info.outShape, inputs.dy.shape)) return null;
  const p = convParams(info, depthwise ? info.inChannels : 1);
  if (!p) return null;
  const dx = allocFloat32(util.sizeFromShape(inputShape));
  addon.convBackwardData(p, dy, w, dx, filterId(inputs.filter, 'backward'));
  return output(backend, inputShape, dx);
}

function convBackwardFilter(args: KernelArgs, addon: NativeAddon, depthwise: boolean): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x), dy = f32(backend, inputs.dy);
  if (!x || !dy) return null;
  const filterShape = attrs?.filterShape as number[];
  const info = convInfoOf(inputs.x.shape, filterShape, attrs, depthwise);
  if (!util.arraysEqual(info.outShape, inputs.dy.shape)) return null;
  const p = convParams(info, depthwise ? info.inChannels : 1);
  if (!p) return null;
  const dw = allocFloat32(util.sizeFromShape(filterShape));
  addon.convBackwardWeights(p, x, dy, dw);
  return output(backend, filterShape, dw);
}

function poolInfoOf(xShape: number[], attrs: NamedAttrMap | undefined): backend_util.Conv2DInfo {
  const a = attrs ?? {};
  return backend_util.computePool2DInfo(
    xShape as Shape4, a.filterSize as number | [number, number], a.strides as number | [number, number], 1,
    a.pad as Pad, a.dimRoundingMode as Rounding,
  );
}

function poolForward(args: KernelArgs, addon: NativeAddon, kind: 0 | 1): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  if (!x || inputs.x.shape.length !== 4) return null;
  const info = poolInfoOf(inputs.x.shape, attrs);
  const p = poolParams(info);
  if (!p) return null;
  const y = allocFloat32(util.sizeFromShape(info.outShape));
  addon.poolForward(p, kind, x, y);
  return output(backend, info.outShape, y);
}

function poolBackward(args: KernelArgs, addon: NativeAddon, kind: 0 | 1): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const dy = f32(backend, inputs.dy), x = f32(backend, inputs.input);
  if (!dy || !x || inputs.input.shape.length !== 4) return null;
  const info = poolInfoOf(inputs.input.shape, attrs);
  if (!util.arraysEqual(info.outShape, inputs.dy.shape)) return null;
  const p = poolParams(info);
  if (!p) return null;
  const dx = allocFloat32(util.sizeFromShape(inputs.input.shape));
  addon.poolBackward(p, kind, x, dy, dx);
  return output(backend, inputs.input.shape, dx);
}

function matMul(args: KernelArgs, addon: NativeAddon, fused: boolean): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const a = f32(backend, inputs.a), b = f32(backend, inputs.b);
  if (!a || !b) return null;
  const sa = inputs.a.shape, sb = inputs.b.shape;
  if (sa.length < 2 || sb.length < 2) return null;
  const ta = Boolean(attrs?.transposeA), tb = Boolean(attrs?.transposeB);
  const ra = sa.length, rb = sb.length;
  const k = ta ? sa[ra - 2] : sa[ra - 1];
  if (k !== (tb ? sb[rb - 1] : sb[rb - 2])) return null;
  const m = ta ? sa[ra - 1] : sa[ra - 2];
  const n = tb ? sb[rb - 2] : sb[rb - 1];
  const outer = broadcast_util.assertAndGetBroadcastShape(sa.slice(0, -2), sb.slice(0, -2));
  const batchA = util.sizeFromShape(sa.slice(0, -2)), batchB = util.sizeFromShape(sb.slice(0, -2));
  const batch = util.sizeFromShape(outer);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  let bias: Float32Array | null = null;
  let act = { code: 0, alpha: 0 };
  if (fused) {
    const bv = biasValues(backend, inputs.bias, n);
    if (bv === null) return null;
    bias = bv ?? null;
    const ac = activationCode(attrs);
    if (!ac) return null;
    act = ac;
  }
  const shape = [...outer, m, n];
  const c = allocFloat32(batch * m * n);
  if (c.length === 0) return output(backend, shape, c);
  addon.matMul(Int32Array.from([batchA, batchB, m, n, k, ta ? 1 : 0, tb ? 1 : 0]), a, b, c, bias, act.code, act.alpha);
  return output(backend, shape, c);
}

/**
 * For an operand that is constant along the trailing axes of the output (e.g. [64, 1] against
 * [64, 3000]): how many consecutive outputs share each of its values. 0 when it is not of that form.
 */
function rowInner(s: number[], out: number[]): number {
  const padded = [...Array(out.length - s.length).fill(1), ...s];
  let t = padded.length;
  while (t > 0 && padded[t - 1] === 1) t--;
  if (t === padded.length) return 0;
  for (let i = 0; i < t; i++) if (padded[i] !== out[i]) return 0;
  const inner = util.sizeFromShape(out.slice(t));
  return inner > 1 ? inner : 0;
}

function binary(args: KernelArgs, addon: NativeAddon, op: number): TensorInfo | null {
  const { inputs, backend } = args;
  const a = f32Converted(backend, inputs.a), b = f32Converted(backend, inputs.b);
  if (!a || !b) return null;
  const shape = broadcast_util.assertAndGetBroadcastShape(inputs.a.shape, inputs.b.shape);
  const n = util.sizeFromShape(shape);
  if (n > 0 && a.length !== 1 && b.length !== 1) {
    const innerA = a.length === n ? 0 : rowInner(inputs.a.shape, shape);
    const innerB = b.length === n ? 0 : rowInner(inputs.b.shape, shape);
    if ((innerA > 0 && b.length === n) || (innerB > 0 && a.length === n)) {
      const y = allocFloat32(n);
      addon.binary(op, a, b, y, innerA, innerB);
      return output(backend, shape, y);
    }
  }
  // Supported broadcasts: equal shapes, a scalar-sized operand, or one operand whose shape (without
  // leading 1s) is the trailing part of the output shape, so it repeats every `size` elements.
  const repeats = (s: number[]) => {
    const core = s.slice(s.findIndex((d) => d !== 1));
    return util.arraysEqual(core, shape.slice(shape.length - core.length));
  };
  const okA = a.length === n || a.length === 1 || repeats(inputs.a.shape);
  const okB = b.length === n || b.length === 1 || repeats(inputs.b.shape);
  if (n === 0) return null;
  const y = allocFloat32(n);
  if (!okA || !okB || (a.length !== n && b.length !== n && a.length !== 1 && b.length !== 1)) {
    // Any other broadcast, e.g. instance-norm statistics [b, 1, 1, c] against [b, h, w, c] with b > 1, where
    // tfjs's kernel computes coordinates per element (most of a batch-2 fast-style training step went there).
    const l = broadcastLayout(inputs.a.shape, inputs.b.shape, shape);
    addon.binary(op, a, b, y, 0, 0, Int32Array.from(l.shape), Int32Array.from(l.stridesA), Int32Array.from(l.stridesB));
    return output(backend, shape, y);
  }
  addon.binary(op, a, b, y);
  return output(backend, shape, y);
}

/**
 * A broadcast as the output's shape and each operand's strides (0 along an axis it is broadcast on), with
 * size-1 output axes dropped and adjacent axes merged where both operands treat them alike.
 */
export function broadcastLayout(aShape: readonly number[], bShape: readonly number[], out: readonly number[]): { shape: number[]; stridesA: number[]; stridesB: number[] } {
  const r = out.length;
  const pad = (s: readonly number[]) => [...new Array<number>(r - s.length).fill(1), ...s];
  const pa = pad(aShape), pb = pad(bShape);
  const dims: { n: number; a: boolean; b: boolean }[] = [];
  for (let d = 0; d < r; d++) {
    if (out[d] === 1) continue;
    const a = pa[d] === 1, b = pb[d] === 1; // broadcast along d
    const last = dims[dims.length - 1];
    if (last && last.a === a && last.b === b) last.n *= out[d];
    else dims.push({ n: out[d], a, b });
  }
  if (dims.length === 0) dims.push({ n: 1, a: false, b: false });
  const strides = (key: 'a' | 'b') => {
    const st = new Array<number>(dims.length);
    let acc = 1;
    for (let i = dims.length - 1; i >= 0; i--) {
      st[i] = dims[i][key] ? 0 : acc;
      if (!dims[i][key]) acc *= dims[i].n;
    }
    return st;
  };
  return { shape: dims.map((d) => d.n), stridesA: strides('a'), stridesB: strides('b') };
}

function unary(args: KernelArgs, addon: NativeAddon, op: number, alpha = 0): TensorInfo | null {
  const { inputs, backend } = args;
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const y = allocFloat32(x.length);
  if (x.length) addon.unary(op, x, y, alpha);
  return output(backend, inputs.x.shape, y);
}

/**
 * The gradient of tf.gather (embeddings): tfjs's cpu kernel builds a mask per segment and took 22 s
 * per call for a 3000-word vocabulary. A single pass in JavaScript is enough (it is memory-bound).
 */
function unsortedSegmentSum(args: KernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  const ids = inputs.segmentIds ? backend.data.get(inputs.segmentIds.dataId).values : null;
  const numSegments = attrs?.numSegments as number;
  if (!x || !(ids instanceof Int32Array) || !Number.isInteger(numSegments)) return null;
  const idRank = inputs.segmentIds.shape.length;
  if (!util.arraysEqual(inputs.segmentIds.shape, inputs.x.shape.slice(0, idRank))) return null;
  const inner = util.sizeFromShape(inputs.x.shape.slice(idRank));
  const shape = [numSegments, ...inputs.x.shape.slice(idRank)];
  const out = new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // TensorFlow drops out-of-range ids
    const o = s * inner, xi = i * inner;
    for (let j = 0; j < inner; j++) out[o + j] += x[xi + j];
  }
  return output(backend, shape, out);
}

/** Sum over leading axes (per-column totals, e.g. bias gradients) or trailing axes (per-row totals). */
function sum(args: KernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const shape = inputs.x.shape;
  const axes = util.parseAxisParam(attrs?.axis as number | number[], shape).sort((p, q) => p - q);
  if (axes.length === 0) return null;
  if (!axes.every((v, i) => i === 0 || v === axes[i - 1] + 1)) return null;
  const trailing = axes[axes.length - 1] === shape.length - 1;
  const outShape = attrs?.keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  const reduced = util.sizeFromShape(axes.map((i) => shape[i]));
  const kept = x.length / Math.max(reduced, 1);
  const acc = new Float64Array(kept);
  if (trailing) {
    for (let r = 0; r < kept; r++) {
      let s = 0;
      for (let j = r * reduced, e = j + reduced; j < e; j++) s += x[j];
      acc[r] = s;
    }
  } else {
    // Leading or middle axes ([b, h, w, c] over h and w: a broadcast gradient) as [outer, reduced, inner]
    // (outer = 1 for leading axes), summed in the order tfjs's kernel sums them after its transpose
    // (r = 0, 1, ...), in float64 as it does.
    const inner = util.sizeFromShape(shape.slice(axes[axes.length - 1] + 1));
    const outer = kept / inner;
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < reduced; r++) {
        const base = (o * reduced + r) * inner, out = o * inner;
        for (let j = 0; j < inner; j++) acc[out + j] += x[base + j];
      }
    }
  }
  return output(backend, outShape, Float32Array.from(acc));
}

/** Concat along any axis: one block copy per input per outer index. */
function concat(args: KernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const parts = Object.values(inputs);
  if (parts.length === 0) return null;
  const rank = parts[0].shape.length;
  const axis = util.parseAxisParam(attrs?.axis as number, parts[0].shape)[0];
  const values = parts.map((p) => f32(backend, p));
  if (values.some((v) => !v) || parts.some((p) => p.shape.length !== rank)) return null;
  const outShape = [...parts[0].shape];
  outShape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
  const outer = util.sizeFromShape(parts[0].shape.slice(0, axis));
  const out = allocFloat32(util.sizeFromShape(outShape));
  const rowLen = out.length / Math.max(outer, 1);
  let offset = 0;
  parts.forEach((p, k) => {
    const len = util.sizeFromShape(p.shape.slice(axis));
    const v = values[k] as Float32Array;
    for (let o = 0; o < outer; o++) out.set(v.subarray(o * len, (o + 1) * len), o * rowLen + offset);
    offset += len;
  });
  return output(backend, outShape, out);
}

/** SplitV along any axis: block copies. */
function splitV(args: KernelArgs): TensorInfo[] | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const shape = inputs.x.shape;
  const axis = util.parseAxisParam(attrs?.axis as number, shape)[0];
  const spec = attrs?.numOrSizeSplits as number | number[];
  let sizes: number[];
  if (typeof spec === 'number') {
    sizes = Array(spec).fill(shape[axis] / spec);
  } else {
    const known = spec.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
    sizes = spec.map((s) => (s === -1 ? shape[axis] - known : s));
  }
  if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.reduce((a, b) => a + b, 0) !== shape[axis]) return null;
  const outer = util.sizeFromShape(shape.slice(0, axis));
  const inner = util.sizeFromShape(shape.slice(axis + 1));
  const rowLen = shape[axis] * inner;
  let offset = 0;
  return sizes.map((s) => {
    const outShape = [...shape];
    outShape[axis] = s;
    const len = s * inner;
    const out = allocFloat32(outer * len);
    for (let o = 0; o < outer; o++) out.set(x.subarray(o * rowLen + offset, o * rowLen + offset + len), o * len);
    offset += len;
    return output(backend, outShape, out);
  });
}

/**
 * Transpose: identity permutations (tf.gather's gradient asks for two per call) become one copy;
 * swapping the last two axes is a blocked loop. Other permutations use the original kernel.
 */
function transpose(args: KernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  const perm = attrs?.perm as number[] | undefined;
  if (!x || !perm) return null;
  const shape = inputs.x.shape;
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]);
  if (perm.every((p, i) => p === i)) return output(backend, outShape, x.slice());
  if (r < 2 || !perm.every((p, i) => (i < r - 2 ? p === i : p === (i === r - 2 ? r - 1 : r - 2)))) return null;
  const rows = shape[r - 2], cols = shape[r - 1], batch = x.length / Math.max(rows * cols, 1);
  const out = allocFloat32(x.length);
  const B = 32;
  for (let b = 0; b < batch; b++) {
    const base = b * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += B) {
      for (let j0 = 0; j0 < cols; j0 += B) {
        const i1 = Math.min(rows, i0 + B), j1 = Math.min(cols, j0 + B);
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[base + j * rows + i] = x[base + i * cols + j];
      }
    }
  }
  return output(backend, outShape, out);
}

/**
 * Constant padding (Keras' ZeroPadding2D before MobileNetV2's strided convs): tfjs's cpu kernel
 * computes coordinates per element and took more time than all the convolutions together. Here the
 * trailing unpadded axes are copied as one block per input position.
 */
function padV2(args: KernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = f32(backend, inputs.x);
  const paddings = attrs?.paddings as [number, number][] | undefined;
  if (!x || !paddings || paddings.length !== inputs.x.shape.length) return null;
  if (paddings.some(([a, b]) => a < 0 || b < 0)) return null;
  const shape = inputs.x.shape;
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const out = allocFloat32(util.sizeFromShape(outShape));
  out.fill((attrs?.constantValue as number | undefined) ?? 0);
  if (x.length === 0) return output(backend, outShape, out);
  // Axes after the last padded one (k) are unpadded, so a whole line along axis k (shape[k] * inner
  // values) is contiguous in both arrays: one copy per index of the axes before k. (A copy per
  // position along k cost 30 ms for a 3-channel image, mostly in creating 65k subarrays.)
  let k = shape.length - 1;
  while (k >= 0 && paddings[k][0] === 0 && paddings[k][1] === 0) k--;
  if (k < 0) {
    out.set(x);
    return output(backend, outShape, out);
  }
  const outStrides = outShape.map((_, i) => util.sizeFromShape(outShape.slice(i + 1)));
  const line = shape[k] * outStrides[k];
  const idx = new Array<number>(k).fill(0);
  const rows = x.length / line;
  for (let r = 0; r < rows; r++) {
    let o = paddings[k][0] * outStrides[k];
    for (let i = 0; i < k; i++) o += (idx[i] + paddings[i][0]) * outStrides[i];
    out.set(x.subarray(r * line, (r + 1) * line), o);
    for (let i = k - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return output(backend, outShape, out);
}

/** Kernel name -> native implementation. */
export const NATIVE_IMPLS: Record<string, NativeImpl> = {
  Conv2D: (a, n) => convForward(a, n, false, false),
  FusedConv2D: (a, n) => convForward(a, n, false, true),
  DepthwiseConv2dNative: (a, n) => convForward(a, n, true, false),
  FusedDepthwiseConv2D: (a, n) => convForward(a, n, true, true),
  Conv2DBackpropInput: (a, n) => convBackwardData(a, n, false),
  DepthwiseConv2dNativeBackpropInput: (a, n) => convBackwardData(a, n, true),
  Conv2DBackpropFilter: (a, n) => convBackwardFilter(a, n, false),
  DepthwiseConv2dNativeBackpropFilter: (a, n) => convBackwardFilter(a, n, true),
  MaxPool: (a, n) => poolForward(a, n, 0),
  AvgPool: (a, n) => poolForward(a, n, 1),
  MaxPoolGrad: (a, n) => poolBackward(a, n, 0),
  AvgPoolGrad: (a, n) => poolBackward(a, n, 1),
  BatchMatMul: (a, n) => matMul(a, n, false),
  _FusedMatMul: (a, n) => matMul(a, n, true),
  ...Object.fromEntries(Object.entries(BINARY).map(([name, op]) => [name, (a: KernelArgs, n: NativeAddon) => binary(a, n, op)])),
  Relu: (a, n) => unary(a, n, UNARY.Relu),
  Relu6: (a, n) => unary(a, n, UNARY.Relu6),
  Step: (a, n) => unary(a, n, UNARY.Step, (a.attrs?.alpha as number | undefined) ?? 0),
  Sigmoid: (a, n) => unary(a, n, UNARY.Sigmoid),
  Tanh: (a, n) => unary(a, n, UNARY.Tanh),
  Square: (a, n) => unary(a, n, UNARY.Square),
  Neg: (a, n) => unary(a, n, UNARY.Neg),
  LeakyRelu: (a, n) => unary(a, n, UNARY.LeakyRelu, (a.attrs?.alpha as number | undefined) ?? 0.2),
  Elu: (a, n) => unary(a, n, UNARY.Elu),
  Exp: (a, n) => unary(a, n, UNARY.Exp),
  Sqrt: (a, n) => unary(a, n, UNARY.Sqrt),
  UnsortedSegmentSum: (a) => unsortedSegmentSum(a),
  Sum: (a) => sum(a),
  Concat: (a) => concat(a),
  SplitV: (a) => splitV(a),
  Transpose: (a) => transpose(a),
  PadV2: (a) => padV2(a),
  // Slice, comparisons and AddN (copy-kernels.ts): the same backend object, typed for any dtype.
  ...Object.fromEntries(Object.entries(COPY_IMPLS).map(([name, impl]) => [name, (a: KernelArgs, n: NativeAddon) => impl(a as unknown as CopyKernelArgs, n)])),
};
