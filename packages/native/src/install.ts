/**
 * Swaps kernels on a tfjs backend while keeping the originals: each replacement either handles a call
 * or hands it to the kernel it replaced (unsupported dtype, layout or shape, or an addon error).
 * Gradients are registered per kernel name, so tf.grad keeps working unchanged.
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
  original: KernelConfig;
  stats: KernelStats;
}

const installed = new Map<string, Installed>();
const key = (backend: string, name: string) => `${backend}/${name}`;

/** Register `impl` for kernelName on backendName, falling back to the current kernel. Returns false if none exists. */
export function replaceKernel(backendName: string, kernelName: string, impl: Impl): boolean {
  const k = key(backendName, kernelName);
  const original = installed.get(k)?.original ?? getKernel(kernelName, backendName);
  if (!original) return false;
  const stats: KernelStats = { native: 0, fallback: 0, errors: 0 };
  const kernelFunc: KernelFunc = (args) => {
    let out: TensorInfo | TensorInfo[] | null = null;
    try {
      out = impl(args);
    } catch (err) {
      // A native failure must never break a run: count it, remember why, and use the original.
      stats.errors++;
      stats.lastError = err instanceof Error ? err.message : String(err);
    }
    if (out) {
      stats.native++;
      return out;
    }
    stats.fallback++;
    return original.kernelFunc(args);
  };
  if (installed.has(k) || getKernel(kernelName, backendName)) unregisterKernel(kernelName, backendName);
  registerKernel({ ...original, kernelFunc });
  installed.set(k, { original, stats });
  return true;
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
    unregisterKernel(original.kernelName, backendName);
    registerKernel(original);
    installed.delete(k);
  }
}

export function kernelStats(backendName: string): Record<string, KernelStats> {
  const out: Record<string, KernelStats> = {};
  for (const [k, { stats }] of installed) if (k.startsWith(backendName + '/')) out[k.slice(backendName.length + 1)] = { ...stats };
  return out;
}

export function resetKernelStats(): void {
  for (const { stats } of installed.values()) {
    stats.native = stats.fallback = stats.errors = 0;
    delete stats.lastError;
  }
}
