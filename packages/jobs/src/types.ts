/** The one queue interface every driver implements (embedded process pool here; BullMQ/Redis beside it). */
import type { JobEvent, JobInfo, JobStatus } from './kind.js';

export interface SubmitOptions {
  /**
   * Deterministic id: submitting an id that exists returns the existing job unless it failed or was
   * cancelled (then it runs again under the same id). Omitted: a fresh random id.
   */
  id?: string;
  label?: string;
}

export interface ListOptions {
  kind?: string;
  status?: JobStatus | JobStatus[];
  /** Newest first; default 100. */
  limit?: number;
}

export interface JobQueue {
  /** Validate `input` against the kind's schema (throws ConvlabError naming the field) and enqueue it. */
  submit(kind: string, input: unknown, options?: SubmitOptions): Promise<JobInfo>;
  get(id: string): Promise<JobInfo | undefined>;
  list(options?: ListOptions): Promise<JobInfo[]>;
  /** Cancel a queued or running job; its staging files are removed. Returns undefined for an unknown id. */
  cancel(id: string): Promise<JobInfo | undefined>;
  /** Resolve when the job reaches a final status. */
  wait(id: string, signal?: AbortSignal): Promise<JobInfo>;
  /** Listen to every event (or one job's); returns the unsubscribe function. */
  subscribe(listener: (event: JobEvent) => void, filter?: { id?: string }): () => void;
  /** Absolute path of a file a job wrote (staging or final), or undefined when it does not exist. */
  filePath(id: string, path: string): Promise<string | undefined>;
  /** Kinds this queue can run, for listings and schemas. */
  kinds(): { kind: string; title: string; description: string; heavy: boolean }[];
  close(): Promise<void>;
}
