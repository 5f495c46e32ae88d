/**
 * Memory a run needs, estimated before anything big is allocated, so an oversized request fails at once with
 * a size that would fit instead of thrashing or dying halfway.
 */
import { ConvlabError, availableMemoryBytes } from '@convlab/core';
import type { FeatureNet } from './features.js';

export interface MemoryEstimate {
  bytes: number;
  limitBytes: number;
}

/**
 * Process baseline: Node, TensorFlow.js, the wasm heap, weights and the images. Calibrated on inception_v3 with
 * tools/bench/style.ts: peak RSS 1.1-1.3 GB at 256 px and 1.7-2.0 GB at 512 px, whose difference the
 * activation term below reproduces (0.63 GB).
 */
export const BASELINE_BYTES = 900e6;

/** L-BFGS history pairs kept (each pair is two image-sized vectors). */
export const LBFGS_HISTORY = 50;

/**
 * Bytes for one optimisation step at [h, w]: every activation up to the deepest layer is kept for the backward
 * pass, and the backward pass holds gradients of the same size plus temporaries (factor 3); the optimiser keeps
 * image-sized vectors (Adam 3, L-BFGS 2 per history pair + 6).
 */
export function estimateMemoryBytes(net: FeatureNet, layers: string[], size: [number, number], optimizer: 'lbfgs' | 'adam'): number {
  const activations = net.activationFloats(layers, size);
  const image = size[0] * size[1] * 3;
  const optimiserVectors = optimizer === 'lbfgs' ? 2 * LBFGS_HISTORY + 6 : 4;
  return 4 * (3 * activations + image * optimiserVectors) + BASELINE_BYTES;
}

/** The memory budget when --max-memory-gb is not given: CONVLAB_MAX_MEMORY_GB, or 80% of the machine (or its cgroup limit). */
/**
 * tfjs-backend-wasm's heap cannot grow past 4 GB (wasm32); a run whose tensors need more aborts with
 * "Aborted()". Measured with mobilenet_v2 on wasm (--multiscale off, 2 iterations): 768 px ran (peak RSS
 * 3.66 GB, estimate 3.64 GB), 1024 px aborted (estimate 5.77 GB, i.e. 4.9 GB above the baseline).
 */
export const WASM_HEAP_BYTES = 4294901760;

export function defaultMemoryLimit(): number {
  const env = Number(process.env.CONVLAB_MAX_MEMORY_GB);
  if (Number.isFinite(env) && env > 0) return env * 1e9;
  return Math.floor(availableMemoryBytes() * 0.8);
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * Throw a ConvlabError saying how much memory `size` would need and which size would fit. `pad`: the network
 * sees the image reflection-padded by this many px on each side (stylize's --pad), so it is estimated at that size.
 */
export function checkMemory(
  net: FeatureNet,
  layers: string[],
  dims: [number, number],
  optimizer: 'lbfgs' | 'adam',
  limitBytes = defaultMemoryLimit(),
  backend?: string,
  pad = 0,
): MemoryEstimate {
  const netDims: [number, number] = [dims[0] + 2 * pad, dims[1] + 2 * pad];
  let bytes = estimateMemoryBytes(net, layers, netDims, optimizer);
  // The native backend turns V8's concurrent marking off (@convlab/native markOnMainThread: 15-25 % faster
  // iterations), and dead tensors then wait longer for their collection: VGG19 at 544x416 peaked at 2.7-3.1 GB
  // instead of 2.1-2.2 GB (tools/bench/gatys-app.ts), InceptionV3 at 1.7 instead of 1.5 GB. One more
  // activation-sized term covers that slack (conservative for InceptionV3).
  if (backend === 'native' && process.env.CONVLAB_CONCURRENT_MARKING !== '1') bytes += 4 * net.activationFloats(layers, netDims);
  if (bytes > limitBytes) {
    const side = Math.max(...dims);
    // Activations grow with the pixel count: scale the side by the square root of the ratio.
    const fit = Math.max(net.minInputSize, Math.floor((side * Math.sqrt(Math.max(0, limitBytes - BASELINE_BYTES) / (bytes - BASELINE_BYTES))) / 16) * 16);
    throw new ConvlabError(`--size ${side} needs about ${gb(bytes)} of memory with ${net.name}, above the ${gb(limitBytes)} limit`, {
      hint: `try --size ${fit} or smaller (or raise --max-memory-gb / CONVLAB_MAX_MEMORY_GB if the estimate is wrong for this machine)`,
    });
  }
  // On wasm the tensors (the estimate above the process baseline) must also fit the wasm heap.
  if (backend === 'wasm' && bytes - BASELINE_BYTES > WASM_HEAP_BYTES) {
    const side = Math.max(...dims);
    const fit = Math.max(net.minInputSize, Math.floor((side * Math.sqrt(WASM_HEAP_BYTES / (bytes - BASELINE_BYTES))) / 16) * 16);
    throw new ConvlabError(`--size ${side} needs about ${gb(bytes - BASELINE_BYTES)} of tensors with ${net.name}, more than the wasm backend's ${gb(WASM_HEAP_BYTES)} heap`, {
      hint: `try --size ${fit} or smaller, or use --backend native`,
    });
  }
  return { bytes, limitBytes };
}
