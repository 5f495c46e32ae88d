/**
 * @convlab/native: optional oneDNN kernels for TensorFlow.js's cpu backend, and work-around kernels
 * that make the wasm backend usable for training and image gradients. Importing this module is
 * cheap and never throws; the addon is loaded by installNativeKernels().
 */
import { setFlagsFromString } from 'node:v8';
import { ADDON_PATH, addonError, checkOutputGuards, loadAddon } from './addon.js';
import type { AddonInfo, NativeAddon } from './addon.js';
import { NATIVE_IMPLS } from './cpu-kernels.js';
import type { KernelArgs } from './cpu-kernels.js';
import { installRelu6Grad, uninstallRelu6Grad } from './grad-overrides.js';
import { kernelStats, replaceKernel, restoreKernels } from './install.js';
import { installCpuParityKernels } from './parity-kernels.js';

export type { AddonInfo, NativeAddon } from './addon.js';
/** The compiled addon itself (undefined when it is not built): for benchmarks that time a kernel without tfjs around it. */
export { loadAddon } from './addon.js';
export type { KernelStats } from './install.js';
export { resetKernelStats } from './install.js';
export { installWasmKernels, uninstallWasmKernels, wasmKernelStats, WASM_KERNELS } from './wasm-kernels.js';
export {
  installCpuParityKernels, uninstallCpuParityKernels, cpuParityKernelNames, cpuParityKernelStats, PARITY_KERNELS,
} from './parity-kernels.js';
export { installGradientFixes, uninstallGradientFixes, gradientFixesInstalled, BROADCAST_GRAD_FIXES } from './grad-fixes.js';

/** Kernel names replaced on the cpu backend. */
export const NATIVE_KERNELS: readonly string[] = Object.keys(NATIVE_IMPLS);

/** Whether the compiled addon loads, and why not. */
export function nativeStatus(): { available: boolean; reason?: string; path: string } {
  const addon = loadAddon();
  return addon ? { available: true, path: ADDON_PATH } : { available: false, reason: addonError(), path: ADDON_PATH };
}

/** Library version and thread count of the loaded addon (undefined if it is not built). */
export function addonInfo(): AddonInfo | undefined {
  return loadAddon()?.info();
}

/**
 * Register the oneDNN kernels on tfjs's 'cpu' backend (the originals stay as fallback), and a one-pass
 * Relu6 gradient used while the cpu backend is active (grad-overrides.ts). The cpu parity kernels
 * (parity-kernels.ts) go in first, so a call oneDNN does not take falls back to a correct kernel. Throws an
 * Error saying why when the addon is unavailable. OMP_NUM_THREADS sets the thread count (default:
 * all cores).
 */
export async function installNativeKernels(): Promise<{ detail: string }> {
  const addon = loadAddon();
  if (!addon) throw new Error(addonError() ?? 'addon unavailable');
  installCpuParityKernels();
  for (const [name, impl] of Object.entries(NATIVE_IMPLS)) {
    replaceKernel('cpu', name, (args) => {
      const out = impl(args as unknown as KernelArgs, addon);
      checkOutputGuards(name);
      return out;
    });
  }
  installRelu6Grad();
  const info = addon.info();
  const reuse = keepFreedMemory(addon);
  const marking = markOnMainThread();
  return {
    detail: `oneDNN ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${reuse ? ', freed memory reused' : ''}${marking ? ', GC marking on the main thread' : ''}`,
  };
}

/**
 * Turn off V8's concurrent marking (`--no-concurrent-marking`, set at run time): the kernels keep every core
 * busy, and a marking thread beside them takes a core from an OpenMP thread, which the whole parallel region
 * then waits for. Every iteration allocates hundreds of MB of tensor buffers, so V8 marks the old generation
 * several times per iteration. Measured with tools/bench/gatys-app.ts (512 px, 5 iterations, two runs each): the
 * InceptionV3 Gatys iteration took 0.40-0.48 s (0.55-0.66 CPU s) instead of 0.48-0.50 s (0.76-0.83 CPU s); VGG19
 * 1.12-1.18 s instead of 1.36-1.50 s; GC pauses per iteration halved (44-48 ms against 87-91 ms on InceptionV3),
 * because marking no longer waits on a thread that has no core. The price: dead tensors are collected later, so
 * peak RSS rises (VGG19 at 544x416: 2.7-3.1 GB instead of 2.1-2.2 GB). CONVLAB_CONCURRENT_MARKING=1 keeps V8's
 * default.
 * Returns whether it took effect.
 */
export function markOnMainThread(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CONVLAB_CONCURRENT_MARKING === '1') return false;
  setFlagsFromString('--no-concurrent-marking');
  return true;
}

/** glibc's largest mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit): blocks up to it come from the reusable heap. */
export const MMAP_THRESHOLD = 32 * 1024 * 1024;
/** Free memory kept at the heap top before glibc gives it back. */
export const TRIM_THRESHOLD = 1024 * 1024 * 1024;

/**
 * Ask glibc to keep freed blocks (TRIM_THRESHOLD in all at the heap top) for reuse and to serve every block,
 * large ones too, from the heap (no per-block mmap), so kernel outputs land in memory already faulted in rather
 * than fresh pages (csrc/addon.cc says what it measured). The price is a higher peak RSS: freed memory is kept
 * for the next tensors rather than returned. CONVLAB_KEEP_FREED_MEMORY=0 leaves glibc's defaults;
 * CONVLAB_KEEP_FREED_MEMORY=small keeps only blocks up to MMAP_THRESHOLD (the large ones are mapped fresh each
 * time, as before). Returns whether it took effect.
 */
export function keepFreedMemory(addon: NativeAddon, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CONVLAB_KEEP_FREED_MEMORY === '0' || !addon.keepFreedMemory) return false;
  if (env.CONVLAB_KEEP_FREED_MEMORY === 'small') return addon.keepFreedMemory(MMAP_THRESHOLD, TRIM_THRESHOLD);
  return addon.keepFreedMemory(MMAP_THRESHOLD, TRIM_THRESHOLD, 0);
}

/**
 * Put the original cpu kernels back, all or only the named ones (tests and benchmarks compare against
 * them); 'Relu6Grad' names the one-pass Relu6 gradient (grad-overrides.ts). The cpu parity kernels
 * stay (uninstallCpuParityKernels removes them).
 */
export function uninstallNativeKernels(names?: readonly string[]): void {
  restoreKernels('cpu', names);
  if (!names || names.includes('Relu6Grad')) uninstallRelu6Grad();
}

/** How often each native cpu kernel ran or fell back since install (or the last reset). */
export function nativeKernelStats(): ReturnType<typeof kernelStats> {
  return kernelStats('cpu');
}

/** Drop cached oneDNN primitives (they are rebuilt on demand). */
export function clearNativeCaches(): void {
  loadAddon()?.clearCaches();
}

export { frozenConv2d } from './frozen-ops.js';
export type { FrozenActivation, FrozenConvOptions } from './frozen-ops.js';
