/**
 * Kernels that the gradients of MobileNetV2-style networks run at every layer and that tfjs's cpu
 * backend computes with a coordinate conversion per element: Slice (the gradient of ZeroPadding2D;
 * 1.5 s for one [1,113,113,96] -> [1,112,112,96] slice), comparisons against a scalar (Relu6's
 * gradient mask) and AddN (gradients summed over residual branches). Plain block copies and single
 * loops are enough: these are memory-bound. Anything else returns null so the original kernel runs.
 */
import { slice_util, util } from '@tensorflow/tfjs-core';
import type { BackendValues, DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY, allocFloat32 } from './addon.js';
import type { NativeAddon } from './addon.js';

/** The part of tfjs's MathBackendCPU these kernels use. */
export interface TypedBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: DataType, values?: BackendValues): TensorInfo;
}

export interface CopyKernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: TypedBackendLike;
  attrs?: NamedAttrMap;
}

type Typed = Float32Array | Int32Array | Uint8Array;

function typedValues(backend: TypedBackendLike, t: TensorInfo | undefined): Typed | null {
  if (!t || (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool')) return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array ? v : null;
}

function allocLike(v: Typed, n: number): Typed {
  if (v instanceof Float32Array) return allocFloat32(n);
  return v instanceof Int32Array ? new Int32Array(n) : new Uint8Array(n);
}

/**
 * Copy the box [begin, begin + size) of x (row-major, `shape`) into a new array. The axes after the
 * last one that is cut are contiguous in both arrays, so each copy moves size[k] * inner values.
 */
export function sliceValues(x: Typed, shape: number[], begin: number[], size: number[]): Typed {
  const n = util.sizeFromShape(size);
  const out = allocLike(x, n);
  if (n === 0) return out;
  let k = shape.length - 1;
  while (k >= 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  if (k < 0) {
    out.set(x.subarray(0, n));
    return out;
  }
  const strides = shape.map((_, i) => util.sizeFromShape(shape.slice(i + 1)));
  const block = size[k] * strides[k];
  const idx = new Array<number>(k).fill(0);
  const rows = n / block;
  for (let r = 0; r < rows; r++) {
    let src = begin[k] * strides[k];
    for (let i = 0; i < k; i++) src += (begin[i] + idx[i]) * strides[i];
    out.set(x.subarray(src, src + block), r * block);
    for (let i = k - 1; i >= 0; i--) {
      if (++idx[i] < size[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function slice(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.x);
  const beginAttr = attrs?.begin as number | number[] | undefined;
  const sizeAttr = attrs?.size as number | number[] | undefined;
  if (!x || beginAttr === undefined || sizeAttr === undefined) return null;
  const shape = inputs.x.shape;
  const [begin, size] = slice_util.parseSliceParams(inputs.x, beginAttr, sizeAttr);
  if (begin.length !== shape.length || size.length !== shape.length) return null;
  if (begin.some((b, i) => b < 0 || size[i] < 0 || b + size[i] > shape[i])) return null;
  return backend.makeTensorInfo(size, inputs.x.dtype, sliceValues(x, shape, begin, size));
}

type Compare = (a: number, b: number) => boolean;

/**
 * x OP scalar with one loop per operator (a comparison closure called per element was 3x slower):
 * the Relu6 gradient's lessEqual(x, 6) at every layer.
 */
function compareScalar(op: string, a: Typed, bv: number, out: Uint8Array): boolean {
  const n = out.length;
  switch (op) {
    case 'LessEqual': for (let i = 0; i < n; i++) out[i] = a[i] <= bv ? 1 : 0; return true;
    case 'Less': for (let i = 0; i < n; i++) out[i] = a[i] < bv ? 1 : 0; return true;
    case 'GreaterEqual': for (let i = 0; i < n; i++) out[i] = a[i] >= bv ? 1 : 0; return true;
    case 'Greater': for (let i = 0; i < n; i++) out[i] = a[i] > bv ? 1 : 0; return true;
    default: return false;
  }
}

/** Comparisons with equal shapes or one single-value operand (tf.lessEqual(x, 6)); output bool. */
function compare(args: CopyKernelArgs, op: string, f: Compare): TensorInfo | null {
  const { inputs, backend } = args;
  const a = typedValues(backend, inputs.a), b = typedValues(backend, inputs.b);
  if (!a || !b) return null;
  const sa = inputs.a.shape, sb = inputs.b.shape;
  let shape: number[];
  if (util.arraysEqual(sa, sb)) shape = sa;
  else if (b.length === 1 && sb.length <= sa.length) shape = sa;
  else if (a.length === 1 && sa.length <= sb.length) shape = sb;
  else return null;
  const n = util.sizeFromShape(shape);
  const out = new Uint8Array(n);
  if (a.length === n && b.length === 1 && compareScalar(op, a, b[0], out)) {
    // done
  } else if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]) ? 1 : 0;
  } else if (b.length === 1) {
    const bv = b[0];
    for (let i = 0; i < n; i++) out[i] = f(a[i], bv) ? 1 : 0;
  } else {
    const av = a[0];
    for (let i = 0; i < n; i++) out[i] = f(av, b[i]) ? 1 : 0;
  }
  return backend.makeTensorInfo(shape, 'bool', out);
}

/** AddN of equal-shape float32 tensors: the native Add, accumulating in place. */
function addN(args: CopyKernelArgs, addon: NativeAddon): TensorInfo | null {
  const { inputs, backend } = args;
  const parts = Object.values(inputs);
  if (parts.length === 0) return null;
  const shape = parts[0].shape;
  if (parts.some((p) => p.dtype !== 'float32' || !util.arraysEqual(p.shape, shape))) return null;
  const values = parts.map((p) => typedValues(backend, p));
  if (values.some((v) => !(v instanceof Float32Array))) return null;
  const v = values as Float32Array[];
  const n = util.sizeFromShape(shape);
  const out = allocFloat32(n);
  if (n === 0) return backend.makeTensorInfo(shape, 'float32', out);
  if (v.length === 1) out.set(v[0]);
  else addon.binary(BINARY.Add, v[0], v[1], out);
  for (let i = 2; i < v.length; i++) addon.binary(BINARY.Add, out, v[i], out);
  return backend.makeTensorInfo(shape, 'float32', out);
}

/** x viewed as [outer, reduced, inner] for a contiguous run of axes, or null when the axes have gaps. */
function reductionView(shape: number[], axes: number[]): { outer: number; reduced: number; inner: number } | null {
  const sorted = [...axes].sort((p, q) => p - q);
  if (sorted.length === 0 || sorted.some((v, i) => i > 0 && v !== sorted[i - 1] + 1)) return null;
  const first = sorted[0], last = sorted[sorted.length - 1];
  return {
    outer: util.sizeFromShape(shape.slice(0, first)),
    reduced: util.sizeFromShape(shape.slice(first, last + 1)),
    inner: util.sizeFromShape(shape.slice(last + 1)),
  };
}

/**
 * Max over a contiguous run of axes without the transpose tfjs's cpu kernel makes first (a generic
 * per-element transpose: 60 ms of a 280 ms top-9 scan batch). Same rules: NaN wins, ties keep the first.
 */
function max(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.x);
  if (!x || inputs.x.dtype === 'bool') return null;
  const shape = inputs.x.shape;
  const axes = util.parseAxisParam(attrs?.reductionIndices as number | number[], shape);
  const view = reductionView(shape, axes);
  if (!view || view.reduced === 0) return null;
  const { outer, reduced, inner } = view;
  const out = x instanceof Float32Array ? new Float32Array(outer * inner) : new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    const base = o * reduced * inner, ob = o * inner;
    for (let j = 0; j < inner; j++) out[ob + j] = x[base + j];
    for (let r = 1; r < reduced; r++) {
      const row = base + r * inner;
      for (let j = 0; j < inner; j++) {
        const v = x[row + j];
        if (v !== v || v > out[ob + j]) out[ob + j] = v;
      }
    }
  }
  const keep = Boolean(attrs?.keepDims);
  const outShape = keep ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  return backend.makeTensorInfo(outShape, inputs.x.dtype, out);
}

/** ArgMax along one axis without the transpose (see max): the first index of the largest value. */
function argMax(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.x);
  if (!x || inputs.x.dtype === 'bool') return null;
  const shape = inputs.x.shape;
  const axes = util.parseAxisParam(attrs?.axis as number | number[], shape);
  if (axes.length !== 1) return null;
  const view = reductionView(shape, axes);
  if (!view || view.reduced === 0) return null;
  const { outer, reduced, inner } = view;
  const out = new Int32Array(outer * inner);
  const best = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * reduced * inner, ob = o * inner;
    for (let j = 0; j < inner; j++) best[j] = x[base + j];
    for (let r = 1; r < reduced; r++) {
      const row = base + r * inner;
      for (let j = 0; j < inner; j++) {
        const v = x[row + j];
        if (v > best[j]) {
          best[j] = v;
          out[ob + j] = r;
        }
      }
    }
  }
  return backend.makeTensorInfo(shape.filter((_, i) => i !== axes[0]), 'int32', out);
}

/**
 * MirrorPad ('reflect' or 'symmetric') by block copies. The axes after the last padded one (k) are
 * contiguous, so along axis k the interior is one copy and each reflected position one copy of `inner`
 * values; along an earlier padded axis a reflected slab is a copy of an interior slab of the output
 * already written (contiguous). tfjs's cpu kernel converts coordinates per element (0.1 s for one
 * [1,544,544,16] pad); the result is the same values, so no gradient changes.
 */
export function mirrorPadValues(x: Typed, shape: number[], paddings: [number, number][], mode: 'reflect' | 'symmetric'): Typed {
  const rank = shape.length;
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const out = allocLike(x, util.sizeFromShape(outShape));
  if (out.length === 0) return out;
  const offset = mode === 'reflect' ? 0 : 1;
  const source = (j: number, i: number): number => {
    const n = shape[i];
    const t = j - paddings[i][0];
    if (t < 0) return -t - offset;
    if (t >= n) return 2 * (n - 1) - t + offset;
    return t;
  };
  let k = rank - 1;
  while (k >= 0 && paddings[k][0] === 0 && paddings[k][1] === 0) k--;
  if (k < 0) {
    out.set(x);
    return out;
  }
  const inStrides = shape.map((_, i) => util.sizeFromShape(shape.slice(i + 1)));
  const outStrides = outShape.map((_, i) => util.sizeFromShape(outShape.slice(i + 1)));
  const inner = inStrides[k];
  const fill = (axis: number, o: number, s: number): void => {
    if (axis === k) {
      const [before] = paddings[k];
      const n = shape[k];
      out.set(x.subarray(s, s + n * inner), o + before * inner);
      for (let j = 0; j < outShape[k]; j++) {
        if (j >= before && j < before + n) continue;
        const src = s + source(j, k) * inner;
        if (inner === 1) out[o + j] = x[src];
        else out.set(x.subarray(src, src + inner), o + j * inner);
      }
      return;
    }
    const [before] = paddings[axis];
    for (let t = 0; t < shape[axis]; t++) fill(axis + 1, o + (before + t) * outStrides[axis], s + t * inStrides[axis]);
    if (paddings[axis][0] === 0 && paddings[axis][1] === 0) return;
    const slab = outStrides[axis];
    for (let j = 0; j < outShape[axis]; j++) {
      if (j >= before && j < before + shape[axis]) continue;
      const from = o + (before + source(j, axis)) * slab;
      out.copyWithin(o + j * slab, from, from + slab);
    }
  };
  fill(0, 0, 0);
  return out;
}

function mirrorPad(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.x);
  const paddings = attrs?.paddings as [number, number][] | undefined;
  const mode = attrs?.mode as 'reflect' | 'symmetric' | undefined;
  if (!x || !paddings || (mode !== 'reflect' && mode !== 'symmetric')) return null;
  const shape = inputs.x.shape;
  if (paddings.length !== shape.length) return null;
  const limit = mode === 'reflect' ? 1 : 0; // reflect: pad <= side - 1; symmetric: pad <= side
  if (paddings.some(([a, b], i) => a < 0 || b < 0 || a > shape[i] - limit || b > shape[i] - limit)) return null;
  return backend.makeTensorInfo(
    shape.map((d, i) => d + paddings[i][0] + paddings[i][1]),
    inputs.x.dtype,
    mirrorPadValues(x, shape, paddings, mode),
  );
}

/**
 * ResizeNearestNeighbor (NHWC) with tfjs's index rule (alignCorners, halfPixelCenters), by copies: one copy of
 * `channels` values per output pixel of a row, and an output row equal to the row above (same source row) is
 * one contiguous copy of it.
 */
export function resizeNearestValues(x: Typed, shape: number[], size: [number, number], alignCorners: boolean, halfPixelCenters: boolean): Typed {
  const [batch, oldH, oldW, ch] = shape;
  const [newH, newW] = size;
  const out = allocLike(x, batch * newH * newW * ch);
  const ratio = (oldS: number, newS: number) => ((alignCorners && newS > 1 ? oldS - 1 : oldS) / (alignCorners && newS > 1 ? newS - 1 : newS));
  const rowRatio = ratio(oldH, newH);
  const colRatio = ratio(oldW, newW);
  const nearest = (i: number, r: number, old: number): number => {
    const f = halfPixelCenters ? r * (i + 0.5) : r * i;
    let s = Math.min(old - 1, alignCorners ? Math.round(f) : Math.floor(f));
    if (halfPixelCenters) s = Math.max(0, s);
    return s;
  };
  const cols = Int32Array.from({ length: newW }, (_, c) => nearest(c, colRatio, oldW));
  const outRow = newW * ch;
  for (let b = 0; b < batch; b++) {
    let prevSource = -1;
    for (let r = 0; r < newH; r++) {
      const sr = nearest(r, rowRatio, oldH);
      const o = (b * newH + r) * outRow;
      if (sr === prevSource) {
        out.copyWithin(o, o - outRow, o);
        continue;
      }
      prevSource = sr;
      const rowStart = (b * oldH + sr) * oldW * ch;
      if (x instanceof Float32Array) gatherPixels(out as Float32Array, o, x, rowStart, cols, ch);
      else for (let c = 0; c < newW; c++) out.set(x.subarray(rowStart + cols[c] * ch, rowStart + (cols[c] + 1) * ch), o + c * ch);
    }
  }
  return out;
}

/** out[o + c ch + d] = x[rowStart + cols[c] ch + d]: one monomorphic loop (a copy per pixel through subarrays was 3x slower than tfjs). */
function gatherPixels(out: Float32Array, o: number, x: Float32Array, rowStart: number, cols: Int32Array, ch: number): void {
  for (let c = 0; c < cols.length; c++) {
    const src = rowStart + cols[c] * ch;
    const dst = o + c * ch;
    for (let d = 0; d < ch; d++) out[dst + d] = x[src + d];
  }
}

function resizeNearest(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.images);
  const size = attrs?.size as [number, number] | undefined;
  if (!x || !size || inputs.images.shape.length !== 4) return null;
  const [batch, , , ch] = inputs.images.shape;
  return backend.makeTensorInfo(
    [batch, size[0], size[1], ch],
    inputs.images.dtype,
    resizeNearestValues(x, inputs.images.shape, size, Boolean(attrs?.alignCorners), Boolean(attrs?.halfPixelCenters)),
  );
}

/**
 * Reverse along the axes `dims` by block copies: the axes after the last reversed one (k) are contiguous, so
 * each index of axes 0..k moves one block of `inner` values, read from the mirrored index. tfjs's cpu kernel
 * converts coordinates per element; style transfer's reflection padding reverses activation-sized slices at
 * every step (34% of the kernel time of a VGG19 iteration at 256 px before this kernel).
 */
export function reverseValues(x: Typed, shape: number[], dims: number[]): Typed {
  const out = allocLike(x, x.length);
  if (x.length === 0) return out;
  const reversed = shape.map((_, i) => dims.includes(i) && shape[i] > 1);
  let k = shape.length - 1;
  while (k >= 0 && !reversed[k]) k--;
  if (k < 0) {
    out.set(x);
    return out;
  }
  const strides = shape.map((_, i) => util.sizeFromShape(shape.slice(i + 1)));
  const inner = strides[k];
  const idx = new Array<number>(k + 1).fill(0);
  const blocks = x.length / inner;
  const f32 = x instanceof Float32Array && out instanceof Float32Array;
  for (let b = 0; b < blocks; b++) {
    let src = 0;
    for (let i = 0; i <= k; i++) src += (reversed[i] ? shape[i] - 1 - idx[i] : idx[i]) * strides[i];
    const dst = b * inner;
    if (inner === 1) out[dst] = x[src];
    else if (f32 && inner <= 64) copyBlock(out as Float32Array, dst, x as Float32Array, src, inner);
    else out.set(x.subarray(src, src + inner), dst);
    for (let i = k; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function copyBlock(out: Float32Array, dst: number, x: Float32Array, src: number, n: number): void {
  for (let j = 0; j < n; j++) out[dst + j] = x[src + j];
}

function reverse(args: CopyKernelArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = typedValues(backend, inputs.x);
  const dimsAttr = attrs?.dims as number | number[] | undefined;
  if (!x || dimsAttr === undefined) return null;
  const rank = inputs.x.shape.length;
  const dims = util.parseAxisParam(dimsAttr, inputs.x.shape);
  if (dims.some((d) => d < 0 || d >= rank)) return null;
  return backend.makeTensorInfo(inputs.x.shape, inputs.x.dtype, reverseValues(x, inputs.x.shape, dims));
}

export type CopyImpl = (args: CopyKernelArgs, addon: NativeAddon) => TensorInfo | null;

/** Kernel name -> implementation (installed next to the oneDNN kernels). */
export const COPY_IMPLS: Record<string, CopyImpl> = {
  Slice: (a) => slice(a),
  LessEqual: (a) => compare(a, 'LessEqual', (p, q) => p <= q),
  Less: (a) => compare(a, 'Less', (p, q) => p < q),
  GreaterEqual: (a) => compare(a, 'GreaterEqual', (p, q) => p >= q),
  Greater: (a) => compare(a, 'Greater', (p, q) => p > q),
  Equal: (a) => compare(a, 'Equal', (p, q) => p === q),
  NotEqual: (a) => compare(a, 'NotEqual', (p, q) => p !== q),
  AddN: (a, n) => addN(a, n),
  Max: (a) => max(a),
  ArgMax: (a) => argMax(a),
  MirrorPad: (a) => mirrorPad(a),
  Reverse: (a) => reverse(a),
  ResizeNearestNeighbor: (a) => resizeNearest(a),
};
