/**
 * Load on loopback: 50 concurrent SSE clients watch 20 queued jobs (fixture kind, no tfjs). Every client
 * must see every job finish, every job must keep its result, and the server must stay up and answer other
 * requests meanwhile. Counts are bounded; the time is reported (t.log), never asserted.
 */
import test from 'ava';
import { performance } from 'node:perf_hooks';
import type { JobInfo } from '@convlab/jobs/kind';
import { fixtureStudio, json, openSse, statusOf, submit, waitJob, type SseClient } from './api-helpers.js';

const CLIENTS = 50;
const JOBS = 20;

test(`${CLIENTS} SSE clients and ${JOBS} queued jobs: every client sees every job finish, no result lost`, async (t) => {
  const studio = await fixtureStudio(t, { pingMs: 1000 });
  const clients: SseClient[] = await Promise.all(Array.from({ length: CLIENTS }, () => openSse(`${studio.url}/api/events`)));
  t.true(clients.every((c) => c.status === 200));

  const t0 = performance.now();
  const jobs: JobInfo[] = await Promise.all(Array.from({ length: JOBS }, (_, i) => submit(studio, 'test.echo', { value: `job-${i}`, steps: 5, delayMs: 5 })));
  t.is(new Set(jobs.map((j) => j.id)).size, JOBS);

  // Meanwhile the server answers other requests.
  const healthMs: number[] = [];
  const probing = (async () => {
    for (let i = 0; i < 10; i++) {
      const h0 = performance.now();
      const res = await fetch(`${studio.url}/api/health`);
      await res.text();
      healthMs.push(performance.now() - h0);
      if (res.status !== 200) throw new Error(`health ${res.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const ids = new Set(jobs.map((j) => j.id));
  const finishedFor = (c: SseClient) => new Set(c.messages.filter((m) => statusOf(m) === 'done' && ids.has((m.data as { job: JobInfo }).job.id)).map((m) => (m.data as { job: JobInfo }).job.id));
  await Promise.all(
    clients.map((c) =>
      // Bounded: a lost event fails here (after 4 minutes), not by hanging the suite.
      c.waitFor(() => finishedFor(c).size === JOBS, 240_000),
    ),
  );
  const drainSeconds = (performance.now() - t0) / 1000;
  await probing;

  for (const c of clients) t.is(finishedFor(c).size, JOBS);
  const finals = await Promise.all(jobs.map((j) => waitJob(studio, j.id)));
  t.true(finals.every((j) => j.status === 'done'));
  t.deepEqual(
    finals.map((j) => (j.result as { value: string }).value),
    jobs.map((_, i) => `job-${i}`),
  );
  const listed = await json<JobInfo[]>(await fetch(`${studio.url}/api/jobs?status=done&limit=1000`));
  t.is(listed.filter((j) => ids.has(j.id)).length, JOBS);

  const received = clients.reduce((n, c) => n + c.messages.length, 0);
  const byType: Record<string, number> = {};
  for (const c of clients) for (const m of c.messages) byType[m.event] = (byType[m.event] ?? 0) + 1;
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.ended));
  const sorted = [...healthMs].sort((a, b) => a - b);
  t.log(`load: ${CLIENTS} SSE clients, ${JOBS} jobs (test.echo, 5 progress steps each, concurrency 1)`);
  t.log(`load: queue drained and every client saw every job finish in ${drainSeconds.toFixed(2)} s`);
  t.log(`load: events received by the clients ${received} (${Object.entries(byType).map(([k, v]) => `${k} ${v}`).join(', ')}); written by the server ${studio.eventsDelivered}`);
  t.log(`load: /api/health during the load: median ${sorted[sorted.length >> 1].toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length} requests`);
  t.true(received >= CLIENTS * JOBS * 2, 'at least a running and a done status per job per client');
});
