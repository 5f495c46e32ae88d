/**
 * The handler side of @convlab/jobs, light enough for any package to import: a pipeline declares its job
 * kinds here (schema + run function) and every driver (the embedded process pool, the Redis driver)
 * runs them the same way. Importing a kinds module must not load tfjs or a model: do heavy imports inside
 * `run`.
 */
import type { z } from '@convlab/core/light';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Terminal statuses: a job in one of these never changes again. */
export const FINAL_STATUSES: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

export interface JobProgress {
  /** Work done and its total in the job's own unit (iterations, images, words...). */
  done: number;
  total: number;
  /** One short human line: "stage 2/3, iteration 40/100". */
  message?: string;
  /** Named numbers to plot, e.g. style loss terms at this iteration. */
  values?: Record<string, number>;
  /** Items per second and estimated seconds left, when the handler knows them. */
  rate?: number;
  etaSeconds?: number;
}

/** A file a job wrote under its folder; served by the studio at /api/jobs/:id/files/<path>. */
export interface JobArtifact {
  /** Path relative to the job's folder, '/'-separated, no '..'. */
  path: string;
  mime: string;
  bytes: number;
  /** Increases each time a live artifact (e.g. current.png) is rewritten, so a page can bust its cache. */
  version: number;
  /** What it shows ("current image, iteration 40"). */
  label?: string;
}

export interface JobError {
  message: string;
  hint?: string;
  /** The input field the error is about, when it is about one. */
  field?: string;
}

export interface WorkerInfo {
  host: string;
  pid: number;
  /** The tfjs backend the worker runs on, once known. */
  backend?: string;
}

export interface JobInfo {
  id: string;
  kind: string;
  label?: string;
  /** The validated input the job runs with (image references already resolved by the submitter). */
  input: unknown;
  status: JobStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress?: JobProgress;
  error?: JobError;
  /** JSON result returned by the kind's run function (small: file names, captions, numbers). */
  result?: unknown;
  artifacts: JobArtifact[];
  worker?: WorkerInfo;
  attempts: number;
}

/** Events a queue emits; a subscriber sees them in order for each job. */
export type JobEvent =
  | { type: 'status'; job: JobInfo }
  | { type: 'progress'; id: string; progress: JobProgress }
  | { type: 'artifact'; id: string; artifact: JobArtifact }
  | { type: 'log'; id: string; message: string };

/** What a kind's run function gets. */
export interface JobContext {
  id: string;
  /**
   * Folder to write outputs into. It is a staging folder while the job runs; the driver moves it into
   * place when `run` resolves and deletes it when the job is cancelled or crashes, so no half-written
   * files survive.
   */
  dir: string;
  signal: AbortSignal;
  progress(p: JobProgress): void;
  log(message: string): void;
  /**
   * Write a file under `dir` (atomically) and announce it; call again with the same path to update a live
   * image. Returns the artifact with its new version.
   */
  artifact(path: string, data: Uint8Array | string, options?: { mime?: string; label?: string }): Promise<JobArtifact>;
  /** Announce a file the run function already wrote under `dir` (e.g. by a pipeline's own writer). */
  announce(path: string, options?: { mime?: string; label?: string }): Promise<JobArtifact>;
  /** Record which backend this worker computes on (shown in the job's worker info). */
  setBackend(name: string): void;
}

export interface JobKind<S extends z.ZodType = z.ZodType, R = unknown> {
  /** 'style.stylize', 'visualize.attribute', ... */
  kind: string;
  title: string;
  description: string;
  /** The pipeline's option schema (or a small object schema around it); HTTP bodies are parsed with it. */
  input: S;
  /** False for quick jobs that may run beside a heavy one (default true: one CPU-heavy job at a time). */
  heavy?: boolean;
  run(input: z.output<S>, ctx: JobContext): Promise<R>;
}

export function defineJobKind<S extends z.ZodType, R>(kind: JobKind<S, R>): JobKind<S, R> {
  return kind;
}

/** A module that declares job kinds exports `jobKinds` (an array); workers import it by specifier. */
export interface JobKindsModule {
  jobKinds: JobKind[];
}
