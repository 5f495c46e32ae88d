/**
 * Deconvnet app benchmark: top-9 scan throughput (images/s, decode + forward + per-channel maxima +
 * cache write) and milliseconds per attribution map for each method, per backend. Each backend runs
 * in its own child process (installing native kernels changes the cpu backend).
 *
 *   npx tsx --conditions=@convlab/source tools/bench/deconv.ts [--backends native,wasm,cpu]
 *     [--model mobilenet_v2] [--layer block_6_expand_relu] [--unit-layer block_13_expand_relu]
 *     [--runs 3] [--scan-images 56] [--json out/bench/deconv.json]
 *
 * Scan images: the bundled photos (assets/content) with flips and zooms, written to a temporary folder.
 * Maps: mobilenet_v2 at 224x224 on assets/content/dog.jpg, a unit target (argmax position) and a class
 * target; median of --runs after one warm-up. SmoothGrad uses 10 samples here (25 by default).
 * The machine may be shared: the JSON records the load average and process CPU time next to wall time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, loadImage, saveImage, writeJsonAtomic } from '@convlab/core';
import { loadModel } from '@convlab/models';
import { augmentPhoto, collectImageFiles, createMethod, loadFitted, METHOD_NAMES, runTop9, type Target } from '@convlab/visualize';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'native,wasm,cpu' },
    backend: { type: 'string' },
    model: { type: 'string', default: 'mobilenet_v2' },
    layer: { type: 'string', default: 'block_6_expand_relu' },
    'unit-layer': { type: 'string', default: 'block_13_expand_relu' },
    runs: { type: 'string', default: '3' },
    'scan-images': { type: 'string', default: '56' },
    json: { type: 'string', default: 'out/bench/deconv.json' },
  },
});

interface MapRow {
  method: string;
  target: string;
  /** Median wall-clock ms per map. */
  ms: number;
  /** Median process CPU ms per map (all threads): on a shared, loaded machine wall time overstates the cost. */
  cpuMs: number;
}
interface BackendResult {
  backend: string;
  detail: string;
  scan: { images: number; imagesPerSecond: number; cpuMsPerImage: number; layer: string; batch: number };
  maps: MapRow[];
  load1: number;
  cpuSeconds: number;
  wallSeconds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function child(backend: string): Promise<BackendResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const engine = await initEngine({ backend, log: false });
  const net = await loadModel(values.model);
  const size = net.inputSize;
  const slow = backend === 'cpu';

  // Scan throughput.
  const dir = await mkdtemp(join(tmpdir(), 'bench-deconv-'));
  const photos = await collectImageFiles(join(root, 'assets/content'));
  let n = 0;
  const want = slow ? 16 : Number(values['scan-images']);
  for (let round = 0; n < want; round++) {
    for (const p of photos) {
      for (const a of await augmentPhoto(await loadImage(p), size[0])) {
        if (n >= want) break;
        await saveImage(round ? { ...a.image, data: a.image.data.map((v) => 255 - v) } : a.image, join(dir, 'images', `${n++}.png`));
      }
    }
  }
  await mkdir(join(dir, 'out'), { recursive: true });
  // Warm-up on a copy, then the timed scan (a fresh cache).
  await runTop9(net, { images: join(dir, 'images'), layer: values.layer, units: [0], out: join(dir, 'warm'), unitImages: false });
  const scanCpu0 = process.cpuUsage();
  const scan = await runTop9(net, { images: join(dir, 'images'), layer: values.layer, units: [0], out: join(dir, 'out'), unitImages: false });
  const scanCpu = process.cpuUsage(scanCpu0);
  // The render step of runTop9 is included in the CPU time; the scan's share is the wall-time share.
  const scanShare = scan.scanSeconds / (scan.scanSeconds + scan.renderSeconds);
  const cpuMsPerImage = ((scanCpu.user + scanCpu.system) / 1000) * scanShare / Math.max(1, scan.scanned);
  await rm(dir, { recursive: true, force: true });

  // Maps.
  const image = await loadFitted(join(root, 'assets/content/dog.jpg'), size);
  const runs = slow ? 1 : Number(values.runs);
  const targets: [string, Target][] = [
    [`${values['unit-layer']} unit 100`, { layer: values['unit-layer'], unit: 100 }],
    ['class 2 (Neutral) logit', { classIndex: 2 }],
  ];
  const maps: MapRow[] = [];
  for (const name of METHOD_NAMES) {
    const method = createMethod(name, net, { smoothgrad: { samples: 10 } });
    for (const [label, target] of targets) {
      await method.attribute(image, target); // warm-up
      const times: number[] = [];
      const cpus: number[] = [];
      for (let r = 0; r < runs; r++) {
        const c0 = process.cpuUsage();
        times.push((await method.attribute(image, target)).ms);
        const c = process.cpuUsage(c0);
        cpus.push((c.user + c.system) / 1000);
      }
      maps.push({ method: name, target: label, ms: median(times), cpuMs: median(cpus) });
      process.stderr.write(`${backend} ${name} ${label}: ${median(times).toFixed(0)} ms wall, ${median(cpus).toFixed(0)} ms CPU (load ${loadavg()[0].toFixed(1)})\n`);
    }
  }
  net.dispose();
  const cpu = process.cpuUsage(cpu0);
  return {
    backend,
    detail: engine.detail,
    scan: { images: scan.scanned, imagesPerSecond: scan.imagesPerSecond, cpuMsPerImage, layer: values.layer, batch: 8 },
    maps,
    load1: loadavg()[0],
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

if (values.backend) {
  const result = await child(values.backend);
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\n');
} else {
  const results: BackendResult[] = [];
  for (const backend of values.backends.split(',').map((s) => s.trim())) {
    const passOn = ['model', 'layer', 'unit-layer', 'runs', 'scan-images'].flatMap((k) => ['--' + k, String(values[k as keyof typeof values])]);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@convlab/source', fileURLToPath(import.meta.url), '--backend', backend, ...passOn], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) {
      process.stderr.write(`${backend}: no result (exit ${r.status}); skipped\n`);
      continue;
    }
    results.push(JSON.parse(line.slice(7)));
  }
  if (results.length === 0) throw new Error('no backend produced a result');
  const header = `| method | target | ${results.map((r) => r.backend).join(' | ')} |`;
  const lines = [header, `|---|---|${results.map(() => '---:').join('|')}|`];
  for (const row of results[0]?.maps ?? []) {
    lines.push(
      `| ${row.method} | ${row.target} | ${results
        .map((r) => {
          const m = r.maps.find((x) => x.method === row.method && x.target === row.target);
          return m ? `${m.ms.toFixed(0)} ms (${m.cpuMs.toFixed(0)} CPU ms)` : '-';
        })
        .join(' | ')} |`,
    );
  }
  lines.push(`| top-9 scan (${values.layer}, batch 8) | images/s (CPU ms/image) | ${results.map((r) => `${r.scan.imagesPerSecond.toFixed(1)} (${r.scan.cpuMsPerImage.toFixed(0)})`).join(' | ')} |`);
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(results.map((r) => `${r.backend}: ${r.detail}; load average ${r.load1.toFixed(1)}; ${r.cpuSeconds.toFixed(0)} CPU s in ${r.wallSeconds.toFixed(0)} s wall`).join('\n') + '\n');
  await writeJsonAtomic(values.json, { model: values.model, results, table: lines.join('\n') });
}
