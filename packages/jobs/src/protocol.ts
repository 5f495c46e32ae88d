/**
 * Messages between a queue and a worker process (Node IPC, JSON). The embedded driver speaks them over
 * child_process.fork's channel; a Redis driver's worker host can fork the same worker entry and speak them too.
 *
 * parent -> worker: init (once), run, cancel
 * worker -> parent: ready | init-error (once), then for each run: progress, log, artifact, setBackend in the
 *                   order the run function made them, ending with exactly one result or error; fatal just
 *                   before the process dies of an uncaught exception.
 */
import type { JobArtifact, JobError, JobProgress } from './kind.js';

export interface InitMessage {
  type: 'init';
  /** Module URLs (file:...) or specifiers, each exporting `jobKinds`. */
  modules: string[];
}

export interface RunMessage {
  type: 'run';
  id: string;
  kind: string;
  /** Already validated by the submitter (the worker does not parse it again). */
  input: unknown;
  /** Absolute staging folder for ctx.dir. */
  dir: string;
  /** Artifact versions of this run start above this (the versions an earlier attempt reached). */
  baseVersion?: number;
}

export interface CancelMessage {
  type: 'cancel';
  id: string;
}

export type ParentMessage = InitMessage | RunMessage | CancelMessage;

/** What a running job reports (runJobInProcess's onEvent gets the same objects). */
export type RunEvent =
  | { type: 'progress'; id: string; progress: JobProgress }
  | { type: 'log'; id: string; message: string }
  | { type: 'artifact'; id: string; artifact: JobArtifact }
  | { type: 'setBackend'; id: string; backend: string };

export type WorkerMessage =
  | { type: 'ready'; pid: number; kinds: string[] }
  | { type: 'init-error'; message: string }
  | RunEvent
  | { type: 'result'; id: string; result: unknown }
  | { type: 'error'; id: string; error: JobError; aborted: boolean }
  | { type: 'fatal'; message: string };

const TYPES = new Set(['init', 'run', 'cancel']);

export const isParentMessage = (m: unknown): m is ParentMessage =>
  typeof m === 'object' && m !== null && TYPES.has((m as { type?: unknown }).type as string);
