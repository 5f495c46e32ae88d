/**
 * One end-to-end run through the real pipeline kinds: a tiny style-transfer job submitted over HTTP with
 * sample references, followed over SSE to the end, its result image and run record served back.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { JobArtifact, JobInfo, JobProgress } from '@convlab/jobs/kind';
import { fixtureStudio, openSse, statusOf, submit } from './api-helpers.js';
import { DEFAULT_KIND_MODULES } from '../src/server/index.js';

test('a tiny style job on the real kinds: queued, live progress and preview over SSE, result and record served', async (t) => {
  const studio = await fixtureStudio(t, { kindModules: DEFAULT_KIND_MODULES });
  const job = await submit(studio, 'style.stylize', { content: 'sample:content/tubingen.jpg', style: ['sample:style/starry_night.jpg'], size: 128, iterations: 4, saveEvery: 2 });
  t.deepEqual((job.input as { style: string[] }).style, ['sample:style/starry_night.jpg']);
  const sse = await openSse(`${studio.url}/api/jobs/${job.id}/events`);
  await sse.ended;
  const last = sse.messages.at(-1)!;
  const final = (last.data as { job: JobInfo }).job;
  t.is(statusOf(last), 'done', JSON.stringify(final.error));
  const progress = sse.messages.filter((m) => m.event === 'progress').map((m) => (m.data as { progress: JobProgress }).progress);
  t.true(progress.some((p) => p.total === 4 && p.values && Object.keys(p.values).length > 0), 'progress carries the loss terms');
  const artifacts = sse.messages.filter((m) => m.event === 'artifact').map((m) => (m.data as { artifact: JobArtifact }).artifact.path);
  t.true(artifacts.includes('current.png'), artifacts.join(','));
  t.true(artifacts.includes('result.png'));
  const result = final.result as { image: string; record: string; width: number; height: number };
  const png = await fetch(`${studio.url}/api/jobs/${job.id}/files/${result.image}`);
  t.is(png.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await png.arrayBuffer());
  const meta = await sharp(bytes).metadata();
  t.is(meta.width, result.width);
  t.is(meta.height, result.height);
  t.is(Math.max(meta.width!, meta.height!), 128);
  const record = (await (await fetch(`${studio.url}/api/jobs/${job.id}/files/${result.record}`)).json()) as Record<string, unknown>;
  t.truthy(record.parameters ?? record.params ?? record.options, Object.keys(record).join(','));
  if (process.env.CONVLAB_STUDIO_ARTIFACTS) await writeFile(`${process.env.CONVLAB_STUDIO_ARTIFACTS}/api-real-style.png`, bytes);
  t.log(`style.stylize 128 px, 4 iterations: ${progress.length} progress events, artifacts ${[...new Set(artifacts)].join(', ')}; backend ${final.worker?.backend}`);
});
