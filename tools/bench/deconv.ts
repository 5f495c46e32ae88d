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
import { augmentPhoto, collectImageFiles, createMethod, loadFitted, METHOD_NAMES, runTop9, type Target } from '../../apps/deconvnet/src/index.js';

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
  ms: number;
}
interface BackendResult {
  backend: string;
  detail: string;
  scan: { images: number; imagesPerSecond: number; layer: string; batch: number };
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
  await runTop9({ model: net, images: join(dir, 'images'), layer: values.layer, units: [0], outDir: join(dir, 'warm'), unitImages: false });
  const scan = await runTop9({ model: net, images: join(dir, 'images'), layer: values.layer, units: [0], outDir: join(dir, 'out'), unitImages: false });
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
      for (let r = 0; r < runs; r++) times.push((await method.attribute(image, target)).ms);
      maps.push({ method: name, target: label, ms: median(times) });
      process.stderr.write(`${backend} ${name} ${label}: ${median(times).toFixed(0)} ms\n`);
    }
  }
  net.dispose();
  const cpu = process.cpuUsage(cpu0);
  return {
    backend,
    detail: engine.detail,
    scan: { images: scan.scanned, imagesPerSecond: scan.imagesPerSecond, layer: values.layer, batch: 8 },
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
    lines.push(`| ${row.method} | ${row.target} | ${results.map((r) => `${r.maps.find((m) => m.method === row.method && m.target === row.target)?.ms.toFixed(0)} ms`).join(' | ')} |`);
  }
  lines.push(`| top-9 scan (${values.layer}, batch 8) | images/s | ${results.map((r) => r.scan.imagesPerSecond.toFixed(1)).join(' | ')} |`);
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(results.map((r) => `${r.backend}: ${r.detail}; load average ${r.load1.toFixed(1)}; ${r.cpuSeconds.toFixed(0)} CPU s in ${r.wallSeconds.toFixed(0)} s wall`).join('\n') + '\n');
  await writeJsonAtomic(values.json, { model: values.model, results, table: lines.join('\n') });
}
