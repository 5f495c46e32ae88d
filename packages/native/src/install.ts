/**
 * Swaps kernels on a tfjs backend while keeping the originals: each replacement either handles a call
 * or hands it to the kernel it replaced (unsupported dtype, layout or shape, or an addon error).
 * Gradients are registered per kernel name, so tf.grad keeps working unchanged.
 *
 * Two layers: a *base* kernel (setBaseKernel: a corrected version of a tfjs kernel, e.g. the parity
 * pool gradients of pool-grad-kernels.ts) sits under any replacement (replaceKernel: the oneDNN
 * kernels), so a replacement's fallback is the corrected kernel, and restoreKernels puts the base
 * back, not the tfjs kernel under it. restoreBaseKernels removes the base layer.
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/** How often each replaced kernel ran natively or fell back (for tests and profiling). */
export interface KernelStats {
  native: number;
  fallback: number;
  errors: number;
  lastError?: string;
}

type Impl = (args: Parameters<KernelFunc>[0]) => TensorInfo | TensorInfo[] | null;

interface Installed {
  /** What the replacement falls back to and what restoreKernels registers again (read at call time). */
  original: KernelConfig;
  stats: KernelStats;
}

interface Base {
  /** The kernel the backend registered (tfjs's own). */
  tfjs: KernelConfig;
  /** The corrected kernel standing in for it. */
  config: KernelConfig;
  stats: KernelStats;
}

const installed = new Map<string, Installed>();
const bases = new Map<string, Base>();
const key = (backend: string, name: string) => `${backend}/${name}`;

/** A kernel function that runs impl and, when it returns null or throws, `fallback()` (read at call time). */
function withFallback(impl: Impl, fallback: () => KernelConfig, stats: KernelStats): KernelFunc {
  return (args) => {
    let out: TensorInfo | TensorInfo[] | null = null;
    try {
      out = impl(args);
    } catch (err) {
      // A failure in a replacement must never break a run: count it, remember why, and use the fallback.
      stats.errors++;
      stats.lastError = err instanceof Error ? err.message : String(err);
    }
    if (out) {
      stats.native++;
      return out;
    }
    stats.fallback++;
    return fallback().kernelFunc(args);
  };
}

function reregister(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

/** Register `impl` for kernelName on backendName, falling back to the current kernel. Returns false if none exists. */
export function replaceKernel(backendName: string, kernelName: string, impl: Impl): boolean {
  const k = key(backendName, kernelName);
  const original = installed.get(k)?.original ?? getKernel(kernelName, backendName);
  if (!original) return false;
  const entry: Installed = { original, stats: { native: 0, fallback: 0, errors: 0 } };
  const kernelFunc = withFallback(impl, () => entry.original, entry.stats);
  reregister({ ...original, kernelFunc });
  installed.set(k, entry);
  return true;
}

/**
 * Put `impl` in place of the backend's own kernelName as its base kernel: the backend's kernel stays
 * as impl's fallback (impl returns null), and a replacement installed with replaceKernel, before or
 * after, falls back to impl. Returns false if the backend has no such kernel.
 */
export function setBaseKernel(backendName: string, kernelName: string, impl: Impl): boolean {
  const k = key(backendName, kernelName);
  const tfjs = bases.get(k)?.tfjs ?? installed.get(k)?.original ?? getKernel(kernelName, backendName);
  if (!tfjs) return false;
  const stats: KernelStats = { native: 0, fallback: 0, errors: 0 };
  const config: KernelConfig = { ...tfjs, kernelFunc: withFallback(impl, () => tfjs, stats) };
  bases.set(k, { tfjs, config, stats });
  const over = installed.get(k);
  if (over) over.original = config;
  else reregister(config);
  return true;
}

/** Remove base kernels (all of a backend, or the named ones): the backend's own kernels come back under any replacement. */
export function restoreBaseKernels(backendName: string, names?: readonly string[]): void {
  for (const [k, { tfjs }] of bases) {
    if (!k.startsWith(backendName + '/')) continue;
    if (names && !names.includes(tfjs.kernelName)) continue;
    const over = installed.get(k);
    if (over) over.original = tfjs;
    else reregister(tfjs);
    bases.delete(k);
  }
}

/** Names of the base kernels set on a backend. */
export function baseKernelNames(backendName: string): string[] {
  return [...bases.keys()].filter((k) => k.startsWith(backendName + '/')).map((k) => k.slice(backendName.length + 1));
}

/** How often each base kernel handled a call or fell back to the backend's own. */
export function baseKernelStats(backendName: string): Record<string, KernelStats> {
  const out: Record<string, KernelStats> = {};
  for (const [k, { stats }] of bases) if (k.startsWith(backendName + '/')) out[k.slice(backendName.length + 1)] = { ...stats };
  return out;
}

/** Register a kernel that did not exist on a backend (no fallback). */
export function addKernel(backendName: string, kernelName: string, kernelFunc: KernelFunc, setupFunc?: KernelConfig['setupFunc']): void {
  if (getKernel(kernelName, backendName)) unregisterKernel(kernelName, backendName);
  registerKernel({ kernelName, backendName, kernelFunc, setupFunc });
}

/** Put back the original kernels for a backend, or only the named ones (tests and benchmarks compare against them). */
export function restoreKernels(backendName: string, names?: readonly string[]): void {
  for (const [k, { original }] of installed) {
    if (!k.startsWith(backendName + '/')) continue;
    if (names && !names.includes(original.kernelName)) continue;
    reregister(original);
    installed.delete(k);
  }
}

export function kernelStats(backendName: string): Record<string, KernelStats> {
  const out: Record<string, KernelStats> = {};
  for (const [k, { stats }] of installed) if (k.startsWith(backendName + '/')) out[k.slice(backendName.length + 1)] = { ...stats };
  return out;
}

export function resetKernelStats(): void {
  for (const { stats } of [...installed.values(), ...bases.values()]) {
    stats.native = stats.fallback = stats.errors = 0;
    delete stats.lastError;
  }
}
