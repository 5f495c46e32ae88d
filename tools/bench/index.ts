/**
 * Runs the benchmarks, each in its own process (so peak RSS is per benchmark), and prints a table:
 * seconds per iteration, GFLOP/s, % of the measured FMA peak, peak RSS, and the machine load.
 *
 *   npm run bench                     (the default set below; about 10 minutes on 2 cores)
 *   npx tsx --conditions=@convlab/source tools/bench/index.ts [--quick] [--only gatys,lstm] [--backends native,wasm]
 *     [--json out/bench.json]
 *
 * The peak is the best large sgemm on the native backend (tools/bench/peak.ts); "% peak" divides each
 * benchmark's GFLOP/s by it (wasm runs one thread, so its ceiling is 1/threads of that).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchResult } from './index-util.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, only: { type: 'string' }, backends: { type: 'string' }, json: { type: 'string' },
  },
});

const here = dirname(fileURLToPath(import.meta.url));
interface Job { script: string; args: string[] }

const q = values.quick;
const jobs: Job[] = [
  { script: 'peak', args: [] },
  { script: 'gatys', args: ['--backend', 'native', '--size', '256', '--iters', q ? '1' : '3'] },
  { script: 'gatys', args: ['--backend', 'native', '--size', '512', '--iters', q ? '1' : '3'] },
  { script: 'gatys', args: ['--backend', 'wasm', '--size', '256', '--iters', q ? '1' : '2'] },
  { script: 'gatys', args: ['--backend', 'wasm', '--size', '512', '--iters', '1'] },
  // Pure-JavaScript kernels: about a minute per iteration at 256 px, so 512 px is left out.
  { script: 'gatys', args: ['--backend', 'cpu', '--size', '256', '--iters', '1', '--warmup', '0'] },
  { script: 'mobilenet', args: ['--backend', 'native'] },
  { script: 'mobilenet', args: ['--backend', 'wasm'] },
  { script: 'mobilenet', args: ['--backend', 'cpu', '--iters', '2', '--warmup', '1'] },
  // Input gradients through MobileNetV2 (deconvnet maps, MobileNetV2 style transfer).
  { script: 'mobilenet-grad', args: ['--backend', 'native', '--iters', q ? '3' : '8'] },
  { script: 'mobilenet-grad', args: ['--backend', 'wasm', '--iters', q ? '3' : '8'] },
  { script: 'mobilenet-grad', args: ['--backend', 'cpu', '--iters', '1', '--warmup', '0'] },
  { script: 'mobilenet-grad', args: ['--backend', 'native', '--style', '--iters', q ? '2' : '5'] },
  { script: 'mobilenet-grad', args: ['--backend', 'wasm', '--style', '--iters', q ? '2' : '5'] },
  { script: 'lstm', args: ['--backend', 'native', '--iters', q ? '2' : '5'] },
  { script: 'lstm', args: ['--backend', 'wasm', '--iters', '2'] },
].filter((j) => !values.only || j.script === 'peak' || values.only.split(',').includes(j.script))
  .filter((j) => !q || !(j.args.includes('cpu') || (j.args.includes('wasm') && j.args.includes('512'))))
  .filter((j) => !values.backends || j.script === 'peak' || values.backends.split(',').includes(j.args[1]));

const results: BenchResult[] = [];
for (const job of jobs) {
  const label = `${job.script} ${job.args.join(' ')}`;
  process.stderr.write(`running ${label} ...\n`);
  const r = spawnSync(process.execPath, ['--import=tsx', '--conditions=@convlab/source', join(here, `${job.script}.ts`), ...job.args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) {
    process.stderr.write(`  no result (exit ${r.status})\n`);
    continue;
  }
  results.push(JSON.parse(line.slice(6)) as BenchResult);
}

const peak = results.find((r) => r.bench === 'peak');
const peakGflops = peak ? peak.gflopPerIter / peak.secondsPerIter : undefined;
const threads = Number(/(\d+) thread/.exec(peak?.engineDetail ?? '')?.[1] ?? cpus().length);
// Per CPU-second rates do not depend on how busy the shared machine was (wall times do).
const peakPerCpu = peak?.cpuSecondsPerIter ? peak.gflopPerIter / peak.cpuSecondsPerIter : undefined;
const header = ['benchmark', 'backend', 's/iter', 'best s', 'CPU s/iter', 'GFLOP/iter', 'GFLOP/s', '% peak', 'GFLOP/CPU-s', '% peak (CPU)', 'peak RSS MB', 'load'];
const pct = (v: number, of: number | undefined) => (of ? `${((100 * v) / of).toFixed(0)}%` : '');
const rows = results.map((r) => {
  const gflops = r.gflopPerIter / r.secondsPerIter;
  const perCpu = r.cpuSecondsPerIter ? r.gflopPerIter / r.cpuSecondsPerIter : undefined;
  return [
    `${r.bench} ${r.config}${r.note ? ` (${r.note})` : ''}`, r.backend, r.secondsPerIter.toFixed(3), r.bestSecondsPerIter?.toFixed(3) ?? '',
    r.cpuSecondsPerIter?.toFixed(3) ?? '',
    r.gflopPerIter.toFixed(1), gflops.toFixed(1), pct(gflops, peakGflops), perCpu?.toFixed(1) ?? '', perCpu ? pct(perCpu, peakPerCpu) : '',
    r.peakRssMB.toFixed(0), r.load1?.toFixed(1) ?? '',
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`convlab benchmarks, ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ` +
  `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (peakGflops) {
  console.log(`measured FMA peak: ${peakGflops.toFixed(1)} GFLOP/s wall (sgemm, ${threads} threads), ` +
    `${peakPerCpu?.toFixed(1) ?? '?'} GFLOP per CPU-second`);
}
console.log(fmt(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(fmt(r));
if (values.json) {
  mkdirSync(dirname(values.json), { recursive: true });
  writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), peakGflops, results }, null, 2));
}
