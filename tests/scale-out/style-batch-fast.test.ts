/**
 * Batch stylization in fast mode (`style.batch` with `net`) on the Redis driver, against a real redis-server on
 * 127.0.0.1 with two convlab-worker processes: 5 generated frames in groups of 2 (3 shards) through a tiny
 * random network given by its bundled name (each worker resolves it in its own CONVLAB_FAST_NETS_DIR), with
 * --temporal's moving average; the frames are byte-identical to the embedded run of the same options.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, saveImage } from '@convlab/core';
import { createRedisQueue, type RedisJobQueue } from '@convlab/jobs/redis';
import { frameName, runBatchStylize, type BatchResult } from '@convlab/style/batch';
import { createTransformNet, saveTransformNet } from '@convlab/style';
import { redisSkipReason, startRedis, startWorker, stopAll, until } from './redis-helpers.js';

const skip = redisSkipReason();

let url = '';
let dir = '';
let backend = '';
let queue: RedisJobQueue;

test.before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'convlab-style-batch-fast-'));
  const nets = join(dir, 'nets');
  const net = createTransformNet({ channels: 4, residualBlocks: 1 }, { seed: 5 });
  await saveTransformNet(net, join(nets, 'tiny'));
  net.dispose();
  // This process (the embedded run and the planner) and the workers see the same bundled folder.
  process.env.CONVLAB_FAST_NETS_DIR = nets;
  ({ url } = await startRedis());
  backend = (await initEngine({ log: false })).backend;
  for (let i = 0; i < 2; i++) startWorker(url, ['--runs', join(dir, 'runs'), '--backend', backend, '--lock-ms', '8000'], { CONVLAB_FAST_NETS_DIR: nets });
  queue = await createRedisQueue({ url, runsDir: join(dir, 'runs'), backoffMs: 500 });
  await until('two workers', async () => ((await queue.workers()).length === 2 ? true : undefined), 120_000, 500);
  for (let i = 0; i < 5; i++) {
    const data = new Uint8Array(90 * 70 * 3);
    for (let p = 0; p < 90 * 70; p++) {
      const x = p % 90;
      const y = Math.floor(p / 90);
      const sq = Math.abs(x - 15 - i * 14) < 9 && Math.abs(y - 35) < 9;
      data[p * 3] = sq ? 250 : (x * 2) % 256;
      data[p * 3 + 1] = sq ? 30 : (y * 3) % 256;
      data[p * 3 + 2] = sq ? 30 : ((x + y) * 2) % 256;
    }
    await saveImage({ width: 90, height: 70, data }, join(dir, 'frames', `shot-${i}.png`));
  }
});

test.after.always(async () => {
  await queue?.close().catch(() => undefined);
  await stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const options = (out: string) => ({ content: join(dir, 'frames'), net: 'tiny', out, temporal: true, temporalBlend: 0.5, framesPerJob: 2, backend: backend as 'cpu' });

(skip ? test.skip : test.serial)('style.batch --net across 2 workers: frames byte-identical to the embedded run', async (t) => {
  const embedded = await runBatchStylize(options(join(dir, 'embedded')));
  t.is(embedded.frames, 5);
  const id = 'style-batch-fast-test';
  const submitted = await queue.submit('style.batch', options(join(dir, 'redis')), { id });
  // A worker may take the run before submit() reads it back: queued or already running.
  t.true(['queued', 'running'].includes(submitted.status), submitted.status);
  const info = await queue.wait(id);
  t.is(info.status, 'done', JSON.stringify(info.error));
  const result = info.result as BatchResult;
  t.deepEqual(result.files, [1, 2, 3, 4, 5].map(frameName));
  for (let i = 1; i <= 5; i++) t.deepEqual(readFileSync(join(dir, 'redis', frameName(i))), readFileSync(join(dir, 'embedded', frameName(i))), `frame ${i}`);
  const record = JSON.parse(readFileSync(join(dir, 'redis', 'run.json'), 'utf8')) as { extra: { mode: string; frames: { blendedWith?: { file: string } }[]; groups: { frames: number[] }[] } };
  t.is(record.extra.mode, 'fast');
  t.deepEqual(record.extra.groups.map((g) => g.frames), [[1, 2], [3, 4], [5]]);
  // The moving average restarts with each job: frames 1, 3 and 5 stand alone.
  t.deepEqual(record.extra.frames.map((f) => f.blendedWith?.file ?? null), [null, frameName(1), null, frameName(3), null]);
});
