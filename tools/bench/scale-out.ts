/**
 * Scale-out throughput: the top-9 scan and caption feature extraction, single process and on 1, 2, 3 local
 * convlab-worker processes through a loopback redis-server; then the time ImageNet-val (50,000 images) and
 * COCO (123,287 images) would take on N machines at the measured per-worker rate. Prints tables; asserts
 * nothing (the machines these run on are shared: see the load column).
 *
 *   npx tsx --conditions=@convlab/source tools/bench/scale-out.ts [--images 240] [--size 224] [--workers 1,2,3]
 *
 * Each queued figure is wall time from submit to the merged result (model loading in each worker included),
 * and the steady per-worker rate from the workers' own shard timings without their first shard.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, saveImage } from '@convlab/core';
import { createRedisQueue } from '../../packages/jobs/src/redis/index.js';
import { startRedis, startWorker, stopAll, until, type WorkerProcess } from '../../tests/scale-out/redis-helpers.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('images', '240'));
const SIZE = Number(arg('size', '224'));
const WORKERS = arg('workers', '1,2,3').split(',').map(Number);
const SHARD = Number(arg('shard-size', '32'));
const LAYER = arg('layer', 'block_6_expand_relu');

interface Row {
  job: string;
  how: string;
  wall: number;
  rate: number;
  perWorker?: number;
  load: number;
}

async function images(dir: string): Promise<void> {
  for (let i = 0; i < N; i++) {
    const data = new Uint8Array(SIZE * SIZE * 3);
    for (let p = 0; p < SIZE * SIZE; p++) {
      const y = Math.floor(p / SIZE);
      const x = p % SIZE;
      data[p * 3] = (x * ((i % 7) + 1) + y * 3) % 256;
      data[p * 3 + 1] = (y * ((i % 5) + 2) + i * 17) % 256;
      data[p * 3 + 2] = ((x ^ y) * ((i % 3) + 1) + i * 29) % 256;
    }
    await saveImage({ width: SIZE, height: SIZE, data }, join(dir, `img${String(i).padStart(5, '0')}.png`));
  }
}

/** Steady per-worker rate: each worker's shards after its first, items over seconds, averaged over workers. */
function steadyRate(ws: WorkerProcess[]): number | undefined {
  const rates: number[] = [];
  for (const w of ws) {
    const shards = [...w.output().matchAll(/: (\d+) items in ([\d.]+) s/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const rest = shards.slice(1);
    const items = rest.reduce((n, s) => n + s[0], 0);
    const secs = rest.reduce((n, s) => n + s[1], 0);
    if (secs > 0) rates.push(items / secs);
  }
  return rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : undefined;
}

async function main(): Promise<void> {
  const engine = await initEngine({ log: false });
  const dir = await mkdtemp(join(tmpdir(), 'bench-scale-out-'));
  const rows: Row[] = [];
  try {
    await images(join(dir, 'images'));
    const { writeSyntheticDataset, runExtract } = await import('@convlab/caption');
    const json = (await writeSyntheticDataset(join(dir, 'synth'), { count: N, size: SIZE }))!;
    const { loadModel } = await import('@convlab/models');
    const { runTop9 } = await import('@convlab/visualize');

    // Single process.
    const model = await loadModel('mobilenet_v2');
    let t0 = performance.now();
    const single = await runTop9(model, { images: join(dir, 'images'), layer: LAYER, units: [0, 1, 2, 3], size: [SIZE, SIZE], batch: 8, unitImages: false, out: join(dir, 'single-top9') });
    rows.push({ job: 'top-9 scan', how: 'single process', wall: (performance.now() - t0) / 1000, rate: single.imagesPerSecond, load: loadavg()[0] });
    model.dispose();
    const extractOptions = { karpathy: json, images: join(dir, 'synth', 'images'), model: 'mobilenet_v2' as const, size: SIZE, batch: 8 };
    t0 = performance.now();
    const ex = await runExtract({ ...extractOptions, features: join(dir, 'single-features') });
    rows.push({ job: 'feature extraction', how: 'single process', wall: (performance.now() - t0) / 1000, rate: ex.imagesPerSecond, load: loadavg()[0] });

    const { url } = await startRedis();
    const queue = await createRedisQueue({ url, runsDir: join(dir, 'runs') });
    for (const count of WORKERS) {
      const ws = Array.from({ length: count }, () => startWorker(url, ['--runs', join(dir, 'runs'), '--backend', engine.backend]));
      await until(`${count} workers`, async () => ((await queue.workers()).length === count ? true : undefined), 180_000, 500);
      t0 = performance.now();
      await queue.submit('top9.run', { images: join(dir, 'images'), layer: LAYER, units: [0, 1, 2, 3], size: [SIZE, SIZE], batch: 8, shardSize: SHARD, render: false, backend: engine.backend }, { id: `bench-top9-${count}` });
      let info = await queue.wait(`bench-top9-${count}`);
      let wall = (performance.now() - t0) / 1000;
      if (info.status !== 'done') throw new Error(`top9 with ${count} workers: ${info.status} ${info.error?.message}`);
      rows.push({ job: 'top-9 scan', how: `${count} worker(s)`, wall, rate: N / wall, perWorker: steadyRate(ws), load: loadavg()[0] });
      const mark = ws.map((w) => w.output().length);
      t0 = performance.now();
      await queue.submit('caption.extract', { ...extractOptions, features: join(dir, `features-${count}`), shardSize: SHARD, backend: engine.backend }, { id: `bench-extract-${count}` });
      info = await queue.wait(`bench-extract-${count}`);
      wall = (performance.now() - t0) / 1000;
      if (info.status !== 'done') throw new Error(`extract with ${count} workers: ${info.status} ${info.error?.message}`);
      const after = ws.map((w, i) => ({ output: () => w.output().slice(mark[i]) }) as WorkerProcess);
      rows.push({ job: 'feature extraction', how: `${count} worker(s)`, wall, rate: N / wall, perWorker: steadyRate(after), load: loadavg()[0] });
      for (const w of ws) w.proc.kill('SIGTERM');
      await Promise.all(ws.map((w) => w.exited));
    }
    await queue.close();
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }

  const f = (x: number | undefined, d = 1) => (x === undefined ? '-' : x.toFixed(d));
  console.log(`\nScale-out on this machine: ${N} images at ${SIZE} px, MobileNetV2 (top-9 to ${LAYER}; extraction to out_relu, mean-pooled), backend ${engine.backend}, shards of ${SHARD}\n`);
  console.log('| job | run on | wall s | images/s (wall) | steady images/s per worker | load |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.job} | ${r.how} | ${f(r.wall)} | ${f(r.rate)} | ${f(r.perWorker)} | ${f(r.load, 2)} |`);
  const per = (job: string) => rows.find((r) => r.job === job && r.how === '1 worker(s)')?.perWorker ?? rows.find((r) => r.job === job && r.how === 'single process')!.rate;
  console.log('\nProjected hours at the measured one-worker rate, one worker per machine like this one (linear in machines: shards are independent; Redis traffic is a few kB per shard):\n');
  const machines = [1, 2, 4, 8, 16, 32];
  console.log(`| job | images | ${machines.map((m) => `${m} machine${m > 1 ? 's' : ''}`).join(' | ')} |`);
  console.log(`|---|---|${machines.map(() => '---').join('|')}|`);
  for (const [job, set, count] of [
    ['top-9 scan', 'ImageNet val', 50_000],
    ['feature extraction', 'COCO train+val 2014', 123_287],
    ['top-9 scan', 'COCO train+val 2014', 123_287],
    ['feature extraction', 'ImageNet val', 50_000],
  ] as const) {
    const r = per(job);
    console.log(`| ${job} (${f(r)} img/s/worker) | ${set} ${count.toLocaleString('en')} | ${machines.map((m) => f(count / (r * m) / 3600, 2)).join(' | ')} |`);
  }
}

await main();
