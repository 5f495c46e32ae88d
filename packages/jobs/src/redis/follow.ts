/**
 * What a batch CLI does with --queue after submitting: one progress bar for the whole run (items done of
 * total, items/s, ETA), fed by the queue's events; Ctrl-C (the signal) cancels the run on every worker, and
 * the finished shards stay stored, so the same command resumes it.
 */
import type { JobInfo } from '../kind.js';
import type { RedisJobQueue } from './queue.js';

export interface FollowOptions {
  label: string;
  unit?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export async function followRun(queue: RedisJobQueue, id: string, options: FollowOptions): Promise<JobInfo> {
  const { createProgress } = await import('@convlab/core');
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const { done, total } = await queue.items(id);
  const workers = await queue.workers();
  log(`${options.label}: run ${id} on ${queue.url.replace(/\/\/[^@]*@/, '//')}, ${total} items, ${workers.length} worker(s) connected${workers.length ? ': ' + workers.map((w) => `${w.host}:${w.pid}${w.backend ? ` (${w.backend})` : ''}`).join(', ') : ' (start some with convlab-worker --queue ...)'}`);
  const bar = total > 0 ? createProgress({ total, label: options.label, unit: options.unit ?? 'img' }) : undefined;
  bar?.update(done);
  const unsubscribe = queue.subscribe((e) => {
    if (e.type === 'progress' && bar) bar.update(Math.min(e.progress.done, total));
    else if (e.type === 'log') log(`${options.label}: ${e.message}`);
  }, { id });
  const onAbort = () => {
    void queue.cancel(id).then(() => log(`${options.label}: run ${id} cancelled; finished shards are kept, run the same command to resume`));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await queue.wait(id);
    if (info.status === 'done') bar?.update(total);
    return info;
  } finally {
    bar?.stop();
    unsubscribe();
    options.signal?.removeEventListener('abort', onAbort);
  }
}
