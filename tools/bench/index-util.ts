/**
 * Shared pieces of the benchmarks (tools/bench/index.ts runs them): flag parsing, backend start-up,
 * timing, and the one JSON result line each benchmark process prints for the runner.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '@convlab/core';

export interface BenchResult {
  bench: string;
  backend: string;
  /** e.g. "512 px" or "batch 64". */
  config: string;
  secondsPerIter: number;
  /** Process CPU seconds (user + system) per timed iteration: on a busy shared machine, divided by the
   * thread count it estimates the wall time the same work takes on idle cores. */
  cpuSecondsPerIter?: number;
  /** The fastest timed iteration (wall seconds): the least disturbed by other processes. */
  bestSecondsPerIter?: number;
  /** Load average over the last minute when the run ended (the machine is shared). */
  load1?: number;
  /** Floating-point operations per iteration, counted analytically (multiply-add = 2). */
  gflopPerIter: number;
  peakRssMB: number;
  /** Minor page faults per iteration (fresh pages touched), where measured. */
  minorFaultsPerIter?: number;
  /** Main-thread garbage-collection pauses per iteration (ms), where measured. */
  gcPauseMsPerIter?: number;
  iterations: number;
  engineDetail: string;
  note?: string;
}

export interface BenchFlags {
  backend: string;
  size: number;
  iters: number;
  warmup: number;
}

export function benchFlags(defaults: Partial<BenchFlags> = {}): BenchFlags {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: defaults.backend ?? 'native' },
      size: { type: 'string', default: String(defaults.size ?? 256) },
      iters: { type: 'string', default: String(defaults.iters ?? 3) },
      warmup: { type: 'string', default: String(defaults.warmup ?? 1) },
    },
    // Benchmarks parse their own extra flags (gatys: --pool, --layers).
    strict: false,
  });
  return { backend: String(values.backend), size: Number(values.size), iters: Number(values.iters), warmup: Number(values.warmup) };
}

export async function startEngine(backend: string): Promise<{ backend: string; detail: string }> {
  const info = await initEngine({ backend, log: false });
  return { backend: info.backend, detail: info.detail };
}

let lastCpuSeconds: number | undefined;
let lastBestSeconds: number | undefined;

/** Mean seconds of `iters` calls after `warmup` untimed ones; fn must finish its work (read data). */
export async function timeIterations(fn: () => Promise<void>, iters: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  lastBestSeconds = Infinity;
  for (let i = 0; i < iters; i++) {
    const ti = performance.now();
    await fn();
    lastBestSeconds = Math.min(lastBestSeconds, (performance.now() - ti) / 1000);
  }
  const c = process.cpuUsage(c0);
  lastCpuSeconds = (c.user + c.system) / 1e6 / iters;
  return (performance.now() - t0) / 1000 / iters;
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Print the line tools/bench/index.ts collects, plus a readable one. */
export function report(r: BenchResult): void {
  r.cpuSecondsPerIter ??= lastCpuSeconds;
  r.bestSecondsPerIter ??= lastBestSeconds;
  r.load1 ??= loadavg()[0];
  process.stderr.write(
    `${r.bench} ${r.config} on ${r.backend}: ${r.secondsPerIter.toFixed(3)} s/iter, ` +
      `${(r.gflopPerIter / r.secondsPerIter).toFixed(1)} GFLOP/s, peak RSS ${r.peakRssMB.toFixed(0)} MB, ` +
      `best ${r.bestSecondsPerIter?.toFixed(3) ?? '?'} s, CPU ${r.cpuSecondsPerIter?.toFixed(3) ?? '?'} s/iter, load ${r.load1.toFixed(1)}\n`,
  );
  console.log(`BENCH ${JSON.stringify(r)}`);
}

export { tf };

/** tf.profile's kernels summed by kernel name, slowest first: where an iteration's time goes. */
export function kernelTotals(kernels: { name: string; kernelTimeMs: unknown }[]): [string, { ms: number; calls: number }][] {
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of kernels) {
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    byName.set(k.name, e);
  }
  return [...byName].sort((a, b) => b[1].ms - a[1].ms);
}
