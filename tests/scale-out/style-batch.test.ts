/**
 * Batch stylization (`style.batch`) on the Redis driver, against a real redis-server on 127.0.0.1 with two
 * convlab-worker processes: 5 generated frames, --temporal in groups of 2 (3 shards), give frames
 * byte-identical to the embedded run of the same options; the run's progress comes from the queue's events;
 * the studio on the same queue reports the Redis driver and its workers at /api/health.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, saveImage } from '@convlab/core';
import { createRedisQueue, type RedisJobQueue } from '@convlab/jobs/redis';
import type { JobProgress } from '@convlab/jobs/kind';
import { frameName, runBatchStylize, type BatchResult } from '@convlab/style/batch';
import { redisSkipReason, startRedis, startWorker, stopAll, until } from './redis-helpers.js';

const skip = redisSkipReason();
const STYLE = fileURLToPath(new URL('../../assets/style/great_wave.jpg', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let url = '';
let dir = '';
let backend = '';
let queue: RedisJobQueue;

test.before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'convlab-style-batch-'));
  ({ url } = await startRedis());
  backend = (await initEngine({ log: false })).backend;
  for (let i = 0; i < 2; i++) startWorker(url, ['--runs', join(dir, 'runs'), '--backend', backend, '--lock-ms', '8000']);
  queue = await createRedisQueue({ url, runsDir: join(dir, 'runs'), backoffMs: 500 });
  await until('two workers', async () => ((await queue.workers()).length === 2 ? true : undefined), 120_000, 500);
  for (let i = 0; i < 5; i++) {
    const data = new Uint8Array(96 * 80 * 3);
    for (let p = 0; p < 96 * 80; p++) {
      const x = p % 96;
      const y = Math.floor(p / 96);
      const sq = Math.abs(x - 20 - i * 12) < 10 && Math.abs(y - 40) < 10;
      data[p * 3] = sq ? 250 : (x * 2) % 256;
      data[p * 3 + 1] = sq ? 30 : (y * 3) % 256;
      data[p * 3 + 2] = sq ? 30 : ((x + y) * 2) % 256;
    }
    await saveImage({ width: 96, height: 80, data }, join(dir, 'frames', `shot-${i}.png`));
  }
});

test.after.always(async () => {
  await queue?.close().catch(() => undefined);
  await stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const options = (out: string) => ({ content: join(dir, 'frames'), style: [STYLE], out, backbone: 'random_multiscale' as const, size: 80, iterations: 2, seed: 9, temporal: true, framesPerJob: 2, backend: backend as 'cpu' });

(skip ? test.skip : test.serial)('style.batch across 2 workers: frames byte-identical to the embedded run, progress from the queue events', async (t) => {
  const embedded = await runBatchStylize(options(join(dir, 'embedded')));
  t.is(embedded.frames, 5);
  const progress: JobProgress[] = [];
  const id = 'style-batch-test';
  const unsubscribe = queue.subscribe((e) => e.type === 'progress' && progress.push(e.progress), { id });
  const submitted = await queue.submit('style.batch', options(join(dir, 'redis')), { id });
  // A worker may take the run before submit() reads it back: queued or already running.
  t.true(['queued', 'running'].includes(submitted.status), submitted.status);
  const early = await queue.items(id);
  t.is(early.total, 5);
  t.true(early.done >= 0 && early.done <= 5);
  const info = await queue.wait(id);
  unsubscribe();
  t.is(info.status, 'done', JSON.stringify(info.error));
  const result = info.result as BatchResult;
  t.deepEqual(result.files, [1, 2, 3, 4, 5].map(frameName));
  for (let i = 1; i <= 5; i++) t.deepEqual(readFileSync(join(dir, 'redis', frameName(i))), readFileSync(join(dir, 'embedded', frameName(i))), `frame ${i}`);
  const record = JSON.parse(readFileSync(join(dir, 'redis', 'run.json'), 'utf8')) as { extra: { frames: { init: string }[] } };
  t.deepEqual(record.extra.frames.map((f) => f.init), ['content', frameName(1), 'content', frameName(3), 'content']);
  t.true(progress.some((p) => p.total === 5 && p.done === 5), 'the run reached 5 of 5 frames through the queue events');
  t.deepEqual(await queue.items(id), { done: 5, total: 5 });
  // Both workers took part or one did all three groups: either way each group ran once and is stored.
  t.is((await queue.get(id))?.status, 'done');
});

(skip ? test.skip : test.serial)('the studio on the same Redis queue reports the driver and its workers', async (t) => {
  const { createStudio } = await import('../../apps/studio/src/server/index.js');
  const studio = await createStudio({ root: ROOT, runsDir: join(dir, 'runs'), port: 0, redisUrl: url, demo: false, buildWeb: false });
  try {
    const health = (await (await fetch(`${studio.url}/api/health`)).json()) as { queue: { driver: string; url: string; workers: { pid: number }[] } };
    t.is(health.queue.driver, 'redis');
    t.is(health.queue.url, url);
    t.is(health.queue.workers.length, 2);
  } finally {
    await studio.close();
  }
});
