import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobEvent, JobInfo } from '../src/index.js';
import { alive, closeAll, makeQueue, nextEvent, removeTempDirs, tempDir } from './helpers.js';

test.afterEach.always(closeAll);
test.after.always(removeTempDirs);

const CRASH_SIGKILL = "worker crashed: killed by SIGKILL while running; the job's partial files were removed";

test.serial('heavy jobs run one at a time in submission order, on one warm worker', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue({ concurrency: 1 });
  const seen: string[] = [];
  q.subscribe((e) => {
    if (e.type === 'status' && e.job.status !== 'queued') seen.push(`${e.job.status} ${e.job.label}`);
  });
  const jobs: JobInfo[] = [];
  for (const tag of ['a', 'b', 'c', 'd']) jobs.push(await q.submit('test.sleep', { ms: 30, tag }, { label: tag }));
  const finals = await Promise.all(jobs.map((j) => q.wait(j.id)));
  t.deepEqual(seen, ['running a', 'done a', 'running b', 'done b', 'running c', 'done c', 'running d', 'done d']);
  t.deepEqual(finals.map((f) => (f.result as { tag: string }).tag), ['a', 'b', 'c', 'd']);
  const pids = new Set(finals.map((f) => (f.result as { pid: number }).pid));
  t.is(pids.size, 1, 'one worker process ran them all (kept warm)');
  t.false(pids.has(process.pid), 'jobs run outside the queue process');
  t.deepEqual(q.workers().map((w) => w.pool), ['heavy']);
});

test.serial('two heavy jobs at once with concurrency 2', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue({ concurrency: 2 });
  const dir = await tempDir();
  const gates = ['g1', 'g2'].map((g) => join(dir, g));
  const bothWaiting = Promise.all(['one', 'two'].map((id) => nextEvent(q, (e) => e.type === 'progress' && e.id === id)));
  await q.submit('test.gate', { gate: gates[0] }, { id: 'one' });
  await q.submit('test.gate', { gate: gates[1] }, { id: 'two' });
  await bothWaiting;
  t.is((await q.list({ status: 'running' })).length, 2);
  await Promise.all(gates.map((g) => writeFile(g, '')));
  const [a, b] = await Promise.all([q.wait('one'), q.wait('two')]);
  t.is(a.status, 'done');
  t.is(b.status, 'done');
  t.not(a.worker?.pid, b.worker?.pid);
});

test.serial('a light job runs beside a running heavy one', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue({ concurrency: 1, lightConcurrency: 1 });
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'heavy');
  await q.submit('test.gate', { gate }, { id: 'heavy' });
  await waiting;
  const light = await q.submit('test.light', { n: 4 });
  const done = await q.wait(light.id);
  t.is(done.status, 'done');
  t.deepEqual((done.result as { square: number }).square, 16);
  t.is((await q.get('heavy'))?.status, 'running', 'the heavy job is still running while the light one finished');
  t.deepEqual(q.workers().map((w) => w.pool).sort(), ['heavy', 'light']);
  await writeFile(gate, '');
  t.is((await q.wait('heavy')).status, 'done');
});

test.serial('progress, artifact and log events arrive in the order the job made them', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const events: JobEvent[] = [];
  q.subscribe((e) => events.push(e), { id: 'ev' });
  const other: JobEvent[] = [];
  q.subscribe((e) => other.push(e), { id: 'someone-else' });
  await q.submit('test.events', { steps: 6 }, { id: 'ev' });
  const final = await q.wait('ev');
  t.is(final.status, 'done');
  t.is(other.length, 0, 'a filtered subscriber sees only its job');

  const flow = events.filter((e) => e.type !== 'status').map((e) => (e.type === 'progress' ? `p${e.progress.done}` : e.type === 'artifact' ? `a:${e.artifact.path}@${e.artifact.version}` : e.type === 'log' ? `l:${e.message}` : '?'));
  const expected: string[] = [];
  for (let i = 1; i <= 6; i++) expected.push(`p${i}`, `a:current.txt@${i}`, `l:step ${i} done`);
  expected.push('a:final.json@1');
  t.deepEqual(flow, expected);
  const statuses = events.filter((e): e is Extract<JobEvent, { type: 'status' }> => e.type === 'status').map((e) => e.job.status);
  t.is(statuses[0], 'queued');
  t.is(statuses.at(-1), 'done');
  t.true(events.findIndex((e) => e.type === 'status' && e.job.status === 'done') === events.length - 1, 'the final status comes last');

  t.is(final.worker?.backend, 'fixture-cpu');
  t.deepEqual(final.result, { steps: 6, finalVersion: 1 });
  t.deepEqual(final.progress?.values, { loss: 1 / 6 });
  t.deepEqual(
    final.artifacts.map((a) => [a.path, a.version, a.mime]),
    [
      ['current.txt', 6, 'text/plain'],
      ['final.json', 1, 'application/json'],
    ],
  );
  t.is(await readFile(join(runsDir, 'ev', 'files', 'current.txt'), 'utf8'), 'step 6');
  t.false(existsSync(join(runsDir, 'ev', '.staging')));
  const onDisk = JSON.parse(await readFile(join(runsDir, 'ev', 'job.json'), 'utf8')) as JobInfo;
  t.is(onDisk.status, 'done');
  t.deepEqual(onDisk.result, final.result);
});

test.serial('cancelling a queued job cancels it at once; it never runs', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue({ concurrency: 1 });
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'blocker');
  await q.submit('test.gate', { gate }, { id: 'blocker' });
  await waiting;
  const queued = await q.submit('test.sleep', { tag: 'never' }, { id: 'behind' });
  t.is(queued.status, 'queued');
  const cancelled = await q.cancel('behind');
  t.is(cancelled?.status, 'cancelled');
  t.is(cancelled?.startedAt, undefined);
  t.is(await q.cancel('no-such-job'), undefined);
  await writeFile(gate, '');
  t.is((await q.wait('blocker')).status, 'done');
  const after = await q.get('behind');
  t.is(after?.status, 'cancelled');
  t.false(existsSync(join(runsDir, 'behind', 'files')));
  t.is(JSON.parse(await readFile(join(runsDir, 'behind', 'job.json'), 'utf8')).status, 'cancelled');
  // Cancelling a finished job changes nothing.
  t.is((await q.cancel('blocker'))?.status, 'done');
});

test.serial('cancelling a running job aborts it, removes its staging folder, and the worker stays', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'run1');
  const job = await q.submit('test.gate', { gate }, { id: 'run1' });
  await waiting;
  const partial = await q.filePath(job.id, 'partial.txt');
  t.is(partial, join(runsDir, 'run1', '.staging', 'partial.txt'), 'a running job serves its staging files');
  const pid = (await q.get('run1'))!.worker!.pid;
  const cancelled = await q.cancel('run1');
  t.is(cancelled?.status, 'cancelled');
  t.is(cancelled?.error, undefined);
  t.false(existsSync(join(runsDir, 'run1', '.staging')), 'no staging folder left');
  t.false(existsSync(join(runsDir, 'run1', 'files')));
  t.is(await q.filePath('run1', 'partial.txt'), undefined);
  t.true(alive(pid), 'a job that stops when asked does not cost its worker');
  const next = await q.submit('test.sleep', { tag: 'next' });
  const done = await q.wait(next.id);
  t.is(done.status, 'done');
  t.is((done.result as { pid: number }).pid, pid);
});

test.serial('a job that ignores cancel is killed after the grace period and the worker replaced', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue({ cancelGraceMs: 200 });
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'stubborn');
  await q.submit('test.gate', { gate, stubborn: true }, { id: 'stubborn' });
  await waiting;
  const pid = (await q.get('stubborn'))!.worker!.pid;
  const cancelled = await q.cancel('stubborn');
  t.is(cancelled?.status, 'cancelled');
  t.false(existsSync(join(runsDir, 'stubborn', '.staging')));
  t.false(alive(pid), 'the worker that would not stop was killed');
  const next = await q.submit('test.sleep', { tag: 'after' });
  const done = await q.wait(next.id);
  t.is(done.status, 'done');
  t.not((done.result as { pid: number }).pid, pid);
});

test.serial('a worker killed with SIGKILL fails its job with the crash message; the pool recovers', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'victim');
  await q.submit('test.gate', { gate }, { id: 'victim' });
  await waiting;
  t.true(existsSync(join(runsDir, 'victim', '.staging', 'partial.txt')));
  const pid = (await q.get('victim'))!.worker!.pid;
  const queuedBehind = await q.submit('test.sleep', { tag: 'behind' });
  process.kill(pid, 'SIGKILL');
  const failed = await q.wait('victim');
  t.is(failed.status, 'failed');
  t.is(failed.error?.message, CRASH_SIGKILL);
  t.false(existsSync(join(runsDir, 'victim', '.staging')), "the crashed job's partial files are gone");
  t.deepEqual(failed.artifacts, []);
  const next = await q.wait(queuedBehind.id);
  t.is(next.status, 'done', 'the job queued behind it runs on a fresh worker');
  t.not((next.result as { pid: number }).pid, pid);
});

test.serial('an uncaught exception in a worker fails the job and names the exception', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue();
  const job = await q.submit('test.uncaught', {});
  const failed = await q.wait(job.id);
  t.is(failed.status, 'failed');
  t.is(failed.error?.message, "worker crashed: exited with code 70 while running (uncaught Error: boom from a timer); the job's partial files were removed");
  const next = await q.wait((await q.submit('test.light', { n: 2 })).id);
  t.is(next.status, 'done');
});

test.serial('a kind that throws fails its job with its message and hint; its worker carries on', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const job = await q.submit('test.throws', {});
  const failed = await q.wait(job.id);
  t.is(failed.status, 'failed');
  t.deepEqual(failed.error, { message: 'the fixture failed on purpose', hint: 'this hint travels with the error' });
  t.false(existsSync(join(runsDir, job.id, '.staging')));
  t.false(existsSync(join(runsDir, job.id, 'files')));
  const pid = failed.worker!.pid;
  const next = await q.wait((await q.submit('test.sleep', {})).id);
  t.is((next.result as { pid: number }).pid, pid);
});

test.serial('wait() rejects when its signal aborts; list() filters, newest first', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue();
  const gate = join(await tempDir(), 'gate');
  await q.submit('test.gate', { gate }, { id: 'slow' });
  const controller = new AbortController();
  const waiting = q.wait('slow', controller.signal);
  controller.abort(new Error('stopped waiting'));
  await t.throwsAsync(waiting, { message: 'stopped waiting' });
  await t.throwsAsync(q.wait('nope'), { message: /no job nope/ });
  const light = await q.submit('test.light', { n: 1 }, { id: 'l1' });
  await q.wait(light.id);
  await writeFile(gate, '');
  await q.wait('slow');
  const all = await q.list();
  t.deepEqual(all.map((j) => j.id), ['l1', 'slow']);
  t.deepEqual((await q.list({ kind: 'test.gate' })).map((j) => j.id), ['slow']);
  t.deepEqual((await q.list({ status: ['failed', 'cancelled'] })).map((j) => j.id), []);
  t.deepEqual((await q.list({ limit: 1 })).map((j) => j.id), ['l1']);
  t.deepEqual(
    q.kinds().find((k) => k.kind === 'test.light'),
    { kind: 'test.light', title: 'Light', description: 'a quick job beside the heavy ones', heavy: false },
  );
});

test.serial('close() stops every worker and leaves job.json consistent', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue({ lightConcurrency: 1 });
  const gate = join(await tempDir(), 'gate');
  const waiting = nextEvent(q, (e) => e.type === 'progress' && e.id === 'cut');
  await q.submit('test.gate', { gate }, { id: 'cut' });
  await waiting;
  await q.wait((await q.submit('test.light', {})).id);
  const pids = q.workers().map((w) => w.pid);
  t.is(pids.length, 2);
  const pending = q.wait('cut');
  await q.close();
  await t.throwsAsync(pending, { message: /closed/ });
  for (const pid of pids) t.false(alive(pid), `worker ${pid} stopped`);
  t.deepEqual(q.workers(), []);
  const onDisk = JSON.parse(await readFile(join(runsDir, 'cut', 'job.json'), 'utf8')) as JobInfo;
  t.is(onDisk.status, 'failed');
  t.is(onDisk.error?.message, 'the studio stopped while this job ran; re-run it');
  t.false(existsSync(join(runsDir, 'cut', '.staging')));
  await t.throwsAsync(q.submit('test.light', {}), { message: /closed/ });
});
