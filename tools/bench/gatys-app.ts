/**
 * The style-transfer app against its kernels and the machine: seconds per Gatys iteration of the real app
 * (`stylize()`, Adam, 512 px, VGG19 with seeded random weights and the default InceptionV3 trunk), beside the
 * kernel-level VGG19 iteration of tools/bench/gatys.ts (frozen layers, hand-written losses), PyTorch's
 * iteration of the same VGG19 work (tools/bench/gatys_torch.py, when a Python with torch is found), and the
 * 2-core sgemm peak measured in the same run (tools/bench/peak.ts). Each row runs in its own process.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/gatys-app.ts [--size 512] [--iters 4] [--backend native]
 *     [--rows app-vgg19,app-inception_v3,kernel-vgg19,pytorch-vgg19] [--json out/bench/gatys-app.json]
 *   npx tsx --conditions=@convlab/source tools/bench/gatys-app.ts --one vgg19 --profile   (kernel times of the app row)
 *
 * GFLOP per iteration are counted analytically (convolutions forward + input gradient, Gram products forward
 * + gradient; element-wise work not counted) with the same rule for every row, so "% of peak" compares them.
 * Wall time depends on the machine's load (printed); CPU time / threads is the steadier figure on a shared
 * machine. CONVLAB_PYTHON names the Python to use (default: /usr/bin/python3, then python3).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './index-util.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512' },
    iters: { type: 'string', default: '4' },
    backend: { type: 'string', default: 'native' },
    rows: { type: 'string', default: 'app-vgg19,app-inception_v3,kernel-vgg19,pytorch-vgg19' },
    json: { type: 'string' },
    one: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // 0: the steady-state iteration. The app's default (1) also computes the content targets of each new shifted
    // view once (up to 8 extra forward passes per stage), which a run of a few iterations would count each time.
    jitter: { type: 'string', default: '0' },
  },
});
const size = Number(values.size);
const iters = Number(values.iters);

/** One app-level row in this process: stylize() with Adam, seconds per iteration from the progress callbacks. */
async function appRow(backbone: 'vgg19' | 'inception_v3'): Promise<BenchResult> {
  const { tf, initEngine } = await import('@convlab/core');
  const { stylize, parseStylizeOptions } = await import('@convlab/style');
  const { gatysFlops, buildVgg19 } = await import('./gatys.js');
  const warmup = 2;
  const stamps: number[] = [];
  const c = { start: process.cpuUsage(), at: [] as NodeJS.CpuUsage[], faults: [] as number[], gc: [] as number[] };
  // Main-thread GC pauses (V8's performance entries), summed per iteration.
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const options = {
    content: join(ROOT, 'assets/content/tubingen.jpg'),
    style: [join(ROOT, 'assets/style/the_scream.jpg')],
    backbone,
    weights: backbone === 'vgg19' ? 'random' : 'default',
    optimizer: 'adam' as const,
    iterations: warmup + iters,
    size,
    backend: values.backend as 'native' | 'wasm' | 'cpu',
    jitter: Number(values.jitter),
  };
  const run = () => stylize(options, (p) => {
    if (p.done === 0) return;
    stamps.push(performance.now());
    c.at.push(process.cpuUsage());
    c.faults.push(process.resourceUsage().minorPageFault);
    c.gc.push(gcMs);
    if (process.env.BENCH_GC_EACH) (globalThis as { gc?: () => void }).gc?.();
  });
  let r: Awaited<ReturnType<typeof stylize>>;
  if (values.profile) {
    // tf.profile's kernel times over the whole run (warm-up included), per iteration: where the time goes.
    const { kernelTotals } = await import('./index-util.js');
    let result: Awaited<ReturnType<typeof stylize>> | undefined;
    const info = await tf.profile(async () => {
      result = await run();
      return [];
    });
    r = result!;
    const n = warmup + iters;
    const totals = kernelTotals(info.kernels);
    const all = totals.reduce((a, [, e]) => a + e.ms, 0);
    process.stderr.write(`kernel ms per iteration (${n} iterations profiled, ${(all / n).toFixed(0)} ms in kernels):\n`);
    for (const [name, e] of totals.slice(0, 25)) {
      process.stderr.write(`  ${name.padEnd(28)} ${(e.ms / n).toFixed(1).padStart(8)} ms ${(100 * e.ms / all).toFixed(1).padStart(5)} %  ${(e.calls / n).toFixed(1)} calls\n`);
    }
  } else r = await run();
  const engine = await initEngine({ backend: values.backend, log: false });
  const walls = stamps.slice(warmup).map((t, i) => (t - stamps[warmup - 1 + i]) / 1000);
  const cpus = c.at.slice(warmup).map((u, i) => (u.user + u.system - c.at[warmup - 1 + i].user - c.at[warmup - 1 + i].system) / 1e6);
  const median = (a: number[]) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];
  // Minor page faults per iteration: fresh pages the process touched (each costs microseconds on a VM).
  const faults = c.faults.slice(warmup).map((f, i) => f - c.faults[warmup - 1 + i]);
  gcObserver.disconnect();
  const gcPause = c.gc.slice(warmup).map((g, i) => g - c.gc[warmup - 1 + i]);
  const { width, height } = r.image;
  // The network sees the image padded by `pad` on every side (reflection, against the border artifacts): the
  // work per iteration is counted at that size.
  const pad = parseStylizeOptions(options).pad;
  const [netH, netW] = [height + 2 * pad, width + 2 * pad];
  let gflop: number;
  if (backbone === 'vgg19') {
    // The same layers and losses as the kernel-level row (conv1_1..conv5_1, content conv4_2), at the network input's area.
    const { convs } = buildVgg19(Math.round(Math.sqrt(netW * netH)));
    gflop = gatysFlops(convs) / 1e9;
    tf.dispose(convs.flatMap((v) => [v.w, v.b]));
  } else {
    gflop = await inceptionFlops(parseStylizeOptions(options), [netH, netW]);
  }
  return {
    bench: `app ${backbone}`, backend: engine.backend, config: `${width}x${height} px (network input ${netW}x${netH}), Adam, jitter ${values.jitter}`, secondsPerIter: median(walls), bestSecondsPerIter: Math.min(...walls),
    cpuSecondsPerIter: median(cpus), gflopPerIter: gflop, peakRssMB: process.resourceUsage().maxRSS / 1024, minorFaultsPerIter: median(faults), gcPauseMsPerIter: median(gcPause), iterations: iters, engineDetail: engine.detail, load1: loadavg()[0],
    note: backbone === 'vgg19' ? 'random weights, average pooling (their default)' : 'default (offline) weights',
  };
}

/** Conv FLOPs (forward + input gradient) up to the deepest loss layer of the InceptionV3 trunk, plus the Gram products. */
async function inceptionFlops(o: { contentLayers: string[]; styleLayers: string[]; backbone: string }, hw: [number, number]): Promise<number> {
  const { loadModel } = await import('@convlab/models');
  const net = await loadModel(o.backbone, { weights: 'random', seed: 1, includeHead: false });
  const names = net.layers.map((l) => l.name);
  const deepest = Math.max(...[...o.contentLayers, ...o.styleLayers].map((l) => names.indexOf(net.resolveLayer(l))));
  let flops = 0;
  for (const layer of net.model.layers) {
    if (names.indexOf(layer.name) > deepest) continue;
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName));
    if (!kernel || kernel.shape.length !== 4) continue;
    const k = kernel.shape as number[];
    const out = net.outputShapeFor(layer.name, hw);
    flops += 2 * 2 * out[0] * out[1] * k[0] * k[1] * k[2] * k[3];
  }
  for (const l of o.styleLayers) {
    const s = net.outputShapeFor(net.resolveLayer(l), hw);
    flops += 3 * 2 * s[0] * s[1] * s[2] * s[2];
  }
  net.dispose();
  return flops / 1e9;
}

function benchLine(out: string): BenchResult {
  const line = out.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`no BENCH line in:\n${out.slice(-2000)}`);
  return JSON.parse(line.slice(6)) as BenchResult;
}

function tsx(script: string, args: string[]): BenchResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--conditions=@convlab/source', join(HERE, script), ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  return benchLine(out);
}

function python(): string | undefined {
  for (const p of [process.env.CONVLAB_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    if (spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return p;
  }
  return undefined;
}

if (values.one) {
  const r = await appRow(values.one as 'vgg19' | 'inception_v3');
  console.log(`BENCH ${JSON.stringify(r)}`);
} else {
  // The peak drifts by 10 % between minutes on a shared VM: measured before and after the rows, the higher one is
  // the roofline (the conservative choice for "% of peak").
  const peaks = [tsx('peak.ts', ['--backend', 'native', '--size', '4096'])];
  const rows: BenchResult[] = [];
  for (const row of String(values.rows).split(',')) {
    process.stderr.write(`-- ${row}\n`);
    if (row.startsWith('app-')) rows.push(tsx('gatys-app.ts', ['--one', row.slice(4), '--size', String(size), '--iters', String(iters), '--backend', String(values.backend)]));
    else if (row === 'kernel-vgg19') rows.push(tsx('gatys.ts', ['--backend', String(values.backend), '--size', String(size), '--iters', String(iters)]));
    else if (row === 'pytorch-vgg19') {
      const py = python();
      if (!py) {
        process.stderr.write('pytorch-vgg19: no Python with torch found (Debian: apt-get install python3-torch; or set CONVLAB_PYTHON)\n');
        continue;
      }
      rows.push(benchLine(execFileSync(py, [join(HERE, 'gatys_torch.py'), '--size', String(size), '--iters', String(iters)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })));
    } else throw new Error(`unknown row ${row}`);
  }
  peaks.push(tsx('peak.ts', ['--backend', 'native', '--size', '4096']));
  const rate = (p: BenchResult) => p.gflopPerIter / p.secondsPerIter;
  const peak = peaks.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const peakGflops = rate(peak);
  console.log(`\npeak measured before the rows ${rate(peaks[0]).toFixed(0)} GFLOP/s (${peaks[0].note}), after ${rate(peaks[1]).toFixed(0)} GFLOP/s (${peaks[1].note})`);
  const threads = Number(/(\d+) threads?/.exec(peak.engineDetail)?.[1] ?? 2);
  console.log(`sgemm peak (native, ${peak.engineDetail}): ${peakGflops.toFixed(0)} GFLOP/s, the higher of the two; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| row | backend | config | GFLOP/iter | s/iter (wall) | best | CPU s/iter | % of peak (wall) | % of peak (CPU / threads) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const pctWall = (100 * r.gflopPerIter) / r.secondsPerIter / peakGflops;
    const pctCpu = r.cpuSecondsPerIter ? (100 * r.gflopPerIter) / (r.cpuSecondsPerIter / threads) / peakGflops : NaN;
    console.log(`| ${r.bench}${r.note ? ` (${r.note})` : ''} | ${r.backend} | ${r.config} | ${r.gflopPerIter.toFixed(0)} | ${r.secondsPerIter.toFixed(2)} | ${r.bestSecondsPerIter?.toFixed(2) ?? ''} | ${r.cpuSecondsPerIter?.toFixed(2) ?? ''} | ${pctWall.toFixed(0)}% | ${pctCpu.toFixed(0)}% |`);
  }
  const app = rows.find((r) => r.bench === 'app vgg19');
  const torch = rows.find((r) => r.bench === 'gatys-pytorch');
  const kernel = rows.find((r) => r.bench === 'gatys');
  // Rows may differ in image shape (the app keeps the photo's aspect): compare throughput, GFLOP per second.
  const throughput = (r: BenchResult, cpu = false) => r.gflopPerIter / (cpu ? (r.cpuSecondsPerIter ?? NaN) : r.secondsPerIter);
  if (app && torch) console.log(`app VGG19 vs PyTorch (same machine, same run): ${(throughput(app) / throughput(torch)).toFixed(2)}x PyTorch's GFLOP/s (wall), ${(throughput(app, true) / throughput(torch, true)).toFixed(2)}x (CPU)`);
  if (app && kernel) console.log(`app VGG19 vs kernel-level VGG19: ${(throughput(app) / throughput(kernel)).toFixed(2)}x the kernel-level GFLOP/s (wall)`);
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, JSON.stringify({ peak, peaks, rows }, null, 2));
  }
}
