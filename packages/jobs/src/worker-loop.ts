/**
 * The worker side of the queue protocol (see protocol.ts), independent of the transport: give it a `send`
 * and feed it the parent's messages. worker-entry.ts wires it to a forked process's IPC channel; a Redis
 * driver's worker host can reuse it as it is. One job runs at a time per worker; cancel aborts the job's
 * AbortSignal (the driver kills the process if the run function ignores it).
 */
import type { JobError, JobKind } from './kind.js';
import { loadKinds } from './modules.js';
import type { ParentMessage, RunMessage, WorkerMessage } from './protocol.js';
import { runJobInProcess } from './run.js';

export interface WorkerLoop {
  /** Handle one message from the parent. */
  handle(message: ParentMessage): void;
  /** Abort the running job (e.g. the transport closed). */
  abortAll(reason?: string): void;
  /** Resolves when no job is running. */
  idle(): Promise<void>;
}

/** A thrown value as the JobError the parent records: message, and the hint/field a ConvlabError carries. */
export function toJobError(err: unknown): JobError {
  if (err instanceof Error) {
    const out: JobError = { message: err.message || err.name };
    const { hint, field } = err as { hint?: unknown; field?: unknown };
    if (typeof hint === 'string' && hint) out.hint = hint;
    if (typeof field === 'string' && field) out.field = field;
    return out;
  }
  return { message: String(err) };
}

export function createWorkerLoop(send: (message: WorkerMessage) => void): WorkerLoop {
  let kinds: Promise<Map<string, JobKind>> | undefined;
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  const run = async (msg: RunMessage, controller: AbortController): Promise<void> => {
    try {
      if (!kinds) throw new Error('the worker got a job before its init message');
      const kind = (await kinds).get(msg.kind);
      if (!kind) throw new Error(`this worker has no job kind ${msg.kind}`);
      // Cancelled while the worker was still loading: do not start.
      if (controller.signal.aborted) throw controller.signal.reason;
      const result = await runJobInProcess(kind, msg.input, {
        id: msg.id,
        dir: msg.dir,
        signal: controller.signal,
        baseVersion: msg.baseVersion,
        validate: false,
        onEvent: send,
      });
      // Results are small JSON (file names, captions, numbers); undefined stays undefined.
      const json = result === undefined ? undefined : JSON.stringify(result);
      send({ type: 'result', id: msg.id, result: json === undefined ? undefined : JSON.parse(json) });
    } catch (err) {
      send({ type: 'error', id: msg.id, error: toJobError(err), aborted: controller.signal.aborted });
    }
  };

  return {
    handle(message) {
      switch (message.type) {
        case 'init': {
          kinds = loadKinds(message.modules);
          kinds.then(
            (map) => send({ type: 'ready', pid: process.pid, kinds: [...map.keys()] }),
            (err: Error) => send({ type: 'init-error', message: err.message }),
          );
          return;
        }
        case 'run': {
          if (running.has(message.id)) return;
          const controller = new AbortController();
          const done = run(message, controller).finally(() => running.delete(message.id));
          running.set(message.id, { controller, done });
          return;
        }
        case 'cancel': {
          running.get(message.id)?.controller.abort(new Error('the job was cancelled'));
          return;
        }
      }
    },
    abortAll(reason = 'the worker is stopping') {
      for (const { controller } of running.values()) controller.abort(new Error(reason));
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}
