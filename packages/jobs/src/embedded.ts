/**
 * The embedded driver: a JobQueue whose jobs run in child processes of this one (a pool of warm workers),
 * with each job's state in <runsDir>/<id>/job.json so results, and the queue itself, survive a restart.
 *
 * - Heavy jobs (the default) run at most `concurrency` at a time, in submission order; light ones
 *   (`heavy: false`) in their own small pool beside them. A worker stays alive between jobs, so tfjs and the
 *   models it loaded stay loaded; this process never runs a model and stays responsive.
 * - Cancel aborts the job's AbortSignal in its worker; a worker that has not stopped after `cancelGraceMs`
 *   is killed (SIGKILL) and replaced. A worker that dies fails its job and is replaced.
 * - Files: see layout.ts. The staging folder becomes files/ when the job is done and is removed otherwise.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError } from '@convlab/core/light';
import { FINAL_STATUSES, type JobArtifact, type JobError, type JobEvent, type JobInfo, type JobKind, type JobStatus } from './kind.js';
import { JobInputError, parseJobInput } from './input.js';
import { filesDir, isValidJobId, jobDir, jobFile, safeRelativePath, stagingDir, writeFileAtomically } from './layout.js';
import { loadKinds, resolveKindsModule } from './modules.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';
import type { JobQueue, ListOptions, SubmitOptions } from './types.js';

export interface EmbeddedQueueOptions {
  /** Folder holding one sub-folder per job (created if missing). */
  runsDir: string;
  /** Kinds modules: package specifiers ('@convlab/style/jobs') or absolute file paths, each exporting `jobKinds`. */
  modules: readonly string[];
  /** Heavy jobs running at once (default 1: one CPU-heavy job at a time on a laptop). */
  concurrency?: number;
  /** Light jobs (`heavy: false`) running at once beside the heavy ones (default 2; 0 runs them in the heavy pool). */
  lightConcurrency?: number;
  /** How long a cancelled job's worker may take to stop before it is killed (default 5000 ms). */
  cancelGraceMs?: number;
  /** How long close() waits after SIGTERM before SIGKILL (default 2000 ms). */
  closeGraceMs?: number;
  /** Extra Node flags for worker processes (e.g. ['--max-old-space-size=8192']), after this process's own. */
  workerArgs?: readonly string[];
  /** Where recoverable problems go (an unreadable job.json, a failed write); default: stderr. */
  onWarning?: (message: string) => void;
}

export interface WorkerSummary {
  pid: number;
  pool: 'heavy' | 'light';
  /** The job it runs, when busy. */
  job?: string;
}

/** The embedded driver's queue: the JobQueue interface plus what a health check or a test wants to see. */
export interface EmbeddedQueue extends JobQueue {
  readonly driver: 'embedded';
  readonly concurrency: number;
  readonly lightConcurrency: number;
  readonly runsDir: string;
  /** Live worker processes. */
  workers(): WorkerSummary[];
}

/** The message of a job found running when a queue starts (or still running when it closes). */
export const STOPPED_MESSAGE = 'the studio stopped while this job ran; re-run it';

type Pool = 'heavy' | 'light';

interface WorkerHandle {
  child: ChildProcess;
  pool: Pool;
  pid: number;
  alive: boolean;
  jobId?: string;
  backend?: string;
  /** What the worker reported just before dying of an uncaught exception. */
  fatal?: string;
  exited: Promise<void>;
}

interface Entry {
  info: JobInfo;
  /** Queue position: increases with each (re)submission, persisted so a restart keeps the order. */
  order: number;
  worker?: WorkerHandle;
  cancelRequested: boolean;
  finishing: boolean;
  /** Preparing the job folder before the run message goes out; finishing waits for it. */
  prepared?: Promise<void>;
  graceTimer?: NodeJS.Timeout;
  persistTimer?: NodeJS.Timeout;
  /** job.json writes, chained: each writes the state at its turn, so the last write is the latest state. */
  writes: Promise<void>;
}

type Outcome = { status: 'done'; result: unknown } | { status: 'failed'; error: JobError } | { status: 'cancelled' };

const isFinal = (s: JobStatus): boolean => FINAL_STATUSES.includes(s);
const STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed', 'cancelled'];
const now = (): string => new Date().toISOString();
const PROGRESS_PERSIST_MS = 1000;

function crashMessage(code: number | null, signal: NodeJS.Signals | null, fatal: string | undefined): string {
  const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
  return `worker crashed: ${how} while running${fatal ? ` (${fatal})` : ''}; the job's partial files were removed`;
}

/** This process's Node flags minus those a worker must not repeat (eval, inspector, watch). */
function inheritedExecArgv(): string[] {
  const out: string[] = [];
  const src = process.execArgv;
  for (let i = 0; i < src.length; i++) {
    const a = src[i];
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(a)) {
      i += 1;
      continue;
    }
    if (/^--(eval|print|input-type)=/.test(a) || /^--(inspect|debug|watch)/.test(a) || a === '-i' || a === '--interactive') continue;
    out.push(a);
  }
  return out;
}

/**
 * The worker entry and its Node flags. From source (this file is .ts) the worker needs tsx and the
 * '@convlab/source' condition: they come with this process's flags under `--import=tsx
 * --conditions=@convlab/source` and `tsx ...`, and are added when this process registered them in code
 * instead (the bin shims do), where execArgv does not show them. From dist, plain node.
 */
function workerCommand(extra: readonly string[]): { entry: string; execArgv: string[] } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSource ? './worker-entry.ts' : './worker-entry.js', here));
  const execArgv = inheritedExecArgv();
  if (fromSource) {
    if (!execArgv.some((a) => a.includes('tsx'))) execArgv.push(`--import=${import.meta.resolve('tsx')}`);
    if (!execArgv.some((a) => a.includes('@convlab/source'))) execArgv.push('--conditions=@convlab/source');
  }
  execArgv.push(...extra);
  return { entry, execArgv };
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new ConvlabError(`${name} ${value} is out of range: it must be an integer >= ${min}`);
  return value;
}

/** Start an embedded queue over `runsDir`: jobs found there are listed, queued ones run again, running ones fail. */
export async function createEmbeddedQueue(options: EmbeddedQueueOptions): Promise<EmbeddedQueue> {
  const concurrency = checkCount('concurrency', options.concurrency ?? 1, 1);
  const lightConcurrency = checkCount('lightConcurrency', options.lightConcurrency ?? 2, 0);
  const cancelGraceMs = checkCount('cancelGraceMs', options.cancelGraceMs ?? 5000, 0);
  const closeGraceMs = checkCount('closeGraceMs', options.closeGraceMs ?? 2000, 0);
  if (options.modules.length === 0) throw new ConvlabError('a job queue needs at least one kinds module', { hint: "pass modules: ['@convlab/style/jobs', ...]" });
  const urls = options.modules.map(resolveKindsModule);
  const kinds = await loadKinds(urls, options.modules);
  const runsDir = resolve(options.runsDir);
  await mkdir(runsDir, { recursive: true });
  const queue = new Embedded({
    runsDir,
    urls,
    kinds,
    concurrency,
    lightConcurrency,
    cancelGraceMs,
    closeGraceMs,
    worker: workerCommand(options.workerArgs ?? []),
    warn: options.onWarning ?? ((m) => process.stderr.write(`@convlab/jobs: ${m}\n`)),
  });
  await queue.recover();
  queue.pump();
  return queue;
}

interface Config {
  runsDir: string;
  urls: string[];
  kinds: Map<string, JobKind>;
  concurrency: number;
  lightConcurrency: number;
  cancelGraceMs: number;
  closeGraceMs: number;
  worker: { entry: string; execArgv: string[] };
  warn: (message: string) => void;
}

class Embedded implements EmbeddedQueue {
  readonly driver = 'embedded' as const;
  readonly concurrency: number;
  readonly lightConcurrency: number;
  readonly runsDir: string;

  private readonly entries = new Map<string, Entry>();
  private readonly queues: Record<Pool, string[]> = { heavy: [], light: [] };
  private readonly pool = new Set<WorkerHandle>();
  private readonly listeners = new Set<{ listener: (event: JobEvent) => void; id?: string }>();
  private readonly waiters = new Map<string, Set<{ resolve: (job: JobInfo) => void; reject: (err: unknown) => void }>>();
  private readonly finishing = new Set<Promise<void>>();
  private lastOrder = 0;
  private closing = false;
  private closed?: Promise<void>;
  private readonly host = hostname();

  constructor(private readonly config: Config) {
    this.concurrency = config.concurrency;
    this.lightConcurrency = config.lightConcurrency;
    this.runsDir = config.runsDir;
  }

  // ---------------------------------------------------------------- recovery and persistence

  async recover(): Promise<void> {
    const queued: Entry[] = [];
    const dirents = await readdir(this.runsDir, { withFileTypes: true });
    for (const d of dirents) {
      if (!d.isDirectory() || !isValidJobId(d.name)) continue;
      const info = await this.readJob(d.name);
      if (!info) continue;
      const { job, order } = info;
      const entry: Entry = { info: job, order, cancelRequested: false, finishing: false, writes: Promise.resolve() };
      this.entries.set(job.id, entry);
      this.lastOrder = Math.max(this.lastOrder, order);
      if (job.status === 'running') {
        await this.removeOutputs(job.id);
        this.settle(entry, { status: 'failed', error: { message: STOPPED_MESSAGE } });
        this.persist(entry);
      } else if (job.status === 'queued') {
        await this.removeOutputs(job.id);
        if (!this.config.kinds.has(job.kind)) {
          this.settle(entry, { status: 'failed', error: { message: `no job kind ${job.kind} is loaded in this queue`, hint: `known kinds: ${[...this.config.kinds.keys()].join(', ')}` } });
          this.persist(entry);
        } else queued.push(entry);
      } else if (job.status !== 'done') {
        await this.removeOutputs(job.id);
      } else {
        // A done job keeps files/; a staging folder beside it is debris from a crash mid-rename.
        await rm(stagingDir(this.runsDir, job.id), { recursive: true, force: true });
      }
    }
    queued.sort((a, b) => a.order - b.order);
    for (const e of queued) this.queues[this.poolOf(e.info.kind)].push(e.info.id);
    await Promise.all([...this.entries.values()].map((e) => e.writes));
  }

  private async readJob(id: string): Promise<{ job: JobInfo; order: number } | undefined> {
    let text: string;
    try {
      text = await readFile(jobFile(this.runsDir, id), 'utf8');
    } catch {
      return undefined; // not a job folder (uploads/, ...)
    }
    try {
      const raw = JSON.parse(text) as Partial<JobInfo> & { queueOrder?: unknown };
      if (raw.id !== id || typeof raw.kind !== 'string' || !STATUSES.includes(raw.status as JobStatus) || typeof raw.createdAt !== 'string') {
        throw new Error('it is not a job record of this folder');
      }
      const { queueOrder, ...rest } = raw;
      const job: JobInfo = { ...(rest as JobInfo), artifacts: Array.isArray(raw.artifacts) ? raw.artifacts : [], attempts: typeof raw.attempts === 'number' ? raw.attempts : 1 };
      const order = typeof queueOrder === 'number' && Number.isFinite(queueOrder) ? queueOrder : (Date.parse(job.createdAt) || 0) * 1000;
      return { job, order };
    } catch (err) {
      this.config.warn(`skipped ${jobFile(this.runsDir, id)}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private nextOrder(): number {
    this.lastOrder = Math.max(Date.now() * 1000, this.lastOrder + 1);
    return this.lastOrder;
  }

  /** Queue a write of the entry's current state to job.json (atomic). */
  private persist(entry: Entry): Promise<void> {
    if (entry.persistTimer) {
      clearTimeout(entry.persistTimer);
      entry.persistTimer = undefined;
    }
    const file = jobFile(this.runsDir, entry.info.id);
    entry.writes = entry.writes
      .then(() => writeFileAtomically(file, JSON.stringify({ ...entry.info, queueOrder: entry.order }, null, 2) + '\n'))
      .catch((err: Error) => this.config.warn(`could not write ${file}: ${err.message}`));
    return entry.writes;
  }

  /** Progress and artifacts change often: write them at most about once a second. */
  private persistSoon(entry: Entry): void {
    if (entry.persistTimer) return;
    entry.persistTimer = setTimeout(() => {
      entry.persistTimer = undefined;
      void this.persist(entry);
    }, PROGRESS_PERSIST_MS);
    entry.persistTimer.unref();
  }

  private async removeOutputs(id: string): Promise<void> {
    await rm(stagingDir(this.runsDir, id), { recursive: true, force: true });
    await rm(filesDir(this.runsDir, id), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- events

  private emit(event: JobEvent): void {
    const id = event.type === 'status' ? event.job.id : event.id;
    for (const l of [...this.listeners]) {
      if (l.id !== undefined && l.id !== id) continue;
      try {
        l.listener(event);
      } catch (err) {
        this.config.warn(`a job event listener threw: ${(err as Error).message}`);
      }
    }
    if (event.type === 'status' && isFinal(event.job.status)) {
      const waiting = this.waiters.get(id);
      this.waiters.delete(id);
      for (const w of waiting ?? []) w.resolve(structuredClone(event.job));
    }
  }

  private emitStatus(entry: Entry): void {
    this.emit({ type: 'status', job: structuredClone(entry.info) });
  }

  // ---------------------------------------------------------------- the interface

  kinds(): { kind: string; title: string; description: string; heavy: boolean }[] {
    return [...this.config.kinds.values()].map((k) => ({ kind: k.kind, title: k.title, description: k.description, heavy: k.heavy !== false }));
  }

  workers(): WorkerSummary[] {
    return [...this.pool].map((w) => (w.jobId ? { pid: w.pid, pool: w.pool, job: w.jobId } : { pid: w.pid, pool: w.pool }));
  }

  async submit(kindName: string, input: unknown, options: SubmitOptions = {}): Promise<JobInfo> {
    if (this.closing) throw new ConvlabError('the job queue is closed', { hint: 'create a new queue to submit jobs' });
    const kind = this.config.kinds.get(kindName);
    if (!kind) {
      throw new JobInputError(`unknown job kind ${JSON.stringify(kindName)}`, { field: 'kind', hint: `use one of: ${[...this.config.kinds.keys()].join(', ')}` });
    }
    const parsed = parseJobInput(kind, input, 'http');
    const { id: givenId, label } = options;
    if (givenId !== undefined && !isValidJobId(givenId)) {
      throw new JobInputError(`job id ${JSON.stringify(givenId)} is not a valid id`, { field: 'id', hint: 'use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit' });
    }
    const existing = givenId === undefined ? undefined : this.entries.get(givenId);
    let entry: Entry;
    if (existing) {
      if (existing.info.kind !== kindName) {
        throw new JobInputError(`job id ${givenId} is already used by a ${existing.info.kind} job`, { field: 'id', hint: 'give this job another id' });
      }
      if (existing.info.status !== 'failed' && existing.info.status !== 'cancelled') return structuredClone(existing.info);
      // A failed or cancelled job with this id runs again, with the input given now.
      entry = existing;
      const prev = entry.info;
      const newLabel = label ?? prev.label;
      entry.info = {
        id: prev.id,
        kind: kindName,
        ...(newLabel ? { label: newLabel } : {}),
        input: parsed,
        status: 'queued',
        createdAt: prev.createdAt,
        artifacts: [],
        attempts: (prev.attempts ?? 1) + 1,
      };
      entry.order = this.nextOrder();
      entry.cancelRequested = false;
      entry.finishing = false;
    } else {
      if (givenId !== undefined && existsSync(jobDir(this.runsDir, givenId))) {
        throw new JobInputError(`job id ${givenId} names a folder in ${this.runsDir} that is not a job`, { field: 'id', hint: 'give this job another id' });
      }
      const id = givenId ?? randomUUID().replace(/-/g, '');
      const info: JobInfo = { id, kind: kindName, ...(label ? { label } : {}), input: parsed, status: 'queued', createdAt: now(), artifacts: [], attempts: 1 };
      entry = { info, order: this.nextOrder(), cancelRequested: false, finishing: false, writes: Promise.resolve() };
      this.entries.set(id, entry);
    }
    this.queues[this.poolOf(kindName)].push(entry.info.id);
    this.emitStatus(entry);
    const written = this.persist(entry);
    this.pump();
    await written;
    return structuredClone(entry.info);
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const entry = this.entries.get(id);
    return entry ? structuredClone(entry.info) : undefined;
  }

  async list(options: ListOptions = {}): Promise<JobInfo[]> {
    const statuses = options.status === undefined ? undefined : Array.isArray(options.status) ? options.status : [options.status];
    const limit = options.limit ?? 100;
    return [...this.entries.values()]
      .filter((e) => (options.kind === undefined || e.info.kind === options.kind) && (!statuses || statuses.includes(e.info.status)))
      .sort((a, b) => (a.info.createdAt < b.info.createdAt ? 1 : a.info.createdAt > b.info.createdAt ? -1 : b.order - a.order))
      .slice(0, Math.max(0, limit))
      .map((e) => structuredClone(e.info));
  }

  async cancel(id: string): Promise<JobInfo | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const { info } = entry;
    if (info.status === 'queued') {
      for (const q of Object.values(this.queues)) {
        const i = q.indexOf(id);
        if (i >= 0) q.splice(i, 1);
      }
      this.settle(entry, { status: 'cancelled' });
      this.emitStatus(entry);
      await this.persist(entry);
      return structuredClone(entry.info);
    }
    if (info.status === 'running' && !entry.cancelRequested) {
      entry.cancelRequested = true;
      const worker = entry.worker;
      if (worker && !entry.finishing) {
        this.send(worker, { type: 'cancel', id });
        entry.graceTimer = setTimeout(() => {
          if (worker.alive && worker.jobId === id) worker.child.kill('SIGKILL');
        }, this.config.cancelGraceMs);
      }
    }
    if (isFinal(info.status) && !entry.finishing) return structuredClone(info);
    return this.wait(id);
  }

  wait(id: string, signal?: AbortSignal): Promise<JobInfo> {
    const entry = this.entries.get(id);
    if (!entry) return Promise.reject(new ConvlabError(`no job ${id}`, { hint: 'list the jobs to see their ids' }));
    if (isFinal(entry.info.status) && !entry.finishing) return Promise.resolve(structuredClone(entry.info));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closing) return Promise.reject(new ConvlabError(`the job queue closed before job ${id} finished`));
    return new Promise<JobInfo>((resolvePromise, reject) => {
      const onAbort = () => {
        this.waiters.get(id)?.delete(waiter);
        reject(signal!.reason);
      };
      const waiter = {
        resolve: (job: JobInfo) => {
          signal?.removeEventListener('abort', onAbort);
          resolvePromise(job);
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
    });
  }

  subscribe(listener: (event: JobEvent) => void, filter: { id?: string } = {}): () => void {
    const item = { listener, id: filter.id };
    this.listeners.add(item);
    return () => {
      this.listeners.delete(item);
    };
  }

  async filePath(id: string, path: string): Promise<string | undefined> {
    if (!isValidJobId(id) || !this.entries.has(id)) return undefined;
    const rel = safeRelativePath(path);
    if (!rel) return undefined;
    for (const base of [filesDir(this.runsDir, id), stagingDir(this.runsDir, id)]) {
      const file = join(base, ...rel.split('/'));
      try {
        if (!(await stat(file)).isFile()) continue;
        // Links resolved: a link inside the folder that points outside it is refused too.
        const [realFile, realBase] = await Promise.all([realpath(file), realpath(base)]);
        if (realFile.startsWith(realBase + sep)) return file;
      } catch {
        continue;
      }
    }
    return undefined;
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  // ---------------------------------------------------------------- scheduling and workers

  private poolOf(kindName: string): Pool {
    return this.config.kinds.get(kindName)?.heavy === false && this.lightConcurrency > 0 ? 'light' : 'heavy';
  }

  private limit(pool: Pool): number {
    return pool === 'heavy' ? this.concurrency : this.lightConcurrency;
  }

  /** Start queued jobs while their pool has room. */
  pump(): void {
    if (this.closing) return;
    for (const pool of ['heavy', 'light'] as const) {
      const queue = this.queues[pool];
      while (queue.length > 0) {
        const workers = [...this.pool].filter((w) => w.pool === pool && w.alive);
        if (workers.filter((w) => w.jobId !== undefined).length >= this.limit(pool)) break;
        const entry = this.entries.get(queue.shift()!);
        if (!entry || entry.info.status !== 'queued') continue;
        const worker = workers.find((w) => w.jobId === undefined) ?? this.spawn(pool);
        this.start(entry, worker);
      }
    }
  }

  private spawn(pool: Pool): WorkerHandle {
    const { entry, execArgv } = this.config.worker;
    const child = fork(entry, [], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, CONVLAB_JOB_WORKER: '1' },
      serialization: 'json',
    });
    let markExited!: () => void;
    const worker: WorkerHandle = { child, pool, pid: child.pid ?? -1, alive: true, exited: new Promise<void>((r) => (markExited = r)) };
    this.pool.add(worker);
    child.on('message', (message: WorkerMessage) => this.onMessage(worker, message));
    child.on('error', (err) => {
      this.config.warn(`worker ${worker.pid}: ${err.message}`);
      if (child.pid === undefined && worker.alive) onExit(null, null);
    });
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (!worker.alive) return;
      worker.alive = false;
      this.pool.delete(worker);
      const id = worker.jobId;
      worker.jobId = undefined;
      const entry = id === undefined ? undefined : this.entries.get(id);
      if (entry && entry.worker === worker && !entry.finishing) {
        const outcome: Outcome = this.closing
          ? { status: 'failed', error: { message: STOPPED_MESSAGE } }
          : entry.cancelRequested
            ? { status: 'cancelled' }
            : { status: 'failed', error: { message: crashMessage(code, signal, worker.fatal) } };
        void this.finish(entry, outcome);
      }
      markExited();
      this.pump();
    };
    child.on('exit', onExit);
    this.send(worker, { type: 'init', modules: this.config.urls });
    return worker;
  }

  private send(worker: WorkerHandle, message: ParentMessage): void {
    if (!worker.alive || !worker.child.connected) return;
    // A send to a worker that just died fails; its exit handler settles the job.
    worker.child.send(message, (err) => {
      if (err && worker.alive) this.config.warn(`could not reach worker ${worker.pid}: ${err.message}`);
    });
  }

  /** Busy workers keep this process alive; idle ones do not (the process may exit; they follow). */
  private hold(worker: WorkerHandle, busy: boolean): void {
    if (!worker.alive) return;
    if (busy) {
      worker.child.ref();
      worker.child.channel?.ref();
    } else {
      worker.child.unref();
      worker.child.channel?.unref();
    }
  }

  private start(entry: Entry, worker: WorkerHandle): void {
    const id = entry.info.id;
    worker.jobId = id;
    entry.worker = worker;
    this.hold(worker, true);
    // The versions an earlier attempt reached: a re-run's live images get new versions (no stale cache).
    const baseVersion = Math.max(0, ...(entry.info.artifacts ?? []).map((a) => a.version));
    entry.info.status = 'running';
    entry.info.startedAt = now();
    entry.info.worker = { host: this.host, pid: worker.pid, ...(worker.backend ? { backend: worker.backend } : {}) };
    this.emitStatus(entry);
    void this.persist(entry);
    entry.prepared = (async () => {
      await this.removeOutputs(id);
      await mkdir(stagingDir(this.runsDir, id), { recursive: true });
    })();
    entry.prepared.then(
      () => {
        if (entry.finishing || entry.worker !== worker) return;
        if (entry.cancelRequested) return void this.finish(entry, { status: 'cancelled' });
        this.send(worker, { type: 'run', id, kind: entry.info.kind, input: entry.info.input, dir: stagingDir(this.runsDir, id), baseVersion });
      },
      (err: Error) => {
        if (entry.finishing || entry.worker !== worker) return;
        void this.finish(entry, { status: 'failed', error: { message: `could not prepare the job folder ${jobDir(this.runsDir, id)}: ${err.message}` } });
      },
    );
  }

  private onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        return;
      case 'init-error':
        // The worker stays up; each job it gets fails with this message (from its own load attempt).
        this.config.warn(`worker ${worker.pid} could not load the kinds modules: ${message.message}`);
        return;
      case 'fatal':
        worker.fatal = message.message;
        return;
    }
    const entry = worker.jobId === undefined ? undefined : this.entries.get(worker.jobId);
    if (!entry || entry.info.id !== message.id || entry.worker !== worker || entry.finishing) return;
    const { info } = entry;
    switch (message.type) {
      case 'progress':
        info.progress = message.progress;
        this.emit({ type: 'progress', id: info.id, progress: message.progress });
        this.persistSoon(entry);
        return;
      case 'log':
        this.emit({ type: 'log', id: info.id, message: message.message });
        return;
      case 'artifact': {
        const artifact: JobArtifact = message.artifact;
        const i = info.artifacts.findIndex((a) => a.path === artifact.path);
        if (i >= 0) info.artifacts[i] = artifact;
        else info.artifacts.push(artifact);
        this.emit({ type: 'artifact', id: info.id, artifact });
        this.persistSoon(entry);
        return;
      }
      case 'setBackend':
        worker.backend = message.backend;
        info.worker = { host: this.host, pid: worker.pid, backend: message.backend };
        this.emitStatus(entry);
        void this.persist(entry);
        return;
      case 'result':
        void this.finish(entry, entry.cancelRequested ? { status: 'cancelled' } : { status: 'done', result: message.result });
        return;
      case 'error':
        void this.finish(entry, entry.cancelRequested ? { status: 'cancelled' } : { status: 'failed', error: message.error });
        return;
    }
  }

  /** Record a final status in memory (no event, no write). */
  private settle(entry: Entry, outcome: Outcome): void {
    const { info } = entry;
    info.status = outcome.status;
    info.finishedAt = now();
    delete info.result;
    delete info.error;
    if (outcome.status === 'done') {
      if (outcome.result !== undefined) info.result = outcome.result;
    } else {
      // Their files were removed: announcing them would only give broken links.
      info.artifacts = [];
      if (outcome.status === 'failed') info.error = outcome.error;
    }
  }

  /**
   * Finish a running job: move staging into place (done) or remove it (anything else), then record the
   * status, write job.json, tell the listeners and start what is queued next.
   */
  private finish(entry: Entry, outcome: Outcome): Promise<void> {
    if (entry.finishing) return Promise.resolve();
    entry.finishing = true;
    clearTimeout(entry.graceTimer);
    entry.graceTimer = undefined;
    const worker = entry.worker;
    entry.worker = undefined;
    if (worker && worker.jobId === entry.info.id) {
      worker.jobId = undefined;
      this.hold(worker, false);
    }
    const id = entry.info.id;
    const done = (async () => {
      await entry.prepared?.catch(() => undefined);
      entry.prepared = undefined;
      let final = outcome;
      if (final.status === 'done') {
        try {
          await rm(filesDir(this.runsDir, id), { recursive: true, force: true });
          await rename(stagingDir(this.runsDir, id), filesDir(this.runsDir, id));
        } catch (err) {
          final = { status: 'failed', error: { message: `the job finished but its files could not be moved into place: ${(err as Error).message}` } };
        }
      }
      if (final.status !== 'done') await this.removeOutputs(id).catch((err: Error) => this.config.warn(`could not remove the files of job ${id}: ${err.message}`));
      this.settle(entry, final);
      // On disk first, then the event: whoever reacts to it reads a job.json that agrees.
      await this.persist(entry);
      entry.finishing = false;
      this.emitStatus(entry);
      this.pump();
    })();
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    return done;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const [id, set] of this.waiters) {
      for (const w of set) w.reject(new ConvlabError(`the job queue closed before job ${id} finished`));
    }
    this.waiters.clear();
    const workers = [...this.pool];
    for (const w of workers) {
      w.child.kill('SIGTERM');
      const kill = setTimeout(() => w.child.kill('SIGKILL'), this.config.closeGraceMs);
      void w.exited.then(() => clearTimeout(kill));
    }
    await Promise.all(workers.map((w) => w.exited));
    while (this.finishing.size > 0) await Promise.all([...this.finishing]);
    for (const entry of this.entries.values()) {
      clearTimeout(entry.graceTimer);
      if (entry.persistTimer) void this.persist(entry);
    }
    await Promise.all([...this.entries.values()].map((e) => e.writes));
    this.listeners.clear();
  }
}
