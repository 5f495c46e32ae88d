/**
 * Kernels that make tfjs's wasm backend fit for image gradients and training:
 * - Conv2DBackpropInput as one forward conv2d (XNNPACK) of the (zero-upsampled, for strides > 1)
 *   output gradient with the spatially flipped, in/out-swapped filter. wasm's own kernel is a naive
 *   loop that took 80% of a style-transfer iteration; this is about 7x faster overall.
 * - Conv2DBackpropFilter (missing on wasm): im2col in chunks and XNNPACK matrix products. tfjs's
 *   fused conv2d (every tfjs-layers Conv2D) computes it eagerly even for image gradients.
 * - DepthwiseConv2dNativeBackpropInput / Filter (missing on wasm; MobileNetV2 gradients need them).
 * - UnsortedSegmentSum (missing on wasm): the gradient of embedding lookups (tf.gather).
 * - BatchMatMul with a transposed operand: an explicit Transpose, then the fast untransposed product
 *   (wasm's transposed path is about 10x slower; Gram matrices hit it).
 * - MaxPoolGrad and AvgPoolGrad with TensorFlow's semantics (pool-grad-kernels.ts): wasm's own send
 *   the gradient of windows whose maximum is <= 0 to the wrong input, break ties to the last maximum,
 *   and divide by the full window at 'same'-padded borders.
 * - Sum and Mean with a float64 accumulator (reduce-kernels.ts): wasm's float32 running sums lose
 *   small terms of long sums (2e-4 relative error on a Gram matrix's sum of squares).
 * All of them are registered as kernels, so every caller (tf.grad, tfjs-layers) benefits. Installing
 * them also installs the broadcast gradient fixes of grad-fixes.ts.
 */
import { backend_util, getKernel } from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { installGradientFixes } from './grad-fixes.js';
import { addKernel, kernelStats, replaceKernel, restoreKernels } from './install.js';
import { wasmAvgPoolGrad, wasmMaxPoolGrad } from './pool-grad-kernels.js';
import { wasmReduce } from './reduce-kernels.js';

/** The part of tfjs's BackendWasm used here. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

interface Args {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackendLike;
  attrs?: NamedAttrMap;
}

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

export const WASM_KERNELS: readonly string[] = [
  'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter', 'BatchMatMul', 'UnsortedSegmentSum', 'MaxPoolGrad', 'AvgPoolGrad',
  'Sum', 'Mean',
];

function run(name: string, backend: WasmBackendLike, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  return k.kernelFunc({ inputs, backend: backend as never, attrs }) as TensorInfo;
}

function newTensor(backend: WasmBackendLike, shape: number[], fill: (heap: Float32Array) => void): TensorInfo {
  const t = backend.makeOutput(shape, 'float32');
  // Views are taken after the allocation: a heap growth detaches older views.
  fill(backend.typedArrayFromHeap(t));
  return t;
}

function convInfoOf(xShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise: boolean): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4, filterShape as Shape4, attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1, attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding, depthwise,
    backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC'),
  );
}

/** dy with (stride - 1) zeros between rows and columns, so a strided conv's transpose becomes a stride-1 conv. */
function upsampled(backend: WasmBackendLike, dy: TensorInfo, sh: number, sw: number): { t: TensorInfo; owned: boolean } {
  if (sh === 1 && sw === 1) return { t: dy, owned: false };
  const [n, oh, ow, c] = dy.shape;
  const uh = (oh - 1) * sh + 1, uw = (ow - 1) * sw + 1;
  const t = newTensor(backend, [n, uh, uw, c], (u) => {
    u.fill(0);
    const src = backend.typedArrayFromHeap(dy);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const from = ((b * oh + y) * ow + x) * c;
          u.set(src.subarray(from, from + c), ((b * uh + y * sh) * uw + x * sw) * c);
        }
      }
    }
  });
  return { t, owned: true };
}

/**
 * Padding of the stride-1 forward conv that computes the input gradient: before = k - 1 - padBefore,
 * after chosen so the output has the input's size. Null when a side would be negative (explicit
 * paddings larger than the kernel).
 */
function transposedPads(info: backend_util.Conv2DInfo, uh: number, uw: number): [[number, number], [number, number]] | null {
  const { top, left } = info.padInfo;
  const t = info.filterHeight - 1 - top, l = info.filterWidth - 1 - left;
  const b = info.inHeight - uh + top, r = info.inWidth - uw + left;
  return t < 0 || l < 0 || b < 0 || r < 0 ? null : [[t, b], [l, r]];
}

function conv2dBackpropInput(args: Args): TensorInfo | null {
  const { inputs: { dy, filter }, backend, attrs = {} } = args;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const info = convInfoOf(attrs.inputShape as number[], filter.shape, attrs, false);
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const [kh, kw, ci, co] = filter.shape;
  const uh = (info.outHeight - 1) * info.strideHeight + 1, uw = (info.outWidth - 1) * info.strideWidth + 1;
  const pads = transposedPads(info, uh, uw);
  if (!pads) return null;
  // w2[y][x][o][i] = w[kh-1-y][kw-1-x][i][o]
  const flipped = newTensor(backend, [kh, kw, co, ci], (w2) => {
    const w = backend.typedArrayFromHeap(filter);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const src = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co, dst = (y * kw + x) * co * ci;
        for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) w2[dst + o * ci + i] = w[src + i * co + o];
      }
    }
  });
  const up = upsampled(backend, dy, info.strideHeight, info.strideWidth);
  try {
    return run('Conv2D', backend, { x: up.t, filter: flipped }, {
      strides: [1, 1], pad: [[0, 0], pads[0], pads[1], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1],
    });
  } finally {
    backend.disposeData(flipped.dataId);
    if (up.owned) backend.disposeData(up.t.dataId);
  }
}

function depthwiseBackpropInput(args: Args): TensorInfo {
  const { inputs: { dy, filter }, backend, attrs = {} } = args;
  const info = convInfoOf(attrs.inputShape as number[], filter.shape, attrs, true);
  const [kh, kw, c, m] = filter.shape;
  const uh = (info.outHeight - 1) * info.strideHeight + 1, uw = (info.outWidth - 1) * info.strideWidth + 1;
  const pads = transposedPads(info, uh, uw);
  if (dy.dtype !== 'float32' || info.dilationHeight !== 1 || info.dilationWidth !== 1 || !pads) {
    throw new Error('DepthwiseConv2dNativeBackpropInput on wasm supports float32, dilation 1 and paddings up to the kernel size');
  }
  // Each of the c*m output channels convolves back with its own flipped 2-D filter; the m results of
  // an input channel are then summed.
  const flipped = newTensor(backend, [kh, kw, c * m, 1], (w2) => {
    const w = backend.typedArrayFromHeap(filter);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const src = ((kh - 1 - y) * kw + (kw - 1 - x)) * c * m, dst = (y * kw + x) * c * m;
        w2.set(w.subarray(src, src + c * m), dst);
      }
    }
  });
  const up = upsampled(backend, dy, info.strideHeight, info.strideWidth);
  let perChannel: TensorInfo;
  try {
    perChannel = run('DepthwiseConv2dNative', backend, { x: up.t, filter: flipped }, {
      strides: [1, 1], pad: [[0, 0], pads[0], pads[1], [0, 0]], dilations: [1, 1],
    });
  } finally {
    backend.disposeData(flipped.dataId);
    if (up.owned) backend.disposeData(up.t.dataId);
  }
  if (m === 1) return perChannel;
  const outShape = attrs.inputShape as number[];
  const out = newTensor(backend, outShape, (dx) => {
    const src = backend.typedArrayFromHeap(perChannel);
    for (let p = 0, q = 0; p < dx.length; p++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += src[q++];
      dx[p] = s;
    }
  });
  backend.disposeData(perChannel.dataId);
  return out;
}

function depthwiseBackpropFilter(args: Args): TensorInfo {
  const { inputs: { x, dy }, backend, attrs = {} } = args;
  const filterShape = attrs.filterShape as number[];
  const info = convInfoOf(x.shape, filterShape, attrs, true);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('DepthwiseConv2dNativeBackpropFilter on wasm supports float32 only');
  const [kh, kw, c, m] = filterShape;
  const [n, ih, iw] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const cm = c * m;
  const acc = new Float64Array(kh * kw * cm);
  const xv = backend.typedArrayFromHeap(x), g = backend.typedArrayFromHeap(dy);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let fy = 0; fy < kh; fy++) {
        const iy = y * sh + fy * dh - top;
        if (iy < 0 || iy >= ih) continue;
        for (let xo = 0; xo < ow; xo++) {
          const gOff = ((b * oh + y) * ow + xo) * cm;
          for (let fx = 0; fx < kw; fx++) {
            const ix = xo * sw + fx * dw - left;
            if (ix < 0 || ix >= iw) continue;
            const xOff = ((b * ih + iy) * iw + ix) * c, aOff = (fy * kw + fx) * cm;
            if (m === 1) {
              for (let ch = 0; ch < c; ch++) acc[aOff + ch] += xv[xOff + ch] * g[gOff + ch];
            } else {
              for (let ch = 0; ch < c; ch++) {
                const v = xv[xOff + ch];
                for (let j = 0; j < m; j++) acc[aOff + ch * m + j] += v * g[gOff + ch * m + j];
              }
            }
          }
        }
      }
    }
  }
  return newTensor(backend, filterShape, (out) => out.set(acc));
}

/** Rows of the im2col matrix processed per matrix product (bounds the temporary memory to ~16 MB). */
const IM2COL_FLOATS = 1 << 22;

function conv2dBackpropFilter(args: Args): TensorInfo {
  const { inputs: { x, dy }, backend, attrs = {} } = args;
  const filterShape = attrs.filterShape as number[];
  const info = convInfoOf(x.shape, filterShape, attrs, false);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || info.dataFormat !== 'channelsLast') {
    throw new Error('Conv2DBackpropFilter on wasm supports float32 NHWC only');
  }
  const [kh, kw, ci, co] = filterShape;
  const [n, ih, iw] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const k = kh * kw * ci;
  const rows = n * oh * ow;
  const chunk = Math.max(1, Math.min(rows, Math.floor(IM2COL_FLOATS / k)));
  // dW^T [co, k] = sum over row chunks of dy_chunk^T [co, rows] x patches [rows, k].
  const accT = new Float64Array(co * k);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk), len = r1 - r0;
    const patches = newTensor(backend, [len, k], (p) => {
      p.fill(0);
      const xv = backend.typedArrayFromHeap(x);
      for (let r = r0; r < r1; r++) {
        const b = Math.floor(r / (oh * ow)), y = Math.floor(r / ow) % oh, xo = r % ow;
        const rowOff = (r - r0) * k;
        for (let fy = 0; fy < kh; fy++) {
          const iy = y * sh + fy * dh - top;
          if (iy < 0 || iy >= ih) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = xo * sw + fx * dw - left;
            if (ix < 0 || ix >= iw) continue;
            const from = ((b * ih + iy) * iw + ix) * ci;
            p.set(xv.subarray(from, from + ci), rowOff + (fy * kw + fx) * ci);
          }
        }
      }
    });
    const dyChunk = newTensor(backend, [len, co], (d) => d.set(backend.typedArrayFromHeap(dy).subarray(r0 * co, r1 * co)));
    const dyT = run('Transpose', backend, { x: dyChunk }, { perm: [1, 0] });
    backend.disposeData(dyChunk.dataId);
    const prod = run('BatchMatMul', backend, { a: dyT, b: patches }, { transposeA: false, transposeB: false });
    backend.disposeData(dyT.dataId);
    backend.disposeData(patches.dataId);
    const pv = backend.typedArrayFromHeap(prod);
    for (let i = 0; i < accT.length; i++) accT[i] += pv[i];
    backend.disposeData(prod.dataId);
  }
  return newTensor(backend, filterShape, (out) => {
    for (let o = 0; o < co; o++) for (let j = 0; j < k; j++) out[j * co + o] = accT[o * k + j];
  });
}

/** UnsortedSegmentSum (missing on wasm): the gradient of tf.gather, i.e. of every embedding lookup. */
function unsortedSegmentSum(args: Args): TensorInfo {
  const { inputs: { x, segmentIds }, backend, attrs = {} } = args;
  const numSegments = attrs.numSegments as number;
  if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32') throw new Error('UnsortedSegmentSum on wasm supports float32 data and int32 ids');
  const idRank = segmentIds.shape.length;
  const inner = x.shape.slice(idRank).reduce((a, b) => a * b, 1);
  const count = segmentIds.shape.reduce((a, b) => a * b, 1);
  const acc = new Float32Array(numSegments * inner);
  const xv = backend.typedArrayFromHeap(x);
  // For an int32 tensor the heap view is an Int32Array.
  const ids = backend.typedArrayFromHeap(segmentIds) as unknown as Int32Array;
  for (let i = 0; i < count; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    for (let j = 0, o = s * inner, xi = i * inner; j < inner; j++) acc[o + j] += xv[xi + j];
  }
  return newTensor(backend, [numSegments, ...x.shape.slice(idRank)], (out) => out.set(acc));
}

/** BatchMatMul with transposes: materialize the transposed operands, then the fast path. */
function batchMatMul(args: Args): TensorInfo | null {
  const { inputs: { a, b }, backend, attrs = {} } = args;
  if (!attrs.transposeA && !attrs.transposeB) return null;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const swapLast = (t: TensorInfo) => {
    const r = t.shape.length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return run('Transpose', backend, { x: t }, { perm });
  };
  const a2 = attrs.transposeA ? swapLast(a) : a;
  const b2 = attrs.transposeB ? swapLast(b) : b;
  try {
    const original = installedOriginal.get('BatchMatMul');
    if (!original) return null;
    return original({ inputs: { a: a2, b: b2 }, backend: backend as never, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
  } finally {
    if (a2 !== a) backend.disposeData(a2.dataId);
    if (b2 !== b) backend.disposeData(b2.dataId);
  }
}

const installedOriginal = new Map<string, KernelFunc>();

/**
 * Register the wasm work-around kernels (call after the wasm backend is registered). Kernels wasm
 * lacks are added; Conv2DBackpropInput, BatchMatMul, the pool gradients, Sum and Mean keep wasm's
 * own as fallback (non-float32 inputs).
 */
export async function installWasmKernels(): Promise<{ detail: string }> {
  const matmul = getKernel('BatchMatMul', 'wasm');
  if (!matmul) throw new Error('the wasm backend is not registered (import @tensorflow/tfjs-backend-wasm first)');
  // A second call must not wrap our own wrapper.
  if (!installedOriginal.has('BatchMatMul')) installedOriginal.set('BatchMatMul', matmul.kernelFunc);
  replaceKernel('wasm', 'BatchMatMul', (a) => batchMatMul(a as unknown as Args));
  replaceKernel('wasm', 'Conv2DBackpropInput', (a) => conv2dBackpropInput(a as unknown as Args));
  replaceKernel('wasm', 'MaxPoolGrad', (a) => wasmMaxPoolGrad(a as unknown as Args));
  replaceKernel('wasm', 'AvgPoolGrad', (a) => wasmAvgPoolGrad(a as unknown as Args));
  replaceKernel('wasm', 'Sum', (a) => wasmReduce(a as unknown as Args, false));
  replaceKernel('wasm', 'Mean', (a) => wasmReduce(a as unknown as Args, true));
  addKernel('wasm', 'Conv2DBackpropFilter', (a) => conv2dBackpropFilter(a as unknown as Args));
  addKernel('wasm', 'DepthwiseConv2dNativeBackpropInput', (a) => depthwiseBackpropInput(a as unknown as Args));
  addKernel('wasm', 'DepthwiseConv2dNativeBackpropFilter', (a) => depthwiseBackpropFilter(a as unknown as Args));
  if (!getKernel('UnsortedSegmentSum', 'wasm')) addKernel('wasm', 'UnsortedSegmentSum', (a) => unsortedSegmentSum(a as unknown as Args));
  installGradientFixes();
  return { detail: 'convlab conv-gradient kernels; parity kernels: TF pool gradients, float64 sums, broadcast gradients' };
}

/**
 * Restore wasm's own kernels, all or the named ones (tests and tools/experiments/backend-parity.ts
 * compare against them; the pool gradients then have wasm's own errors again). Added kernels stay
 * registered.
 */
export function uninstallWasmKernels(names?: readonly string[]): void {
  restoreKernels('wasm', names);
  if (!names || names.includes('BatchMatMul')) installedOriginal.clear();
}

export function wasmKernelStats(): ReturnType<typeof kernelStats> {
  return kernelStats('wasm');
}
