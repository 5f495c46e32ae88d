/**
 * The Redis driver against a real redis-server on 127.0.0.1 (started here on a free port, stopped after) with
 * three convlab-worker processes:
 * - a top-9 scan of a few hundred generated images, one worker SIGKILLed mid-shard: the merged figure JSON
 *   equals the single-process run's, the killed worker's shard was redone by another worker;
 * - caption feature extraction the same way: the assembled cache is byte-identical to one extraction;
 * - an unreadable image is reported and skipped (not retried); a duplicate submission adds nothing; a cancel
 *   stops every worker's part of the run and a resubmission resumes from the finished shards.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { initEngine, saveImage } from '@convlab/core';
import { createRedisQueue, type RedisJobQueue } from '@convlab/jobs/redis';
import { keysFor } from '@convlab/jobs/redis';
import { redisSkipReason, startRedis, startWorker, stopAll, until, type WorkerProcess } from './redis-helpers.js';

const skip = redisSkipReason();
const LOCK_MS = '8000';

let url = '';
let dir = '';
let backend = '';
let queue: RedisJobQueue;
let redis: Redis;
const workers: WorkerProcess[] = [];
const keys = keysFor('convlab');

test.before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'convlab-redis-'));
  ({ url } = await startRedis());
  backend = (await initEngine({ log: false })).backend;
  for (let i = 0; i < 3; i++) workers.push(startWorker(url, ['--runs', join(dir, 'runs'), '--lock-ms', LOCK_MS, '--backend', backend]));
  queue = await createRedisQueue({ url, runsDir: join(dir, 'runs'), backoffMs: 500 });
  redis = new Redis(url);
  await until('three workers', async () => ((await queue.workers()).length === 3 ? true : undefined), 120_000, 500);
});

test.after.always(async () => {
  await queue?.close().catch(() => undefined);
  redis?.disconnect();
  await stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** 64x64 images with structure; image `broken` is not an image at all. */
async function topImages(folder: string, n: number, broken: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const name = join(folder, `img${String(i).padStart(4, '0')}.png`);
    if (i === broken) {
      await writeFile(name, 'not a png');
      continue;
    }
    const data = new Uint8Array(64 * 64 * 3);
    for (let p = 0; p < 64 * 64; p++) {
      const y = Math.floor(p / 64);
      const x = p % 64;
      data[p * 3] = (x * ((i % 7) + 1) * 9 + y * 3) % 256;
      data[p * 3 + 1] = (y * ((i % 5) + 2) * 11 + i * 17) % 256;
      data[p * 3 + 2] = ((x + y) * ((i % 3) + 1) * 5 + i * 29) % 256;
      if (Math.abs(y - ((i * 13) % 56) - 4) < 5 && Math.abs(x - ((i * 29) % 56) - 4) < 5) data[p * 3 + (i % 3)] = 255;
    }
    await saveImage({ width: 64, height: 64, data }, name);
  }
}

/** SIGKILL a worker that is in the middle of a shard of `run` (has taken it, not finished it); returns its pid and shard. */
async function killMidShard(run: string): Promise<{ pid: number; shard: string }> {
  return until(
    'a worker in the middle of a shard',
    async () => {
      const [owners, results, done] = await Promise.all([redis.hgetall(keys.owners(run)), redis.hgetall(keys.results(run)), redis.hgetall(keys.done(run))]);
      for (const [shard, owner] of Object.entries(owners)) {
        if (results[shard] !== undefined || !(Number(done[shard] ?? 0) > 0)) continue;
        const pid = Number(owner.split(':').pop());
        const w = workers.find((x) => x.pid === pid && x.proc.exitCode === null);
        if (!w) continue;
        w.proc.kill('SIGKILL');
        return { pid, shard };
      }
      return undefined;
    },
    240_000,
    20,
  );
}

const bullQueue = () => new Queue('convlab', { connection: { url } as never, prefix: 'convlab:bull' });

test.serial('top-9 over 300 images on three workers, one SIGKILLed mid-shard, equals the single-process figure', async (t) => {
  if (skip) return t.log(skip);
  const images = join(dir, 'top9-images');
  await topImages(images, 300, 137);
  // Shards of 100 images (13 batches each): with the native kernels a 24-image shard took about as long as one
  // 50 ms poll, and the test could miss every shard in the middle (CI timed out waiting for one).
  const input = { images, layer: 'block_1_expand_relu', units: [0, 5, 17, 40, 95], size: [64, 64], batch: 8, shardSize: 100, backend };
  await queue.submit('top9.run', input, { id: 'top9-a' });
  const killed = await killMidShard('top9-a');
  t.log(`killed worker ${killed.pid} in shard ${killed.shard}`);
  workers.push(startWorker(url, ['--runs', join(dir, 'runs'), '--lock-ms', LOCK_MS, '--backend', backend]));
  const info = await queue.wait('top9-a');
  t.is(info.status, 'done', JSON.stringify(info.error));
  const owner = await redis.hget(keys.owners('top9-a'), killed.shard);
  t.not(Number(owner!.split(':').pop()), killed.pid, 'the killed shard was finished by another worker');

  const result = info.result as { merged: { shards: number[]; scanned: number; failed: { file: string; error: string }[] }; files: string[] };
  t.is(result.merged.shards.length, 3); // 300 images in shards of 100
  t.is(result.merged.scanned, 299);
  t.deepEqual(result.merged.failed.map((f) => f.file), [join(images, 'img0137.png')]);

  // The single-process run of the same options, here.
  const { loadModel } = await import('@convlab/models');
  const { runTop9 } = await import('@convlab/visualize');
  const model = await loadModel('mobilenet_v2');
  const single = await runTop9(model, { images, layer: input.layer, units: input.units, size: [64, 64], batch: 8, out: join(dir, 'top9-single') });
  model.dispose();
  const jsonName = 'top9-block_1_expand_relu.json';
  t.true(result.files.includes(jsonName));
  const distributed = JSON.parse(readFileSync((await queue.filePath('top9-a', jsonName))!, 'utf8'));
  const reference = JSON.parse(readFileSync(join(dir, 'top9-single', jsonName), 'utf8'));
  t.deepEqual(distributed.extra.units, reference.extra.units);
  t.deepEqual(distributed.extra.scan.failed, reference.extra.scan.failed);
  t.is(single.tops[0].entries.length, 9);
  for (const u of input.units) {
    const png = `top9-block_1_expand_relu-unit${u}.png`;
    t.true(readFileSync((await queue.filePath('top9-a', png))!).equals(readFileSync(join(dir, 'top9-single', png))), png);
  }

  // Duplicate submission: the same run back, nothing added to the queue.
  const q = bullQueue();
  const before = await q.getJobCounts();
  const again = await queue.submit('top9.run', input, { id: 'top9-a' });
  t.is(again.status, 'done');
  t.deepEqual(await q.getJobCounts(), before);
  await t.throwsAsync(queue.submit('top9.run', { ...input, k: 4 }, { id: 'top9-a' }), { message: /submitted with other options/ });
  await q.close();
});

test.serial('caption feature extraction on the workers, one SIGKILLed mid-shard: byte-identical cache', async (t) => {
  if (skip) return t.log(skip);
  const { writeSyntheticDataset, runExtract } = await import('@convlab/caption');
  const data = join(dir, 'synth');
  const json = (await writeSyntheticDataset(data, { count: 240, size: 64 }))!;
  await writeFile(join(data, 'images', 'scene_00050.png'), 'truncated');
  const options = { karpathy: json, images: join(data, 'images'), model: 'mobilenet_v2' as const, layer: 'block_3_expand_relu', size: 64, grid: true, batch: 8, backend: backend as 'native' };
  await queue.submit('caption.extract', { ...options, features: join(dir, 'features-redis'), shardSize: 80 }, { id: 'extract-a' });
  const killed = await killMidShard('extract-a');
  t.log(`killed worker ${killed.pid} in shard ${killed.shard}`);
  workers.push(startWorker(url, ['--runs', join(dir, 'runs'), '--lock-ms', LOCK_MS, '--backend', backend]));
  const info = await queue.wait('extract-a');
  t.is(info.status, 'done', JSON.stringify(info.error));
  const result = info.result as { images: number; shards: number; failed: { image: string }[] };
  t.is(result.images, 240);
  t.is(result.shards, 3);
  t.deepEqual(result.failed.map((f) => f.image), ['scene_00050.png']);

  await runExtract({ ...options, features: join(dir, 'features-single') });
  for (const f of ['pooled.f32', 'grid.f16']) {
    t.true(readFileSync(join(dir, 'features-redis', f)).equals(readFileSync(join(dir, 'features-single', f))), f);
  }
  const strip = (p: string) => readFileSync(p, 'utf8').replace(/"seconds": [0-9.e+-]+/, '"seconds": 0');
  t.is(strip(join(dir, 'features-redis', 'index.json')), strip(join(dir, 'features-single', 'index.json')));
  t.false(existsSync(join(dir, 'features-redis', '.shards')));
});

test.serial('cancel stops the run on every worker; the same id resumes from the finished shards', async (t) => {
  if (skip) return t.log(skip);
  const images = join(dir, 'top9-images'); // written by the first test
  const input = { images, layer: 'block_1_expand_relu', units: [3, 7], size: [64, 64], batch: 8, shardSize: 8, backend, render: false };
  const seen: string[] = [];
  const off = queue.subscribe((e) => seen.push(e.type === 'status' ? `status ${e.job.status}` : e.type), { id: 'top9-c' });
  await queue.submit('top9.run', input, { id: 'top9-c' });
  await until('two finished shards', async () => ((await redis.hlen(keys.results('top9-c'))) >= 2 ? true : undefined), 120_000, 50);
  const cancelled = await queue.cancel('top9-c');
  t.is(cancelled?.status, 'cancelled');
  const q = bullQueue();
  // Bounded: within a few seconds nothing of the run is active or waiting on any worker.
  await until(
    'the run to stop everywhere',
    async () => {
      const counts = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0) ? true : undefined;
    },
    30_000,
    200,
  );
  const stored = await redis.hlen(keys.results('top9-c'));
  t.true(stored >= 2 && stored < 38, `${stored} shards finished before the cancel`);
  t.is((await queue.get('top9-c'))?.status, 'cancelled');
  t.true(seen.includes('status cancelled'));
  await new Promise((r) => setTimeout(r, 1500));
  t.is(await redis.hlen(keys.results('top9-c')), stored, 'no shard finished after the cancel');

  // Resubmitted: the stored shards are not redone.
  const outputs = () => workers.map((w) => w.output()).join('');
  const reusedBefore = (outputs().match(/top9-c\.s\d+: result already stored/g) ?? []).length;
  await queue.submit('top9.run', input, { id: 'top9-c' });
  const info = await queue.wait('top9-c');
  off();
  t.is(info.status, 'done', JSON.stringify(info.error));
  const reused = (outputs().match(/top9-c\.s\d+: result already stored/g) ?? []).length - reusedBefore;
  t.is(reused, stored);
  const merged = (info.result as { merged: { tops: unknown[]; scanned: number } }).merged;
  t.is(merged.scanned, 299);
  await q.close();
});

test.serial('workers report host and backend, and stop cleanly on SIGTERM', async (t) => {
  if (skip) return t.log(skip);
  const live = await queue.workers();
  t.true(live.length >= 3);
  for (const w of live) t.is(w.backend, backend);
  for (const w of workers.filter((x) => x.proc.exitCode === null && x.proc.signalCode === null)) {
    t.regex(w.output(), new RegExp(`convlab-worker on \\S+ \\(pid ${w.pid}\\), backend ${backend}`));
    w.proc.kill('SIGTERM');
    const code = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
    t.not(code, 'timeout');
  }
  await until('workers gone from Redis', async () => ((await queue.workers()).length === 1 ? true : undefined), 5_000).catch(() => undefined);
  // The SIGKILLed ones expire (30 s); the stopped ones removed themselves.
  const left = (await queue.workers()).filter((w) => workers.some((x) => x.pid === w.pid && x.proc.signalCode !== 'SIGKILL'));
  t.deepEqual(left, []);
});
