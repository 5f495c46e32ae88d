/**
 * Entry file of a worker process (child_process.fork). It speaks protocol.ts over the IPC channel through
 * worker-loop.ts, stays alive between jobs (tfjs and models stay loaded), and exits when the parent goes
 * away. An uncaught exception is reported to the parent (message 'fatal') before the process exits, so the
 * job fails with what went wrong.
 */
import { isParentMessage, type WorkerMessage } from './protocol.js';
import { createWorkerLoop } from './worker-loop.js';

if (typeof process.send !== 'function') {
  process.stderr.write('@convlab/jobs worker-entry: run this file with child_process.fork (it needs an IPC channel)\n');
  process.exit(2);
}

const send = (message: WorkerMessage): void => {
  if (process.connected) process.send!(message);
};

const loop = createWorkerLoop(send);

process.on('message', (message: unknown) => {
  if (isParentMessage(message)) loop.handle(message);
});

// The parent died or closed the channel: nobody wants the result any more.
process.on('disconnect', () => {
  loop.abortAll('the queue went away');
  process.exit(0);
});

// Ctrl-C in a terminal reaches the whole process group: the queue decides what happens to its jobs
// (close() stops the workers), so a worker does not die of it on its own.
process.on('SIGINT', () => undefined);

let dying = false;
const fatal = (err: unknown): void => {
  if (dying) return;
  dying = true;
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const exit = () => process.exit(70);
  if (process.connected) {
    process.send!({ type: 'fatal', message: `uncaught ${text}` } satisfies WorkerMessage, undefined, {}, exit);
    setTimeout(exit, 1000).unref();
  } else exit();
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
