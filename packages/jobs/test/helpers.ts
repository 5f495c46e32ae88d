import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddedQueue, type EmbeddedQueue, type EmbeddedQueueOptions, type JobEvent, type JobQueue } from '../src/index.js';

export const FIXTURE_KINDS = fileURLToPath(new URL('./fixtures/kinds.ts', import.meta.url));

const open: EmbeddedQueue[] = [];
const dirs: string[] = [];

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'convlab-jobs-test-'));
  dirs.push(dir);
  return dir;
}

/**
 * A queue over the fixture kinds in a fresh runs folder (or the given one); closed by closeAll(). closeAll
 * closes every queue of the file, so tests that make queues are test.serial.
 */
export async function makeQueue(options: Partial<EmbeddedQueueOptions> = {}): Promise<{ q: EmbeddedQueue; runsDir: string }> {
  const runsDir = options.runsDir ?? join(await tempDir(), 'runs');
  const q = await createEmbeddedQueue({ modules: [FIXTURE_KINDS], cancelGraceMs: 5000, onWarning: () => undefined, ...options, runsDir });
  open.push(q);
  return { q, runsDir };
}

/** Close every queue the tests made (their workers stop) and remove the temporary folders. */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((q) => q.close()));
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** The first event matching `pred` (subscribe before submitting the job it is about). */
export function nextEvent(q: JobQueue, pred: (e: JobEvent) => boolean): Promise<JobEvent> {
  return new Promise((resolve) => {
    const off = q.subscribe((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
