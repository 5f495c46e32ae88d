/**
 * A Redis worker: takes jobs from the BullMQ queue and runs their kinds in this process (runJobInProcess, the
 * same context every driver gives a kind), one job at a time. Start one per machine (or per core group) with
 * `convlab-worker --queue redis://host:port`.
 *
 * Fault handling (see queue.ts for the whole picture):
 * - The job's lock is renewed every lockMs/2 while it runs; a worker that dies (SIGKILL, power) stops renewing
 *   and after lockMs the stalled-job check of any live worker puts its shard back in the queue.
 * - A shard whose result is already stored (a duplicate delivery, or a resubmitted run) returns at once.
 * - A run marked cancelled aborts the running shard's signal (polled every 500 ms); the kind stops between
 *   items and the shard fails without retry.
 * - A ConvlabError (a user's input problem) fails at once; anything else is retried with backoff, and the run
 *   is marked failed when the last attempt fails.
 */
import { hostname } from 'node:os';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueEventsProducer, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobArtifact, JobEvent, JobKind, JobProgress, WorkerInfo } from '../kind.js';
import { filesDir, jobDir, stagingDir } from '../layout.js';
import { loadKinds, resolveKindsModule } from '../modules.js';
import type { RunEvent } from '../protocol.js';
import { createJobContext, runJobInProcess } from '../run.js';
import { toJobError } from '../worker-loop.js';
import { isShardedKind } from './sharded.js';
import { checkServer, connect } from './connection.js';
import { isFinal, readInfo, setStatus } from './store.js';
import { EVENT_NAME, namesFor } from './queue.js';
import { defaultKindsModules, defaultRunsDir } from './defaults.js';

export interface RedisWorkerOptions {
  url: string;
  modules?: string[];
  prefix?: string;
  queueName?: string;
  runsDir?: string;
  /** Job lock in ms (default 60000): how long a dead worker's shard waits before another worker takes it. */
  lockMs?: number;
  /** How often this worker looks for stalled jobs (default lockMs / 2). */
  stalledMs?: number;
  /** Times a job may stall (its worker dying) before it fails (default 3). */
  maxStalled?: number;
  /** The compute backend, reported with the host (the CLI starts the engine first). */
  backend?: string;
  log?: (line: string) => void;
  skipServerCheck?: boolean;
}

interface JobData {
  run: string;
  shard?: number;
  items?: number;
  input?: unknown;
}

export interface RedisWorker {
  info: WorkerInfo & { kinds: string[]; startedAt: string };
  /** Jobs (shards included) this worker finished. */
  readonly completed: number;
  close(): Promise<void>;
}

const isUserError = (err: unknown): boolean => err instanceof Error && (err.name === 'ConvlabError' || err.name === 'JobInputError' || err.name === 'KindsModuleError');

export async function createRedisWorker(options: RedisWorkerOptions): Promise<RedisWorker> {
  const names = namesFor(options);
  const { keys } = names;
  const runsDir = options.runsDir ?? defaultRunsDir();
  const log = options.log ?? ((line: string) => void process.stdout.write(line + '\n'));
  const specs = options.modules ?? defaultKindsModules();
  const kinds = await loadKinds(specs.map(resolveKindsModule), specs);
  const redis: Redis = connect(options.url, 'convlab-worker');
  try {
    if (!options.skipServerCheck) await checkServer(redis, options.url);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const host = hostname();
  const info = { host, pid: process.pid, backend: options.backend, kinds: [...kinds.keys()], startedAt: new Date().toISOString() };
  const me: WorkerInfo = { host, pid: process.pid, ...(options.backend ? { backend: options.backend } : {}) };
  const heartbeat = async () => {
    await redis.set(keys.worker(host, process.pid), JSON.stringify(info), 'EX', 30).catch(() => undefined);
  };
  await heartbeat();
  const beat = setInterval(() => void heartbeat(), 10_000);
  beat.unref();
  const events = redis.duplicate();
  const producer = new QueueEventsProducer(names.queueName, { connection: events, prefix: names.bullPrefix });
  const publish = (event: JobEvent) => producer.publishEvent({ eventName: EVENT_NAME, payload: JSON.stringify(event) } as never, 10_000).catch(() => undefined);
  const publishStatus = async (run: string) => {
    const job = await readInfo(redis, keys, run);
    if (job) await publish({ type: 'status', job });
  };
  let completed = 0;

  const markRunning = async (run: string, topLevel: boolean) => {
    const key = keys.job(run);
    const now = new Date().toISOString();
    await redis.hsetnx(key, 'startedAt', now);
    if (topLevel) await redis.hincrby(key, 'attempts', 1);
    if (await setStatus(redis, key, 'running', { worker: JSON.stringify(me) })) await publishStatus(run);
  };

  /** Run progress = the sum of the shards' items done (each shard overwrites its own count). */
  const shardProgress = (job: Job<JobData>) => {
    const run = job.data.run;
    const items = job.data.items ?? 0;
    let last = 0;
    let pending: JobProgress | undefined;
    const flush = async () => {
      const p = pending;
      if (!p) return;
      pending = undefined;
      last = Date.now();
      await redis.hset(keys.done(run), String(job.data.shard), String(Math.min(items, Math.max(0, Math.floor(p.done)))));
      const [total, done] = await Promise.all([redis.hget(keys.job(run), 'total'), redis.hvals(keys.done(run))]);
      const progress: JobProgress = { done: done.reduce((n, v) => n + Number(v), 0), total: Number(total ?? 0) };
      if (p.message) progress.message = p.message;
      if (p.values) progress.values = p.values;
      await redis.hset(keys.job(run), 'progress', JSON.stringify(progress));
      await job.updateProgress({ shard: job.data.shard, done: p.done, total: items }).catch(() => undefined);
      await publish({ type: 'progress', id: run, progress });
    };
    return {
      update(p: JobProgress) {
        pending = p;
        if (Date.now() - last > 300) void flush();
      },
      flush,
    };
  };

  const runShard = async (job: Job<JobData>, kind: JobKind, signal: AbortSignal) => {
    const run = job.data.run;
    const shard = job.data.shard!;
    if ((await redis.hexists(keys.results(run), String(shard))) === 1) {
      log(`${job.name} ${job.id}: result already stored (duplicate delivery or resumed run), nothing to do`);
      return { shard, reused: true };
    }
    await markRunning(run, false);
    // Who took which shard (the last taker wins): for `convlab-worker` logs and the tests' kill-a-worker check.
    await redis.hset(keys.owners(run), String(shard), `${host}:${process.pid}`);
    const dir = join(jobDir(runsDir, run), '.shards', `${shard}-${host}-${process.pid}`);
    const progress = shardProgress(job);
    const t0 = performance.now();
    try {
      const result = await runJobInProcess(kind, job.data.input, {
        id: String(job.id),
        dir,
        signal,
        onEvent: (e: RunEvent) => {
          if (e.type === 'progress') progress.update(e.progress);
          else if (e.type === 'log') void publish({ type: 'log', id: run, message: `shard ${shard}: ${e.message}` });
        },
      });
      // Stored before the job completes: if this worker dies now, the retry finds it and returns at once.
      await redis.hset(keys.results(run), String(shard), JSON.stringify(result ?? null));
      progress.update({ done: job.data.items ?? 0, total: job.data.items ?? 0 });
      await progress.flush();
      log(`${job.name} ${job.id}: ${job.data.items} items in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { shard };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const runTop = async (job: Job<JobData>, kind: JobKind, signal: AbortSignal) => {
    const run = job.data.run;
    const h = await redis.hgetall(keys.job(run));
    await markRunning(run, true);
    const staging = stagingDir(runsDir, run);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const artifacts = new Map<string, JobArtifact>();
    const onEvent = (e: RunEvent) => {
      if (e.type === 'progress') {
        void redis.hset(keys.job(run), 'progress', JSON.stringify(e.progress));
        void publish({ type: 'progress', id: run, progress: e.progress });
      } else if (e.type === 'artifact') {
        artifacts.set(e.artifact.path, e.artifact);
        void redis.hset(keys.job(run), 'artifacts', JSON.stringify([...artifacts.values()]));
        void publish({ type: 'artifact', id: run, artifact: e.artifact });
      } else if (e.type === 'log') void publish({ type: 'log', id: run, message: e.message });
      else if (e.type === 'setBackend') {
        me.backend = e.backend;
        void redis.hset(keys.job(run), 'worker', JSON.stringify(me));
      }
    };
    const input = JSON.parse(h.input) as unknown;
    let result: unknown;
    if (isShardedKind(kind)) {
      const shards = Number(h.shards ?? 0);
      const stored = await redis.hgetall(keys.results(run));
      const missing = Array.from({ length: shards }, (_, i) => i).filter((i) => stored[String(i)] === undefined);
      if (missing.length) throw new UnrecoverableError(`run ${run}: shard(s) ${missing.slice(0, 5).join(', ')} have no result`);
      const results = Array.from({ length: shards }, (_, i) => JSON.parse(stored[String(i)]) as unknown);
      const handle = createJobContext({ id: run, dir: staging, signal, emit: onEvent });
      try {
        result = await kind.shards.merge(input as never, results, handle.ctx);
      } finally {
        await handle.settled();
      }
    } else {
      result = await runJobInProcess(kind, input, { id: run, dir: staging, signal, validate: false, onEvent });
    }
    const files = filesDir(runsDir, run);
    await rm(files, { recursive: true, force: true });
    await rename(staging, files);
    const json = result === undefined ? '' : JSON.stringify(result);
    if (await setStatus(redis, keys.job(run), 'done', { finishedAt: new Date().toISOString(), result: json, artifacts: JSON.stringify([...artifacts.values()]) })) await publishStatus(run);
    log(`${job.name} ${run}: done`);
    return { run };
  };

  const fail = async (run: string, err: unknown) => {
    if (await setStatus(redis, keys.job(run), 'failed', { finishedAt: new Date().toISOString(), error: JSON.stringify(toJobError(err)) })) await publishStatus(run);
  };

  const lockMs = options.lockMs ?? 60_000;
  const workerConnection = redis.duplicate();
  const worker = new Worker<JobData>(
    names.queueName,
    async (job) => {
      const { run } = job.data;
      const key = keys.job(run);
      const h = await redis.hgetall(key);
      if (!h.kind) throw new UnrecoverableError(`run ${run} has no record (removed?)`);
      if (h.cancel === '1' || h.status === 'cancelled') throw new UnrecoverableError('cancelled');
      if (h.status === 'failed') throw new UnrecoverableError(`run ${run} already failed`);
      const kind = kinds.get(job.name);
      if (!kind) throw new UnrecoverableError(`worker ${host}:${process.pid} has no job kind ${job.name} (start it with the kinds module that declares it)`);
      const controller = new AbortController();
      const poll = setInterval(() => {
        void redis.hget(key, 'cancel').then((c) => c === '1' && controller.abort(), () => undefined);
      }, 500);
      try {
        return job.data.shard !== undefined ? await runShard(job, kind, controller.signal) : await runTop(job, kind, controller.signal);
      } catch (err) {
        if (controller.signal.aborted) {
          log(`${job.name} ${job.id}: stopped (run ${run} cancelled)`);
          throw new UnrecoverableError('cancelled');
        }
        const last = isUserError(err) || err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        log(`${job.name} ${job.id}: ${(err as Error).message}${last ? '' : ' (will be retried)'}`);
        if (last) {
          await fail(run, err);
          if (!(err instanceof UnrecoverableError)) throw new UnrecoverableError((err as Error).message);
        }
        throw err;
      } finally {
        clearInterval(poll);
      }
    },
    {
      connection: workerConnection,
      prefix: names.bullPrefix,
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: options.stalledMs ?? Math.max(1000, Math.floor(lockMs / 2)),
      maxStalledCount: options.maxStalled ?? 3,
      autorun: true,
    },
  );
  worker.on('completed', () => {
    completed += 1;
  });
  // A job failed by the stalled check (its worker died too often) never reached the processor's catch.
  worker.on('failed', (job, err) => {
    if (job && /stalled/i.test(err?.message ?? '')) {
      void readInfo(redis, keys, job.data.run).then(async (i) => {
        if (i && !isFinal(i.status)) await fail(job.data.run, err);
      });
    }
  });
  worker.on('error', (err) => log(`worker error: ${err.message}`));
  await worker.waitUntilReady();

  return {
    info,
    get completed() {
      return completed;
    },
    async close() {
      clearInterval(beat);
      await worker.close();
      await producer.close();
      await redis.del(keys.worker(host, process.pid)).catch(() => undefined);
      events.disconnect();
      workerConnection.disconnect();
      redis.disconnect();
    },
  };
}
