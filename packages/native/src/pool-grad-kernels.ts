/**
 * Pooling gradients with TensorFlow's semantics, for the backends whose own kernels get them wrong
 * (measured in test/parity.test.ts against a float64 reference):
 * - MaxPoolGrad: each output window sends its gradient to the FIRST maximum of the window in row-major
 *   (y, then x) order; padded positions never win (they are -inf). tfjs-backend-wasm's kernel starts its
 *   search from the smallest positive float, so windows whose maximum is <= 0 send their gradient to
 *   the window's first position, and ties go to the last maximum.
 * - AvgPoolGrad: each output window's gradient is divided by the number of valid (non-padded) inputs it
 *   averaged, as the forward AvgPool of every tfjs backend (and TensorFlow's avg_pool) divides. tfjs's
 *   cpu and wasm kernels divide by the full window at 'same'-padded borders, which is not the gradient
 *   of their own forward pass there.
 * Plain loops over typed arrays (pooling is memory-bound; these run in a few ms at InceptionV3 sizes).
 * The same functions serve the cpu backend (values in backend.data) and wasm (values on the wasm heap).
 */
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { CpuBackendLike } from './cpu-kernels.js';

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

/** Kernel names these implementations cover. */
export const POOL_GRAD_KERNELS: readonly string[] = ['MaxPoolGrad', 'AvgPoolGrad'];

/** The pooling geometry of a gradient call, or null when it is not a float32 NHWC 2-D pool this code handles. */
export function poolGradInfo(inputShape: number[], dyShape: number[], attrs: NamedAttrMap | undefined): backend_util.Conv2DInfo | null {
  if (inputShape.length !== 4 || dyShape.length !== 4) return null;
  const a = attrs ?? {};
  const info = backend_util.computePool2DInfo(
    inputShape as Shape4, a.filterSize as number | [number, number], a.strides as number | [number, number], 1,
    a.pad as Pad, a.dimRoundingMode as Rounding,
  );
  if (info.dataFormat !== 'channelsLast' || !util.arraysEqual(info.outShape, dyShape)) return null;
  return info;
}

/**
 * dx += the max-pool gradient of dy (dx must be zeroed). x is the pooled input. The winner of a window
 * is its first maximum in row-major order over the valid positions; a NaN in the window never beats a
 * number, except as the first valid position (then the forward output is NaN as well).
 */
export function maxPoolGradInto(x: ArrayLike<number>, dy: ArrayLike<number>, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: ih, inWidth: iw, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const best = new Float64Array(c);
  const arg = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        let first = true;
        for (let fy = 0; fy < kh; fy++) {
          const iy = y0 + fy * dh;
          if (iy < 0 || iy >= ih) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = x0 + fx * dw;
            if (ix < 0 || ix >= iw) continue;
            const base = ((b * ih + iy) * iw + ix) * c;
            if (first) {
              for (let ch = 0; ch < c; ch++) {
                best[ch] = x[base + ch];
                arg[ch] = base + ch;
              }
              first = false;
            } else {
              for (let ch = 0; ch < c; ch++) {
                const v = x[base + ch];
                if (v > best[ch]) {
                  best[ch] = v;
                  arg[ch] = base + ch;
                }
              }
            }
          }
        }
        if (first) continue; // a window entirely in the padding (explicit pads only): no input to credit
        const o = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) dx[arg[ch]] += dy[o + ch];
      }
    }
  }
}

/** dx += the average-pool gradient of dy (dx must be zeroed): each window's share is dy / (valid inputs in it). */
export function avgPoolGradInto(dy: ArrayLike<number>, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: ih, inWidth: iw, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const share = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      let rows = 0;
      for (let fy = 0; fy < kh; fy++) if (y0 + fy * dh >= 0 && y0 + fy * dh < ih) rows++;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        let cols = 0;
        for (let fx = 0; fx < kw; fx++) if (x0 + fx * dw >= 0 && x0 + fx * dw < iw) cols++;
        const count = rows * cols;
        if (count === 0) continue;
        const o = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) share[ch] = dy[o + ch] / count;
        for (let fy = 0; fy < kh; fy++) {
          const iy = y0 + fy * dh;
          if (iy < 0 || iy >= ih) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = x0 + fx * dw;
            if (ix < 0 || ix >= iw) continue;
            const base = ((b * ih + iy) * iw + ix) * c;
            for (let ch = 0; ch < c; ch++) dx[base + ch] += share[ch];
          }
        }
      }
    }
  }
}

interface CpuArgs {
  inputs: Record<string, TensorInfo>;
  backend: CpuBackendLike;
  attrs?: NamedAttrMap;
}

/** Float values of a float32 tensor on the cpu backend (a tensor cast from int32/bool may still hold those arrays). */
function cpuValues(backend: CpuBackendLike, t: TensorInfo | undefined): ArrayLike<number> | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array ? v : null;
}

/** MaxPoolGrad for tfjs's cpu backend; null (use tfjs's kernel) for what it does not cover. */
export function cpuMaxPoolGrad(args: CpuArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const x = cpuValues(backend, inputs.input), dy = cpuValues(backend, inputs.dy);
  if (!x || !dy) return null;
  const info = poolGradInfo(inputs.input.shape, inputs.dy.shape, attrs);
  if (!info) return null;
  const dx = new Float32Array(util.sizeFromShape(inputs.input.shape));
  maxPoolGradInto(x, dy, dx, info);
  return backend.makeTensorInfo(inputs.input.shape, 'float32', dx);
}

/** AvgPoolGrad for tfjs's cpu backend. */
export function cpuAvgPoolGrad(args: CpuArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const dy = cpuValues(backend, inputs.dy);
  if (!dy || inputs.input.dtype !== 'float32') return null;
  const info = poolGradInfo(inputs.input.shape, inputs.dy.shape, attrs);
  if (!info) return null;
  const dx = new Float32Array(util.sizeFromShape(inputs.input.shape));
  avgPoolGradInto(dy, dx, info);
  return backend.makeTensorInfo(inputs.input.shape, 'float32', dx);
}

/** The part of tfjs's BackendWasm used here. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

interface WasmArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmHeapBackend;
  attrs?: NamedAttrMap;
}

/** MaxPoolGrad for tfjs-backend-wasm (reads and writes the wasm heap in place). */
export function wasmMaxPoolGrad(args: WasmArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  if (inputs.input.dtype !== 'float32' || inputs.dy.dtype !== 'float32') return null;
  const info = poolGradInfo(inputs.input.shape, inputs.dy.shape, attrs);
  if (!info) return null;
  const out = backend.makeOutput(inputs.input.shape, 'float32');
  // Views are taken after the allocation: a heap growth detaches older views.
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  maxPoolGradInto(backend.typedArrayFromHeap(inputs.input), backend.typedArrayFromHeap(inputs.dy), dx, info);
  return out;
}

/** AvgPoolGrad for tfjs-backend-wasm. */
export function wasmAvgPoolGrad(args: WasmArgs): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  if (inputs.input.dtype !== 'float32' || inputs.dy.dtype !== 'float32') return null;
  const info = poolGradInfo(inputs.input.shape, inputs.dy.shape, attrs);
  if (!info) return null;
  const out = backend.makeOutput(inputs.input.shape, 'float32');
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  avgPoolGradInto(backend.typedArrayFromHeap(inputs.dy), dx, info);
  return out;
}
