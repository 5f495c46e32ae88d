/**
 * The Redis driver of @convlab/jobs: the JobQueue interface on BullMQ. Any number of machines run
 * `convlab-worker --queue redis://host:port`; a submitter (a CLI with --queue, the studio) uses this queue.
 *
 * - One BullMQ queue (default name 'convlab'); a job's BullMQ name is its kind.
 * - Ids are deterministic when the submitter gives one: submitting an id that is queued, running or done
 *   returns that run and adds nothing (duplicate submissions change nothing); one that failed or was cancelled
 *   runs again under the same id, and its shards that finished before are not redone (their results stay in
 *   <p>:job:<id>:results, see store.ts).
 * - A sharded kind (sharded.ts) becomes a BullMQ flow: one child job per shard (id <id>.s<n>), the parent
 *   (id <id>) merging their results once all are done.
 * - Retries: a shard or job that throws is retried with exponential backoff (3 attempts); a user error
 *   (ConvlabError: a missing folder, a bad option) fails at once. Items a shard cannot read are reported in
 *   its result and skipped, never retried. A worker that dies loses its lock; BullMQ's stalled-job check hands
 *   the shard to another worker after the lock expires.
 * - Events (status, progress, artifact, log) travel on the queue's event stream as 'convlab' events and are
 *   read back with BullMQ's QueueEvents; the run's progress is the sum of its shards' items done.
 * - Cancel marks the run cancelled in Redis, removes its waiting shards, and the workers running its shards
 *   see the mark between items and stop.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FlowProducer, Queue, QueueEvents, QueueEventsProducer, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConvlabError } from '@convlab/core/light';
import type { JobEvent, JobInfo, JobKind, JobStatus } from '../kind.js';
import type { JobQueue, ListOptions, SubmitOptions } from '../types.js';
import { isValidJobId, filesDir, safeRelativePath, stagingDir } from '../layout.js';
import { loadKinds, resolveKindsModule } from '../modules.js';
import { isShardedKind, type ShardSpec } from './sharded.js';
import { checkServer, connect, safeUrl } from './connection.js';
import { infoFrom, isFinal, keysFor, readInfo, setStatus, type Keys } from './store.js';
import { defaultKindsModules, defaultRunsDir } from './defaults.js';

export interface RedisQueueOptions {
  url: string;
  /** Kinds modules (specifiers or paths) to validate submissions with; workers must load the same ones. */
  modules?: string[];
  /** Key prefix for the driver's own keys and BullMQ's (default 'convlab'). */
  prefix?: string;
  /** BullMQ queue name (default 'convlab'). */
  queueName?: string;
  /** Where job folders are (the workers' --runs; the same path when shared, for filePath). */
  runsDir?: string;
  /** Attempts per job or shard before it fails (default 3), first backoff in ms (default 2000, doubling). */
  attempts?: number;
  backoffMs?: number;
  /** Skip the Redis version / eviction policy check (tests of a driver against a fake server). */
  skipServerCheck?: boolean;
}

/** BullMQ's names for what this driver keeps (shared by queue and worker). */
export interface RedisNames {
  prefix: string;
  queueName: string;
  bullPrefix: string;
  keys: Keys;
}

export function namesFor(options: { prefix?: string; queueName?: string }): RedisNames {
  const prefix = options.prefix ?? 'convlab';
  return { prefix, queueName: options.queueName ?? 'convlab', bullPrefix: `${prefix}:bull`, keys: keysFor(prefix) };
}

/** Shard job id of a run. */
export const shardJobId = (id: string, index: number): string => `${id}.s${String(index).padStart(5, '0')}`;

/** The 'convlab' events on the queue's stream: one JobEvent as JSON. */
export const EVENT_NAME = 'convlab';

export interface RedisJobQueue extends JobQueue {
  /** Workers that reported in the last 30 s. */
  workers(): Promise<{ host: string; pid: number; backend?: string; kinds: string[]; startedAt: string }[]>;
  /** Items (images) of a run: done of total, summed over its shards. */
  items(id: string): Promise<{ done: number; total: number }>;
  readonly url: string;
}

export async function createRedisQueue(options: RedisQueueOptions): Promise<RedisJobQueue> {
  const names = namesFor(options);
  const { keys } = names;
  const runsDir = options.runsDir ?? defaultRunsDir();
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 2000;
  const specs = options.modules ?? defaultKindsModules();
  const urls = specs.map(resolveKindsModule);
  const kinds = await loadKinds(urls, specs);

  const redis: Redis = connect(options.url, 'convlab-queue');
  try {
    if (!options.skipServerCheck) await checkServer(redis, options.url);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const shared = redis.duplicate();
  const connection = { connection: shared, prefix: names.bullPrefix };
  const queue = new Queue(names.queueName, connection);
  const flows = new FlowProducer(connection);
  const producer = new QueueEventsProducer(names.queueName, { connection: shared, prefix: names.bullPrefix });
  let events: QueueEvents | undefined;
  let eventsConnection: Redis | undefined;
  const listeners = new Set<{ fn: (e: JobEvent) => void; id?: string }>();

  const emitLocal = (event: JobEvent): void => {
    const id = event.type === 'status' ? event.job.id : event.id;
    for (const l of [...listeners]) if (!l.id || l.id === id) l.fn(event);
  };
  const publish = async (event: JobEvent): Promise<void> => {
    await producer.publishEvent({ eventName: EVENT_NAME, payload: JSON.stringify(event) } as never, 10_000);
  };
  const ensureEvents = async (): Promise<void> => {
    if (events) return;
    eventsConnection = redis.duplicate();
    events = new QueueEvents(names.queueName, { connection: eventsConnection, prefix: names.bullPrefix });
    events.on(EVENT_NAME as never, ((args: { payload: string }) => {
      try {
        emitLocal(JSON.parse(args.payload) as JobEvent);
      } catch {
        // not ours
      }
    }) as never);
    await events.waitUntilReady();
  };

  const kindOf = (name: string): JobKind => {
    const k = kinds.get(name);
    if (!k) throw new ConvlabError(`unknown job kind ${name}`, { hint: `this queue knows: ${[...kinds.keys()].join(', ')}` });
    return k;
  };

  /** Remove what BullMQ still holds of a run (before running a failed or cancelled one again). */
  const removeBullJobs = async (id: string, shards: number): Promise<void> => {
    const ids = [id, ...Array.from({ length: shards }, (_, i) => shardJobId(id, i))];
    for (const jid of ids) {
      const job = await queue.getJob(jid);
      if (!job) continue;
      const state = await job.getState();
      if (state === 'active') {
        throw new ConvlabError(`run ${id} still has a shard running (${jid})`, { hint: 'wait until its worker notices the cancel (a few seconds), then submit again' });
      }
      await job.remove({ removeChildren: false }).catch(async () => {
        await queue.remove(jid).catch(() => undefined);
      });
    }
  };

  const q: RedisJobQueue = {
    url: options.url,
    async submit(kindName, input, submitOptions: SubmitOptions = {}) {
      const kind = kindOf(kindName);
      const { parseJobInput } = await import('../input.js');
      const parsed = parseJobInput(kind, input, 'code');
      const id = submitOptions.id ?? randomUUID();
      if (!isValidJobId(id)) throw new ConvlabError(`job id ${JSON.stringify(id)} is not usable`, { hint: 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128' });
      const key = keys.job(id);
      const old = await redis.hgetall(key);
      if (old.kind) {
        if (old.kind !== kindName) throw new ConvlabError(`job id ${id} is a ${old.kind} run, not ${kindName}`, { hint: 'give this run another id' });
        if (JSON.stringify(JSON.parse(old.input)) !== JSON.stringify(parsed)) {
          throw new ConvlabError(`job id ${id} was submitted with other options`, { hint: 'give this run another id, or submit the same options to resume it' });
        }
        if (!['failed', 'cancelled'].includes(old.status)) return infoFrom(id, old)!;
        await removeBullJobs(id, Number(old.shards ?? 0));
      }
      const now = new Date().toISOString();
      const jobOpts = { attempts, backoff: { type: 'exponential', delay: backoffMs }, removeOnComplete: false, removeOnFail: false };
      let shards = 0;
      let total = 0;
      let plan: ShardSpec[] | undefined;
      const sharded = isShardedKind(kind) ? kind : undefined;
      if (sharded) {
        plan = await sharded.shards.plan(parsed as never);
        shards = plan.length;
        total = plan.reduce((n, s) => n + s.items, 0);
        if (shards === 0) throw new ConvlabError(`a ${kindName} run with nothing to do`, { hint: 'check the input folder' });
        kindOf(sharded.shards.kind);
      }
      await redis
        .multi()
        .del(key, keys.done(id))
        .hset(key, {
          kind: kindName,
          label: submitOptions.label ?? '',
          input: JSON.stringify(parsed),
          status: 'queued',
          createdAt: old.createdAt ?? now,
          attempts: String(Number(old.attempts ?? 0)),
          artifacts: '[]',
          shards: String(shards),
          total: String(total),
          progress: JSON.stringify({ done: 0, total: total || 1 }),
        })
        .zadd(keys.index, Date.parse(old.createdAt ?? now), id)
        .exec();
      if (sharded && plan) {
        await flows.add({
          name: kindName,
          queueName: names.queueName,
          data: { run: id },
          opts: { ...jobOpts, jobId: id },
          children: plan.map((s, i) => ({
            name: sharded.shards.kind,
            queueName: names.queueName,
            data: { run: id, shard: i, items: s.items, input: s.input },
            opts: { ...jobOpts, jobId: shardJobId(id, i), failParentOnFailure: true },
          })),
        });
      } else {
        await queue.add(kindName, { run: id }, { ...jobOpts, jobId: id });
      }
      const info = (await readInfo(redis, keys, id))!;
      await publish({ type: 'status', job: info });
      return info;
    },

    get: (id) => readInfo(redis, keys, id),

    async list(listOptions: ListOptions = {}) {
      const limit = listOptions.limit ?? 100;
      const statuses = listOptions.status === undefined ? undefined : ([] as JobStatus[]).concat(listOptions.status);
      const out: JobInfo[] = [];
      const ids = await redis.zrevrange(keys.index, 0, -1);
      for (const id of ids) {
        if (out.length >= limit) break;
        const info = await readInfo(redis, keys, id);
        if (!info) continue;
        if (listOptions.kind && info.kind !== listOptions.kind) continue;
        if (statuses && !statuses.includes(info.status)) continue;
        out.push(info);
      }
      return out;
    },

    async cancel(id) {
      const key = keys.job(id);
      const h = await redis.hgetall(key);
      if (!h.kind) return undefined;
      await redis.hset(key, 'cancel', '1');
      const applied = await setStatus(redis, key, 'cancelled', { finishedAt: new Date().toISOString(), error: JSON.stringify({ message: 'cancelled' }) });
      // Waiting shards go; running ones stop at their next item (their worker polls the mark).
      const shards = Number(h.shards ?? 0);
      for (let i = 0; i < shards; i++) {
        const job = await queue.getJob(shardJobId(id, i));
        if (!job) continue;
        const state = await job.getState();
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') await job.remove().catch(() => undefined);
      }
      const parent = await queue.getJob(id);
      if (parent) {
        const state = await parent.getState();
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await parent.remove({ removeChildren: false }).catch(() => undefined);
      }
      const info = await readInfo(redis, keys, id);
      if (applied && info) await publish({ type: 'status', job: info });
      return info;
    },

    async wait(id, signal) {
      await ensureEvents();
      return new Promise<JobInfo>((resolveWait, reject) => {
        // Events can be missed (a worker killed before it published): the hash is the truth, read it now and then.
        const timer = setInterval(() => void check(), 1000);
        const finish = (err?: unknown, info?: JobInfo) => {
          clearInterval(timer);
          unsubscribe();
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolveWait(info!);
        };
        const check = async () => {
          try {
            const info = await readInfo(redis, keys, id);
            if (!info) finish(new ConvlabError(`no job ${id}`, { hint: 'list the jobs to see their ids' }));
            else if (isFinal(info.status)) finish(undefined, info);
          } catch (err) {
            finish(err);
          }
        };
        const onAbort = () => finish(Object.assign(new Error('wait aborted'), { name: 'AbortError' }));
        const unsubscribe = q.subscribe((e) => {
          if (e.type === 'status' && isFinal(e.job.status)) void check();
        }, { id });
        signal?.addEventListener('abort', onAbort, { once: true });
        void check();
      });
    },

    subscribe(listener, filter = {}) {
      const entry = { fn: listener, id: filter.id };
      listeners.add(entry);
      void ensureEvents();
      return () => void listeners.delete(entry);
    },

    async filePath(id, path) {
      const rel = safeRelativePath(path);
      if (!rel || !isValidJobId(id)) return undefined;
      for (const base of [filesDir(runsDir, id), stagingDir(runsDir, id)]) {
        const file = join(base, ...rel.split('/'));
        if (existsSync(file)) return file;
      }
      return undefined;
    },

    kinds() {
      return [...kinds.values()].map((k) => ({ kind: k.kind, title: k.title, description: k.description, heavy: k.heavy !== false }));
    },

    async workers() {
      const out = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', keys.workers, 'COUNT', 100);
        cursor = next;
        for (const k of found) {
          const v = await redis.get(k);
          if (v) out.push(JSON.parse(v));
        }
      } while (cursor !== '0');
      return out.sort((a, b) => (a.host + a.pid < b.host + b.pid ? -1 : 1));
    },

    async items(id) {
      const [total, done] = await Promise.all([redis.hget(keys.job(id), 'total'), redis.hvals(keys.done(id))]);
      return { done: done.reduce((n, v) => n + Number(v), 0), total: Number(total ?? 0) };
    },

    async close() {
      listeners.clear();
      await Promise.allSettled([events?.close(), queue.close(), flows.close(), producer.close()]);
      eventsConnection?.disconnect();
      shared.disconnect();
      redis.disconnect();
    },
  };
  return q;
}

/** For messages: where a queue is. */
export const describeQueue = (url: string): string => `redis ${safeUrl(url)}`;

export type { Job };
