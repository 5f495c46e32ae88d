/**
 * Kernels that make tfjs's 'cpu' backend compute what TensorFlow computes where tfjs's own kernel does
 * not (pool-grad-kernels.ts says what differs). They are base kernels (install.ts): the oneDNN
 * replacements of installNativeKernels fall back to them, and uninstallNativeKernels leaves them in.
 * installCpuParityKernels needs no addon; the engine installs them for both 'cpu' and 'native'. It
 * also installs the broadcast gradient fixes of grad-fixes.ts (global: every backend).
 */
import { getKernel } from '@tensorflow/tfjs-core';
import { installGradientFixes } from './grad-fixes.js';
import { baseKernelNames, baseKernelStats, restoreBaseKernels, setBaseKernel } from './install.js';
import type { KernelStats } from './install.js';
import { POOL_GRAD_KERNELS, cpuAvgPoolGrad, cpuMaxPoolGrad } from './pool-grad-kernels.js';

type CpuArgs = Parameters<typeof cpuMaxPoolGrad>[0];

const CPU_PARITY_IMPLS: Record<string, (args: CpuArgs) => ReturnType<typeof cpuMaxPoolGrad>> = {
  MaxPoolGrad: cpuMaxPoolGrad,
  AvgPoolGrad: cpuAvgPoolGrad,
};

/** Kernel names corrected on the cpu backend (the wasm backend gets the same ones from installWasmKernels). */
export const PARITY_KERNELS: readonly string[] = POOL_GRAD_KERNELS;

/**
 * Register the corrected kernels on tfjs's 'cpu' backend (idempotent). Throws when the cpu backend is
 * not registered (import @tensorflow/tfjs-backend-cpu first).
 */
export function installCpuParityKernels(): { detail: string } {
  if (!getKernel('MaxPoolGrad', 'cpu') && !baseKernelNames('cpu').includes('MaxPoolGrad')) {
    throw new Error('the cpu backend is not registered (import @tensorflow/tfjs-backend-cpu first)');
  }
  for (const [name, impl] of Object.entries(CPU_PARITY_IMPLS)) setBaseKernel('cpu', name, (a) => impl(a as unknown as CpuArgs));
  installGradientFixes();
  return { detail: 'parity kernels: TF pool gradients, broadcast gradients' };
}

/** Put tfjs's own cpu kernels back (all parity kernels or the named ones): for before/after measurements. */
export function uninstallCpuParityKernels(names?: readonly string[]): void {
  restoreBaseKernels('cpu', names ?? PARITY_KERNELS);
}

/** Which parity kernels are in on the cpu backend. */
export function cpuParityKernelNames(): string[] {
  return baseKernelNames('cpu').filter((n) => PARITY_KERNELS.includes(n));
}

/** How often each cpu parity kernel ran or fell back to tfjs's own. */
export function cpuParityKernelStats(): Record<string, KernelStats> {
  return baseKernelStats('cpu');
}
