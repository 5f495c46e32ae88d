/**
 * What the Redis driver keeps beside BullMQ's own keys (BullMQ moves jobs; these say what a run is):
 *
 *   <p>:index              ZSET   run id -> createdAt (ms), for list()
 *   <p>:job:<id>           HASH   kind, label, input, status, createdAt, startedAt, finishedAt, error, result,
 *                                 worker, attempts, artifacts, progress, shards, total, cancel
 *   <p>:job:<id>:done      HASH   shard -> items done (a retried shard overwrites its own count: no double counting)
 *   <p>:job:<id>:results   HASH   shard -> JSON result (kept across cancel and failure: a resubmission resumes)
 *   <p>:job:<id>:owners    HASH   shard -> host:pid of the worker that last took it
 *   <p>:worker:<host>:<pid> STRING worker info JSON, expires unless the worker refreshes it
 *
 * Status changes go through one Lua script that never changes a final status, so a cancel cannot be undone by
 * a worker finishing late, and a late failure cannot overwrite a cancel.
 */
import type { Redis } from 'ioredis';
import type { JobArtifact, JobError, JobInfo, JobProgress, JobStatus, WorkerInfo } from '../kind.js';

export interface Keys {
  index: string;
  job(id: string): string;
  done(id: string): string;
  results(id: string): string;
  owners(id: string): string;
  worker(host: string, pid: number): string;
  workers: string;
}

export function keysFor(prefix: string): Keys {
  return {
    index: `${prefix}:index`,
    job: (id) => `${prefix}:job:${id}`,
    done: (id) => `${prefix}:job:${id}:done`,
    results: (id) => `${prefix}:job:${id}:results`,
    owners: (id) => `${prefix}:job:${id}:owners`,
    worker: (host, pid) => `${prefix}:worker:${host}:${pid}`,
    workers: `${prefix}:worker:*`,
  };
}

const FINAL = ['done', 'failed', 'cancelled'];

/**
 * KEYS[1] job hash; ARGV[1] new status; ARGV[2..] field/value pairs to set with it. Returns 1 when applied,
 * 0 when the job is missing or already final (or, for 'running', not queued/running).
 */
const SET_STATUS = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return 0 end
if cur == 'done' or cur == 'failed' or cur == 'cancelled' then return 0 end
if ARGV[1] == 'running' and cur == 'running' and #ARGV == 1 then return 1 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

export async function setStatus(redis: Redis, key: string, status: JobStatus, fields: Record<string, string> = {}): Promise<boolean> {
  const args = [status, ...Object.entries(fields).flat()];
  return (await redis.eval(SET_STATUS, 1, key, ...args)) === 1;
}

export const isFinal = (s: string | undefined): boolean => !!s && FINAL.includes(s);

const parse = <T>(s: string | undefined): T | undefined => (s === undefined || s === '' ? undefined : (JSON.parse(s) as T));

/** The JobInfo of a run from its hash (undefined when there is none). */
export function infoFrom(id: string, h: Record<string, string>): JobInfo | undefined {
  if (!h.kind) return undefined;
  const info: JobInfo = {
    id,
    kind: h.kind,
    input: parse(h.input),
    status: h.status as JobStatus,
    createdAt: h.createdAt,
    artifacts: parse<JobArtifact[]>(h.artifacts) ?? [],
    attempts: Number(h.attempts ?? 0),
  };
  if (h.label) info.label = h.label;
  if (h.startedAt) info.startedAt = h.startedAt;
  if (h.finishedAt) info.finishedAt = h.finishedAt;
  const progress = parse<JobProgress>(h.progress);
  if (progress) info.progress = progress;
  const error = parse<JobError>(h.error);
  if (error) info.error = error;
  if (h.result !== undefined && h.result !== '') info.result = parse(h.result);
  const worker = parse<WorkerInfo>(h.worker);
  if (worker) info.worker = worker;
  return info;
}

export async function readInfo(redis: Redis, keys: Keys, id: string): Promise<JobInfo | undefined> {
  return infoFrom(id, await redis.hgetall(keys.job(id)));
}
