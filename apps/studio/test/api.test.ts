/**
 * The studio's HTTP API against a running server on loopback (apps/studio/API.md), over the fixture kinds
 * (tiny, no tfjs) so the tests exercise the server and the queue: uploads good and bad, job submission and
 * validation, queue order, cancel, a worker crash, restart persistence, SSE, files and traversal.
 */
import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import type { JobInfo } from '@convlab/jobs/kind';
import type { Studio } from '../src/server/index.js';
import { fixtureStudio, getJob, json, openSse, post, statusOf, submit, waitJob } from './api-helpers.js';

type ErrorBody = { error: { message: string; field?: string; hint?: string } };

const LIMITS = { maxBytes: 60_000, maxPixels: 10_000 };
let shared: Promise<Studio> | undefined;
/** One studio for the tests that do not need their own (small upload limits to test them cheaply). */
const studioFor = (_t?: unknown) => (shared ??= fixtureStudio(undefined, { uploadLimits: LIMITS, pingMs: 200 }));
test.after.always(async () => {
  if (!shared) return;
  const studio = await shared;
  await studio.close();
  await rm(studio.runsDir, { recursive: true, force: true });
});

const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toBuffer();
const jpeg = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 20, g: 130, b: 60 } } }).jpeg().toBuffer();

async function upload(studio: Studio, bytes: Uint8Array, name = 'x.png', type = 'image/png', field = 'file'): Promise<Response> {
  const form = new FormData();
  form.append(field, new Blob([bytes], { type }), name);
  return fetch(`${studio.url}/api/uploads`, { method: 'POST', body: form });
}

// ---------------------------------------------------------------- meta

test('health, kinds with their JSON schemas and image fields, samples', async (t) => {
  const studio = await studioFor(t);
  const health = await json<{ ok: boolean; queue: { driver: string; concurrency: number } }>(await fetch(`${studio.url}/api/health`));
  t.true(health.ok);
  t.is(health.queue.concurrency, 1);
  const kinds = await json<{ kind: string; heavy: boolean; imageFields: string[]; schema: { type: string; properties: Record<string, unknown> } }[]>(await fetch(`${studio.url}/api/kinds`));
  t.deepEqual(kinds.map((k) => k.kind).sort(), ['test.crash', 'test.echo', 'test.sleep']);
  const echo = kinds.find((k) => k.kind === 'test.echo')!;
  t.is(echo.schema.type, 'object');
  t.truthy(echo.schema.properties.steps);
  t.deepEqual(echo.imageFields, ['image']);
  const samples = await json<{ content: { ref: string; url: string }[]; style: { ref: string }[] }>(await fetch(`${studio.url}/api/samples`));
  const dog = samples.content.find((s) => s.ref === 'sample:content/dog.jpg')!;
  t.truthy(dog);
  t.true(samples.style.length > 0);
  const res = await fetch(studio.url + dog.url);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'image/jpeg');
});

test('unknown routes are JSON 404s; bad JSON is a JSON 400', async (t) => {
  const studio = await studioFor(t);
  const res = await fetch(`${studio.url}/api/nope`);
  t.is(res.status, 404);
  t.regex((await json<ErrorBody>(res)).error.message, /no such page/);
  const bad = await fetch(`${studio.url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind": ' });
  t.is(bad.status, 400);
  t.truthy((await json<ErrorBody>(bad)).error.message);
  const sample = await fetch(`${studio.url}/samples/content/..%2f..%2fpackage.json`);
  t.is(sample.status, 404);
});

// ---------------------------------------------------------------- uploads

test('a PNG and a JPEG upload: sniffed, stored under the server\'s own name, served back', async (t) => {
  const studio = await studioFor(t);
  for (const [bytes, format, mime] of [
    [await png(40, 30), 'png', 'image/png'],
    [await jpeg(30, 40), 'jpeg', 'image/jpeg'],
  ] as const) {
    // The declared type and name lie (the bytes decide).
    const res = await upload(studio, bytes, 'holiday.gif', 'text/plain');
    t.is(res.status, 201);
    const info = await json<{ id: string; ref: string; url: string; width: number; height: number; format: string; bytes: number }>(res);
    t.regex(info.id, /^[a-f0-9]{32}$/);
    t.is(info.ref, `upload:${info.id}`);
    t.is(info.format, format);
    t.is(info.bytes, bytes.length);
    t.is(info.width * info.height, 1200);
    const back = await fetch(studio.url + info.url);
    t.is(back.status, 200);
    t.is(back.headers.get('content-type'), mime);
    t.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
  }
  const files = await readdir(join(studio.runsDir, 'uploads'));
  t.true(files.every((f) => /^[a-f0-9]{32}\.(png|jpg|json)$/.test(f)), files.join(','));
});

test('a file name with ../ is ignored: nothing is written outside the uploads folder', async (t) => {
  const studio = await studioFor(t);
  const bytes = await png(20, 21);
  const res = await upload(studio, bytes, '../../../../tmp/convlab-evil.png');
  t.is(res.status, 201);
  const info = await json<{ id: string }>(res);
  t.true((await readdir(join(studio.runsDir, 'uploads'))).includes(`${info.id}.png`));
  t.false((await readdir(studio.runsDir)).some((f) => f.includes('evil')));
  t.false((await readdir('/tmp')).includes('convlab-evil.png'));
});

test('bad uploads: text renamed .png is 415, no file 400, over the byte limit 413, over the pixel limit 413', async (t) => {
  const studio = await studioFor(t);
  const text = await upload(studio, Buffer.from('hello, I am not an image\n'.repeat(10)), 'photo.png', 'image/png');
  t.is(text.status, 415);
  const textBody = await json<ErrorBody>(text);
  t.is(textBody.error.field, 'file');
  t.regex(textBody.error.hint!, /JPEG, PNG/);

  const svg = await upload(studio, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'), 'a.png');
  t.is(svg.status, 415);

  const empty = await upload(studio, Buffer.alloc(0));
  t.is(empty.status, 400);
  const wrongField = await upload(studio, await png(8, 8), 'a.png', 'image/png', 'image');
  t.is(wrongField.status, 400);
  t.regex((await json<ErrorBody>(wrongField)).error.message, /"image", not "file"/);
  const notMultipart = await post(studio, '/api/uploads', { file: 'x' });
  t.is(notMultipart.status, 400);
  t.is((await json<ErrorBody>(notMultipart)).error.field, 'file');
  const noBody = await fetch(`${studio.url}/api/uploads`, { method: 'POST' });
  t.is(noBody.status, 400);

  const big = await upload(studio, Buffer.alloc(LIMITS.maxBytes + 1000, 7));
  t.is(big.status, 413);
  t.regex((await json<ErrorBody>(big)).error.message, /over the studio's limit/);

  const huge = await upload(studio, await png(120, 100)); // 12,000 px > 10,000; a few hundred bytes
  t.is(huge.status, 413);
  t.regex((await json<ErrorBody>(huge)).error.message, /120×100 .* MP/);

  // The server is still fine afterwards.
  t.is((await upload(studio, await png(9, 9))).status, 201);
});

test('upload ids: anything but 32 hex digits, or an unknown one, is 404', async (t) => {
  const studio = await studioFor(t);
  for (const id of ['..%2F..%2Fpackage.json', 'abc', '0'.repeat(32), 'G'.repeat(32)]) {
    const res = await fetch(`${studio.url}/api/uploads/${id}`);
    t.is(res.status, 404, id);
    t.truthy((await json<ErrorBody>(res)).error.message);
  }
});

// ---------------------------------------------------------------- jobs

test('a valid job runs; its result, progress and files are served; an upload reference resolves', async (t) => {
  const studio = await studioFor(t);
  const up = await json<{ ref: string; bytes: number }>(await upload(studio, await png(10, 12)));
  const job = await submit(studio, 'test.echo', { value: 'hi', steps: 2, image: up.ref });
  t.is(job.kind, 'test.echo');
  t.true(['queued', 'running'].includes(job.status));
  // Responses show the reference, not the server path it resolved to.
  t.is((job.input as { image: string }).image, up.ref);
  const done = await waitJob(studio, job.id);
  t.is(done.status, 'done', JSON.stringify(done.error));
  t.like(done.result, { value: 'hi', steps: 2, imageBytes: up.bytes });
  t.like(done.progress, { done: 2, total: 2 });
  t.deepEqual(done.artifacts.map((a) => a.path).sort(), ['live.png', 'out.json']);
  const live = await fetch(`${studio.url}/api/jobs/${job.id}/files/live.png`);
  t.is(live.status, 200);
  t.is(live.headers.get('content-type'), 'image/png');
  t.is(live.headers.get('x-content-type-options'), 'nosniff');
  const out = await fetch(`${studio.url}/api/jobs/${job.id}/files/out.json`);
  t.deepEqual(await out.json(), { value: 'hi' });
  // A sample reference works the same way.
  const withSample = await waitJob(studio, (await submit(studio, 'test.echo', { value: 's', steps: 1, image: 'sample:content/dog.jpg' })).id);
  t.is(withSample.status, 'done');
  t.is((withSample.input as { image: string }).image, 'sample:content/dog.jpg');
  const listed = await json<JobInfo[]>(await fetch(`${studio.url}/api/jobs?kind=test.echo&status=done`));
  t.true(listed.some((j) => j.id === job.id));
  t.true(listed.every((j) => j.kind === 'test.echo' && j.status === 'done'));
});

test('invalid input is a 400 naming the field; an unknown kind is a 400 naming kind', async (t) => {
  const studio = await studioFor(t);
  const cases: [unknown, string, RegExp][] = [
    [{ kind: 'test.echo', input: { value: 'x', steps: 0 } }, 'steps', /steps 0 is out of range/],
    [{ kind: 'test.echo', input: { value: 'x', steps: 'many' } }, 'steps', /steps/],
    [{ kind: 'test.echo', input: {} }, 'value', /missing value/],
    [{ kind: 'test.echo', input: { value: 'x', colour: 'red' } }, 'colour', /unknown option "colour"/],
    [{ kind: 'test.nope', input: {} }, 'kind', /unknown job kind "test.nope"/],
    [{ input: {} }, 'kind', /kind: missing/],
    [{ kind: 'test.echo', input: 'x' }, 'input', /must be an object/],
    [{ kind: 'test.echo', input: { value: 'x' }, id: '../etc' }, 'id', /id:/],
  ];
  for (const [body, field, message] of cases) {
    const res = await post(studio, '/api/jobs', body);
    t.is(res.status, 400, JSON.stringify(body));
    const err = await json<ErrorBody>(res);
    t.is(err.error.field, field, JSON.stringify(err));
    t.regex(err.error.message, message);
  }
});

test('an image field refuses server paths and anything but a sample or upload reference', async (t) => {
  const studio = await studioFor(t);
  for (const image of ['/etc/passwd', '../../package.json', 'file:///etc/passwd', 'sample:../../package.json', 'sample:content/../../package.json', 'sample:content/nope.jpg', `upload:${'a'.repeat(32)}`, 'upload:../x', 42]) {
    const res = await post(studio, '/api/jobs', { kind: 'test.echo', input: { value: 'x', image } });
    t.is(res.status, 400, String(image));
    const err = await json<ErrorBody>(res);
    t.is(err.error.field, 'image');
    t.regex(err.error.message, /^image: /);
  }
});

test('unknown job ids are 404 on every job route', async (t) => {
  const studio = await studioFor(t);
  for (const [method, path] of [
    ['GET', '/api/jobs/no-such-job'],
    ['POST', '/api/jobs/no-such-job/cancel'],
    ['POST', '/api/jobs/no-such-job/rerun'],
    ['GET', '/api/jobs/no-such-job/events'],
    ['GET', '/api/jobs/no-such-job/files/out.json'],
    ['GET', '/api/jobs/..%2F..%2Fetc/files/passwd'],
  ]) {
    const res = await fetch(studio.url + path, { method });
    t.is(res.status, 404, path);
    t.regex((await json<ErrorBody>(res)).error.message, /not found/);
  }
});

test('the same id returns the existing job; rerun makes a new job with the same input', async (t) => {
  const studio = await studioFor(t);
  const first = await submit(studio, 'test.echo', { value: 'once', steps: 1 }, 'fixed-id-1');
  await waitJob(studio, first.id);
  const again = await submit(studio, 'test.echo', { value: 'once', steps: 1 }, 'fixed-id-1');
  t.is(again.id, 'fixed-id-1');
  t.is(again.status, 'done');
  const rerun = await post(studio, `/api/jobs/${first.id}/rerun`, {});
  t.is(rerun.status, 202);
  const job = await json<JobInfo>(rerun);
  t.not(job.id, first.id);
  t.deepEqual(job.input, again.input);
  t.is((await waitJob(studio, job.id)).status, 'done');
});

test('files: traversal and absolute paths are refused (404)', async (t) => {
  const studio = await studioFor(t);
  const job = await waitJob(studio, (await submit(studio, 'test.echo', { value: 'f', steps: 1 })).id);
  for (const path of ['..%2F..%2Fjob.json', '../job.json', '%2e%2e/%2e%2e/job.json', '..\\job.json', '.staging/live.png', 'nope.png', '%2Fetc%2Fpasswd']) {
    const res = await fetch(`${studio.url}/api/jobs/${job.id}/files/${path}`);
    t.is(res.status, 404, path);
  }
  // A raw request line with ../ that fetch would normalise away.
  const raw = await new Promise<number>((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port: studio.port, path: `/api/jobs/${job.id}/files/../../../../package.json` }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
  t.is(raw, 404);
});

// ---------------------------------------------------------------- queue behaviour

test('queue order: with one heavy job at a time, jobs start in the order they were submitted', async (t) => {
  const studio = await fixtureStudio(t);
  const jobs: JobInfo[] = [];
  for (let i = 0; i < 5; i++) jobs.push(await submit(studio, 'test.sleep', { ms: 60 }));
  const done = await Promise.all(jobs.map((j) => waitJob(studio, j.id)));
  t.true(done.every((j) => j.status === 'done'));
  const starts = done.map((j) => Date.parse(j.startedAt!));
  const finishes = done.map((j) => Date.parse(j.finishedAt!));
  for (let i = 1; i < done.length; i++) {
    t.true(starts[i] >= starts[i - 1], `job ${i} started after job ${i - 1}`);
    t.true(starts[i] >= finishes[i - 1], `job ${i} waited for job ${i - 1} (one heavy job at a time)`);
  }
});

test('cancel: a running job stops with status cancelled and no files; a queued one never starts', async (t) => {
  const studio = await fixtureStudio(t);
  const running = await submit(studio, 'test.sleep', { ms: 60_000 });
  const queued = await submit(studio, 'test.sleep', { ms: 60_000 });
  await waitJob(studio, running.id, (j) => j.status === 'running' && j.artifacts.length > 0);
  const live = await fetch(`${studio.url}/api/jobs/${running.id}/files/started.txt`);
  t.is(live.status, 200, 'a file is served while the job runs');
  const q = await json<JobInfo>(await post(studio, `/api/jobs/${queued.id}/cancel`, {}));
  t.is(q.status, 'cancelled');
  const res = await post(studio, `/api/jobs/${running.id}/cancel`, {});
  t.is(res.status, 200);
  const stopped = await waitJob(studio, running.id);
  t.is(stopped.status, 'cancelled');
  t.is((await fetch(`${studio.url}/api/jobs/${running.id}/files/started.txt`)).status, 404, 'no half-written files survive');
  t.is((await getJob(studio, queued.id)).startedAt, undefined);
  // The queue goes on.
  t.is((await waitJob(studio, (await submit(studio, 'test.echo', { value: 'after', steps: 1 })).id)).status, 'done');
});

test('a worker that dies (SIGKILL) fails its job with a clear status, leaves no files, and the next job runs', async (t) => {
  const studio = await fixtureStudio(t);
  const crash = await submit(studio, 'test.crash', { afterMs: 10 });
  const next = await submit(studio, 'test.echo', { value: 'survivor', steps: 1 });
  const failed = await waitJob(studio, crash.id);
  t.is(failed.status, 'failed');
  t.truthy(failed.error?.message);
  t.log(`crash reported as: ${failed.error!.message}`);
  t.is((await fetch(`${studio.url}/api/jobs/${crash.id}/files/partial.txt`)).status, 404);
  const ok = await waitJob(studio, next.id);
  t.is(ok.status, 'done');
  t.like(ok.result, { value: 'survivor' });
  const health = await fetch(`${studio.url}/api/health`);
  t.is(health.status, 200);
});

test('restart persistence: a new studio on the same runs folder serves the done job, its files and uploads', async (t) => {
  const runsDir = await mkdtemp(join(tmpdir(), 'convlab-studio-restart-'));
  t.teardown(() => rm(runsDir, { recursive: true, force: true }));
  const first = await fixtureStudio(undefined, { runsDir });
  const up = await json<{ id: string; url: string }>(await upload(first, await png(11, 11)));
  const job = await waitJob(first, (await submit(first, 'test.echo', { value: 'kept', steps: 2, image: `upload:${up.id}` })).id);
  t.is(job.status, 'done');
  await first.close();

  const second = await fixtureStudio(t, { runsDir });
  t.not(second.port, 0);
  const again = await getJob(second, job.id);
  t.is(again.status, 'done');
  t.deepEqual(again.result, job.result);
  t.is((again.input as { image: string }).image, `upload:${up.id}`);
  t.deepEqual(await (await fetch(`${second.url}/api/jobs/${job.id}/files/out.json`)).json(), { value: 'kept' });
  t.is((await fetch(`${second.url}/api/jobs/${job.id}/files/live.png`)).headers.get('content-type'), 'image/png');
  t.is((await fetch(second.url + up.url)).status, 200);
  const listed = await json<JobInfo[]>(await fetch(`${second.url}/api/jobs`));
  t.true(listed.some((j) => j.id === job.id));
  // The same id submitted again is the cached job, not a new run.
  const cached = await submit(second, 'test.echo', { value: 'kept', steps: 2, image: `upload:${up.id}` }, job.id);
  t.is(cached.status, 'done');
  t.is(cached.finishedAt, job.finishedAt);
});

// ---------------------------------------------------------------- SSE

test('SSE for one job: headers, retry, status → progress → artifact → final status, then the stream ends', async (t) => {
  const studio = await studioFor(t);
  const job = await submit(studio, 'test.echo', { value: 'sse', steps: 4, delayMs: 80 });
  const sse = await openSse(`${studio.url}/api/jobs/${job.id}/events`);
  t.is(sse.status, 200);
  t.regex(sse.headers.get('content-type')!, /^text\/event-stream/);
  t.regex(sse.headers.get('cache-control')!, /no-cache/);
  t.is(sse.headers.get('connection'), 'keep-alive');
  await sse.ended;
  const events = sse.messages.map((m) => m.event);
  t.is(sse.retry, 2000);
  t.is(events[0], 'status', 'first a snapshot');
  t.is(statusOf(sse.messages.at(-1)!), 'done', 'last the final status');
  const firstProgress = events.indexOf('progress');
  const firstArtifact = events.indexOf('artifact');
  t.true(firstProgress > 0 && firstArtifact > firstProgress, events.join(','));
  t.true(events.filter((e) => e === 'progress').length >= 1);
  const artifacts = sse.messages.filter((m) => m.event === 'artifact').map((m) => (m.data as { artifact: { path: string; version: number } }).artifact);
  const liveVersions = artifacts.filter((a) => a.path === 'live.png').map((a) => a.version);
  t.deepEqual(liveVersions, [...liveVersions].sort((a, b) => a - b), 'live artifact versions increase');
  // A stream opened after the end gets the final snapshot and ends at once.
  const late = await openSse(`${studio.url}/api/jobs/${job.id}/events`);
  await late.ended;
  t.deepEqual(late.messages.map(statusOf), ['done']);
});

test('SSE for all jobs: stays open, pings, and sees other jobs finish; closing the client unsubscribes', async (t) => {
  const studio = await studioFor(t);
  const all = await openSse(`${studio.url}/api/events`);
  const job = await submit(studio, 'test.echo', { value: 'all', steps: 1 });
  await all.waitFor((m) => statusOf(m) === 'done' && (m.data as { job: JobInfo }).job.id === job.id);
  await new Promise((r) => setTimeout(r, 450)); // pingMs is 200 in this studio
  t.true(all.comments.includes('ping'), all.comments.join(','));
  const before = await json<{ sse: { clients: number } }>(await fetch(`${studio.url}/api/health`));
  t.true(before.sse.clients >= 1);
  all.close();
  await all.ended;
  let clients = before.sse.clients;
  for (let i = 0; i < 100 && clients >= before.sse.clients; i++) {
    await new Promise((r) => setTimeout(r, 20));
    clients = (await json<{ sse: { clients: number } }>(await fetch(`${studio.url}/api/health`))).sse.clients;
  }
  t.true(clients < before.sse.clients, 'the closed client was cleaned up');
});

test('close() ends open SSE streams so shutdown does not hang', async (t) => {
  const studio = await fixtureStudio(undefined);
  const sse = await openSse(`${studio.url}/api/events`);
  const slow = await submit(studio, 'test.sleep', { ms: 60_000 });
  const perJob = await openSse(`${studio.url}/api/jobs/${slow.id}/events`);
  await studio.close();
  await sse.ended;
  await perJob.ended;
  t.pass();
  await rm(studio.runsDir, { recursive: true, force: true });
});
