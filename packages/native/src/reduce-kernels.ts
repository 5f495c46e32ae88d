/**
 * Sum and Mean for tfjs-backend-wasm with a float64 accumulator. wasm's own kernels add float32 values
 * one by one into a float32 accumulator, so once the running sum is large, small terms round away:
 * measured 2.3e-4 relative error for the sum of 327,680 squared Gram entries, which is exactly the
 * per-layer normaliser of the style loss (losses.ts gramNormaliser) and showed as a 2.4e-4 relative
 * difference between the wasm and native style gradients. tfjs's cpu kernels (JavaScript numbers) and
 * the native ones (float64) do not lose them. Found by test/parity.test.ts.
 */
import { util } from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmHeapBackend } from './pool-grad-kernels.js';

/** Sums of x (row-major `shape`) over `axes`, in float64, in the order of the kept axes. */
export function sumOverAxes(x: ArrayLike<number>, shape: number[], axes: number[]): Float64Array {
  const rank = shape.length;
  const reduced = shape.map((_, d) => axes.includes(d));
  const outStride = new Array<number>(rank).fill(0);
  let outSize = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (!reduced[d]) {
      outStride[d] = outSize;
      outSize *= shape[d];
    }
  }
  const acc = new Float64Array(outSize);
  if (rank === 0) {
    if (x.length) acc[0] = x[0];
    return acc;
  }
  const last = shape[rank - 1];
  if (last === 0 || x.length === 0) return acc;
  const lastReduced = reduced[rank - 1];
  const rows = x.length / last;
  const idx = new Array<number>(rank).fill(0);
  let base = 0;
  for (let r = 0; r < rows; r++) {
    const off = r * last;
    if (lastReduced) {
      let s = 0;
      for (let j = 0; j < last; j++) s += x[off + j];
      acc[base] += s;
    } else {
      for (let j = 0; j < last; j++) acc[base + j] += x[off + j];
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += outStride[d];
      if (idx[d] < shape[d]) break;
      base -= outStride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return acc;
}

interface WasmArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmHeapBackend;
  attrs?: NamedAttrMap;
}

/** Sum (mean = false) or Mean of a float32 tensor on wasm; null (wasm's own kernel) for other dtypes. */
export function wasmReduce(args: WasmArgs, mean: boolean): TensorInfo | null {
  const { inputs: { x }, backend, attrs = {} } = args;
  if (x.dtype !== 'float32') return null;
  const axes = [...new Set(util.parseAxisParam(attrs.axis as number | number[], x.shape))];
  const outShape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  // Read before allocating the output: a heap growth detaches older views.
  const acc = sumOverAxes(backend.typedArrayFromHeap(x), x.shape, axes);
  const out = backend.makeOutput(outShape, 'float32');
  const o = backend.typedArrayFromHeap(out);
  for (let i = 0; i < o.length; i++) o[i] = mean ? acc[i] / count : acc[i];
  return out;
}
