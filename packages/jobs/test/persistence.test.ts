import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core/light';
import { JobInputError, STOPPED_MESSAGE, type JobInfo } from '../src/index.js';
import { closeAll, makeQueue, nextEvent, removeTempDirs, tempDir } from './helpers.js';

test.afterEach.always(closeAll);
test.after.always(removeTempDirs);

const readJob = async (runsDir: string, id: string): Promise<JobInfo> => JSON.parse(await readFile(join(runsDir, id, 'job.json'), 'utf8')) as JobInfo;

test.serial('results survive a restart; queued jobs run again in order; a job left running becomes failed', async (t) => {
  t.timeout(90_000);
  const { q: first, runsDir } = await makeQueue({ concurrency: 1 });
  const done = await first.wait((await first.submit('test.sleep', { tag: 'kept' }, { id: 'kept' })).id);
  t.is(done.status, 'done');

  const gate = join(await tempDir(), 'gate-never-opened');
  const waiting = nextEvent(first, (e) => e.type === 'progress' && e.id === 'cut-off');
  await first.submit('test.gate', { gate }, { id: 'cut-off' });
  await waiting;
  for (const tag of ['q1', 'q2', 'q3']) await first.submit('test.sleep', { ms: 20, tag }, { id: tag });
  await first.submit('test.light', { n: 5 }, { id: 'light-q' });
  // A job.json a crashed studio left behind: status running, half-written files in staging.
  const ghost: JobInfo = { id: 'ghost', kind: 'test.sleep', input: { ms: 1, tag: 'g' }, status: 'running', createdAt: new Date(0).toISOString(), startedAt: new Date(1).toISOString(), artifacts: [{ path: 'half.txt', mime: 'text/plain', bytes: 4, version: 1 }], attempts: 1 };
  await mkdir(join(runsDir, 'ghost', '.staging'), { recursive: true });
  await writeFile(join(runsDir, 'ghost', '.staging', 'half.txt'), 'half');
  await writeFile(join(runsDir, 'ghost', 'job.json'), JSON.stringify(ghost));
  // Not job folders: left alone.
  await mkdir(join(runsDir, 'uploads'), { recursive: true });
  await writeFile(join(runsDir, 'uploads', 'x.bin'), 'upload');
  await mkdir(join(runsDir, 'broken'), { recursive: true });
  await writeFile(join(runsDir, 'broken', 'job.json'), '{ not json');

  // The light job runs in its own pool, beside cut-off; the heavy ones wait behind cut-off.
  t.is((await first.wait('light-q')).status, 'done');
  await first.close();
  for (const id of ['q1', 'q2', 'q3']) t.is((await readJob(runsDir, id)).status, 'queued', `${id} is still queued on disk`);
  t.is((await readJob(runsDir, 'cut-off')).status, 'failed');

  const warnings: string[] = [];
  const { q: second } = await makeQueue({ runsDir, concurrency: 1, onWarning: (m) => warnings.push(m) });
  const kept = await second.get('kept');
  t.is(kept?.status, 'done');
  t.deepEqual(kept?.result, done.result);
  const file = await second.filePath('kept', 'out.txt');
  t.is(file, join(runsDir, 'kept', 'files', 'out.txt'));
  t.is(await readFile(file!, 'utf8'), 'tag=kept\n');

  const ghostNow = await second.get('ghost');
  t.is(ghostNow?.status, 'failed');
  t.is(ghostNow?.error?.message, STOPPED_MESSAGE);
  t.is(ghostNow?.error?.message, 'the studio stopped while this job ran; re-run it');
  t.deepEqual(ghostNow?.artifacts, []);
  t.false(existsSync(join(runsDir, 'ghost', '.staging')), 'its staging folder was removed');
  t.is((await readJob(runsDir, 'ghost')).status, 'failed', 'and job.json says so');
  t.is((await second.get('cut-off'))?.error?.message, STOPPED_MESSAGE);

  const finals = await Promise.all(['q1', 'q2', 'q3'].map((id) => second.wait(id)));
  t.deepEqual(finals.map((f) => f.status), ['done', 'done', 'done']);
  t.deepEqual((await second.get('light-q'))?.result, { square: 25, pid: (await second.get('light-q'))?.worker?.pid });
  const [q1, q2, q3] = finals;
  t.true(q1.finishedAt! <= q2.startedAt! && q2.finishedAt! <= q3.startedAt!, 'the queued jobs ran in their original order');
  t.true(existsSync(join(runsDir, 'uploads', 'x.bin')));
  t.is(await second.get('uploads'), undefined);
  t.is(await second.get('broken'), undefined);
  t.true(warnings.some((w) => w.includes('broken')), 'an unreadable job.json is reported');
  t.deepEqual((await second.list()).map((j) => j.id).sort(), ['cut-off', 'ghost', 'kept', 'light-q', 'q1', 'q2', 'q3']);
});

test.serial('a deterministic id returns the existing job; a failed or cancelled one runs again', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const [a, b] = await Promise.all([q.submit('test.sleep', { tag: 'x' }, { id: 'demo.style-1' }), q.submit('test.sleep', { tag: 'x' }, { id: 'demo.style-1' })]);
  t.is(a.id, 'demo.style-1');
  t.is(b.id, 'demo.style-1');
  const done = await q.wait('demo.style-1');
  const again = await q.submit('test.sleep', { tag: 'x' }, { id: 'demo.style-1' });
  t.is(again.status, 'done');
  t.is(again.attempts, 1);
  t.is(again.finishedAt, done.finishedAt, 'nothing ran again');
  t.is((await q.list()).length, 1);

  await q.submit('test.maybe', { fail: true }, { id: 'flaky' });
  const failed = await q.wait('flaky');
  t.is(failed.status, 'failed');
  t.is(failed.error?.message, 'told to fail');
  t.false(existsSync(join(runsDir, 'flaky', '.staging')));
  const rerun = await q.submit('test.maybe', { fail: false }, { id: 'flaky' });
  t.is(rerun.attempts, 2);
  t.is(rerun.createdAt, failed.createdAt);
  const ok = await q.wait('flaky');
  t.is(ok.status, 'done');
  t.is(ok.error, undefined);
  t.deepEqual(ok.result, { ok: true });
  t.is(ok.artifacts[0].path, 'attempt.txt');
  t.true(ok.artifacts[0].version > failed.artifacts.length, 'versions keep increasing across attempts');
  t.true(existsSync(join(runsDir, 'flaky', 'files', 'attempt.txt')));
  t.is((await readJob(runsDir, 'flaky')).attempts, 2);

  const gate = join(await tempDir(), 'gate');
  await q.submit('test.gate', { gate }, { id: 'stopped' });
  t.is((await q.cancel('stopped'))?.status, 'cancelled');
  await writeFile(gate, '');
  const restarted = await q.submit('test.gate', { gate }, { id: 'stopped' });
  t.is(restarted.attempts, 2);
  t.is((await q.wait('stopped')).status, 'done');

  const other = await t.throwsAsync(q.submit('test.light', {}, { id: 'flaky' }), { instanceOf: JobInputError });
  t.is(other?.field, 'id');
  t.regex(other!.message, /already used by a test\.maybe job/);
  for (const bad of ['', '../up', '.hidden', 'a/b', 'a b', '-dash', 'x'.repeat(129)]) {
    const err = await t.throwsAsync(q.submit('test.light', {}, { id: bad }), { instanceOf: JobInputError }, `id ${JSON.stringify(bad)}`);
    t.is(err?.field, 'id');
  }
  t.is((await q.submit('test.light', {}, { id: 'x'.repeat(128) })).id.length, 128);
  await mkdir(join(runsDir, 'uploads'));
  const taken = await t.throwsAsync(q.submit('test.light', {}, { id: 'uploads' }), { instanceOf: JobInputError });
  t.is(taken?.field, 'id');
  const fresh = await q.submit('test.light', {});
  t.regex(fresh.id, /^[a-f0-9]{32}$/);
});

test.serial('invalid input is refused before queueing, naming the field', async (t) => {
  t.timeout(60_000);
  const { q } = await makeQueue();
  const range = await t.throwsAsync(q.submit('test.sleep', { ms: -5 }), { instanceOf: JobInputError });
  t.true(range instanceof ConvlabError);
  t.is(range?.field, 'ms');
  t.regex(range!.message, /^ms -5 is out of range/);
  t.truthy(range?.hint);
  const type = await t.throwsAsync(q.submit('test.sleep', { tag: 42 }), { instanceOf: JobInputError });
  t.is(type?.field, 'tag');
  t.regex(type!.message, /^tag 42/);
  const unknown = await t.throwsAsync(q.submit('test.sleep', { ms: 1, bogus: true }), { instanceOf: JobInputError });
  t.is(unknown?.field, 'bogus');
  t.regex(unknown!.message, /"bogus"/);
  const missing = await t.throwsAsync(q.submit('test.gate', {}), { instanceOf: JobInputError });
  t.is(missing?.field, 'gate');
  t.regex(missing!.message, /^missing gate/);
  const notObject = await t.throwsAsync(q.submit('test.sleep', 'ms=5'), { instanceOf: JobInputError });
  t.is(notObject?.field, 'input');
  const kind = await t.throwsAsync(q.submit('test.nope', {}), { instanceOf: JobInputError });
  t.is(kind?.field, 'kind');
  t.regex(kind!.message, /unknown job kind "test\.nope"/);
  t.regex(kind!.hint!, /test\.sleep/);
  t.deepEqual(await q.list(), [], 'nothing was queued');
  // Defaults are filled in: the job's input is what it runs with.
  const job = await q.submit('test.sleep', { ms: 1 });
  t.deepEqual(job.input, { ms: 1, tag: '' });
  await q.wait(job.id);
});
