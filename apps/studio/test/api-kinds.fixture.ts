/**
 * Tiny job kinds for the studio's API and load tests: no tfjs, no model, each finishing in milliseconds
 * unless told to wait, so the tests exercise the server and the queue, not the pipelines.
 */
import { readFile } from 'node:fs/promises';
import { z } from '@convlab/core/light';
import { defineJobKind, type JobKind } from '@convlab/jobs/kind';

/** A 2×2 PNG (red, green / blue, white), for a live artifact a page would draw. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=',
  'base64',
);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    if (signal.aborted) return done();
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), done()), { once: true });
  });

export const echo = defineJobKind({
  kind: 'test.echo',
  title: 'Echo',
  description: 'Reports progress `steps` times, rewrites a live PNG, writes out.json, returns its input.',
  input: z.object({
    value: z.string().min(1).describe('text to echo'),
    steps: z.number().int().min(1).max(100).default(3).describe('progress steps'),
    delayMs: z.number().int().min(0).max(10_000).default(10).describe('pause per step'),
    image: z.string().optional().describe('an image the job reads (its size is returned)'),
  }),
  heavy: true,
  async run(input, ctx) {
    for (let i = 1; i <= input.steps; i++) {
      await sleep(input.delayMs, ctx.signal);
      if (ctx.signal.aborted) throw new Error('cancelled');
      ctx.progress({ done: i, total: input.steps, message: `step ${i}/${input.steps}`, values: { loss: 1 / i } });
      await ctx.artifact('live.png', PNG, { mime: 'image/png', label: `step ${i}` });
    }
    const imageBytes = input.image ? (await readFile(input.image)).length : undefined;
    await ctx.artifact('out.json', JSON.stringify({ value: input.value }), { mime: 'application/json' });
    return { value: input.value, steps: input.steps, imageBytes, pid: process.pid };
  },
});

export const sleepKind = defineJobKind({
  kind: 'test.sleep',
  title: 'Sleep',
  description: 'Waits `ms` (or until cancelled), then returns.',
  input: z.object({ ms: z.number().int().min(0).max(60_000).default(200).describe('how long') }),
  heavy: true,
  async run(input, ctx) {
    await ctx.artifact('started.txt', String(Date.now()));
    await sleep(input.ms, ctx.signal);
    if (ctx.signal.aborted) throw new Error('cancelled');
    return { slept: input.ms };
  },
});

export const crash = defineJobKind({
  kind: 'test.crash',
  title: 'Crash',
  description: 'Kills its own worker process (SIGKILL), as an out-of-memory kill would.',
  input: z.object({ afterMs: z.number().int().min(0).max(10_000).default(20).describe('wait before dying') }),
  heavy: true,
  async run(input, ctx) {
    await ctx.artifact('partial.txt', 'half a result');
    await sleep(input.afterMs, ctx.signal);
    process.kill(process.pid, 'SIGKILL');
    return {};
  },
});

export const jobKinds: JobKind[] = [echo, sleepKind, crash] as JobKind[];
