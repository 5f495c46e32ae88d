/**
 * Run one job kind in this process with the JobContext every driver gives it. The embedded driver's worker
 * processes call this for each job; tests of a kind call it directly (no queue, no child process); a Redis
 * worker calls it with its own event sink.
 */
import { mkdir, stat } from 'node:fs/promises';
import type { z } from '@convlab/core/light';
import { join } from 'node:path';
import { parseJobInput } from './input.js';
import type { JobArtifact, JobContext, JobKind, JobProgress } from './kind.js';
import { mimeOf, safeRelativePath, writeFileAtomically } from './layout.js';
import type { RunEvent } from './protocol.js';

export interface RunInProcessOptions {
  /** The job id the context reports (default 'local'). */
  id?: string;
  /** The folder ctx.dir names (created if missing). A driver passes its staging folder. */
  dir: string;
  signal?: AbortSignal;
  /** Progress, log, artifact and backend events, in the order the run function made them. */
  onEvent?: (event: RunEvent) => void;
  /** Artifact versions start above this (a re-run keeps versions increasing across attempts). */
  baseVersion?: number;
  /**
   * Parse `input` with the kind's schema first (defaults filled, 'code' messages). Default true; a driver
   * whose submitter already validated the input passes false (parsing a parsed value again is not always
   * the identity).
   */
  validate?: boolean;
}

export interface JobContextHandle {
  ctx: JobContext;
  /** Resolves once every artifact write the run function started has finished (or failed). */
  settled(): Promise<void>;
}

/** The JobContext for one run: atomic artifact writes under `dir`, per-path increasing versions. */
export function createJobContext(options: { id: string; dir: string; signal: AbortSignal; emit: (event: RunEvent) => void; baseVersion?: number }): JobContextHandle {
  const { id, dir, signal, emit } = options;
  const base = options.baseVersion ?? 0;
  const versions = new Map<string, number>();
  // Writes to one path are chained so the file on disk and the last announced version always agree.
  const chains = new Map<string, Promise<unknown>>();
  const pending = new Set<Promise<unknown>>();

  const checkPath = (path: string): string => {
    const rel = safeRelativePath(path);
    if (!rel) throw new Error(`artifact path ${JSON.stringify(path)} must be a relative path inside the job folder (no '..', not absolute)`);
    return rel;
  };
  const nextVersion = (rel: string): number => {
    const v = Math.max(base, versions.get(rel) ?? 0) + 1;
    versions.set(rel, v);
    return v;
  };
  const chained = <T>(rel: string, step: () => Promise<T>): Promise<T> => {
    const previous = chains.get(rel) ?? Promise.resolve();
    const next = previous.then(step, step);
    const tail = next.catch(() => undefined);
    chains.set(rel, tail);
    pending.add(tail);
    void tail.then(() => pending.delete(tail));
    return next;
  };

  const ctx: JobContext = {
    id,
    dir,
    signal,
    progress(p: JobProgress) {
      emit({ type: 'progress', id, progress: { ...p } });
    },
    log(message: string) {
      emit({ type: 'log', id, message: String(message) });
    },
    setBackend(name: string) {
      emit({ type: 'setBackend', id, backend: String(name) });
    },
    artifact(path, data, opts = {}) {
      const rel = checkPath(path);
      return chained(rel, async () => {
        await writeFileAtomically(join(dir, ...rel.split('/')), data);
        const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
        const artifact: JobArtifact = { path: rel, mime: opts.mime ?? mimeOf(rel), bytes, version: nextVersion(rel) };
        if (opts.label !== undefined) artifact.label = opts.label;
        emit({ type: 'artifact', id, artifact: { ...artifact } });
        return artifact;
      });
    },
    announce(path, opts = {}) {
      const rel = checkPath(path);
      return chained(rel, async () => {
        const file = join(dir, ...rel.split('/'));
        const st = await stat(file).catch(() => undefined);
        if (!st?.isFile()) throw new Error(`cannot announce ${rel}: no such file under the job folder (write it under ctx.dir first)`);
        const artifact: JobArtifact = { path: rel, mime: opts.mime ?? mimeOf(rel), bytes: st.size, version: nextVersion(rel) };
        if (opts.label !== undefined) artifact.label = opts.label;
        emit({ type: 'artifact', id, artifact: { ...artifact } });
        return artifact;
      });
    },
  };
  return {
    ctx,
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/**
 * Run `kind` on `input` here, with the same JobContext semantics as in a queue's worker. Returns what the
 * kind's run function returns; its files are in `dir` (no staging/rename here: that is the driver's part).
 */
export async function runJobInProcess<S extends z.ZodType, R>(kind: JobKind<S, R>, input: unknown, options: RunInProcessOptions): Promise<R> {
  await mkdir(options.dir, { recursive: true });
  let parsed = input;
  if (options.validate !== false) {
    parsed = parseJobInput(kind as JobKind, input, 'code');
  }
  const signal = options.signal ?? new AbortController().signal;
  const onEvent = options.onEvent ?? (() => undefined);
  const handle = createJobContext({ id: options.id ?? 'local', dir: options.dir, signal, emit: onEvent, baseVersion: options.baseVersion });
  try {
    return await kind.run(parsed as z.output<S>, handle.ctx);
  } finally {
    // A run function that forgot to await an artifact must not leave a write going after it "finished".
    await handle.settled();
  }
}
