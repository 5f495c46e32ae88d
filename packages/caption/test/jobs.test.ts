/**
 * The `caption.predict` job kind run in-process with the shipped models on a bundled photo: the caption
 * equals the library's (captionImages), one attention overlay per word with the attention model, none
 * with Show and Tell; progress, cancellation; and that importing the kinds module loads no tfjs.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, optionsJsonSchema, parseOptions, type OptionsSchema } from '@convlab/core/light';
import { captionImages } from '../src/predict.js';
import { DISPLAY_SIDE, jobKinds, predictKind, type CaptionJobResult } from '../src/jobs.js';
import { loadKinds, resolveKindsModule, runJobInProcess, type RunEvent } from '@convlab/jobs';
import { heavyModulesLoadedBy, pngSize, readPng, runKind } from '@convlab/jobs/testing';

const PHOTO = fileURLToPath(new URL('../../../assets/content/dog.jpg', import.meta.url));
const PKG = fileURLToPath(new URL('..', import.meta.url));

test('importing the kinds module loads neither tfjs nor sharp (importing @convlab/core does)', (t) => {
  t.deepEqual(heavyModulesLoadedBy('@convlab/caption/jobs', PKG), []);
  t.true(heavyModulesLoadedBy('@convlab/core', PKG).some((m) => m.includes('tfjs-core')), 'the check sees tfjs when it is loaded');
});

test('the kind and its input: one image (marked), decoding options, shipped models by name only', (t) => {
  t.deepEqual(jobKinds.map((k) => k.kind), ['caption.predict']);
  const schema = optionsJsonSchema(predictKind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  t.is(schema.properties.image.image, true);
  t.deepEqual(schema.required, ['image']);
  t.deepEqual(schema.properties.model.enum, ['show-attend-tell', 'show-tell']);
  t.is(schema.properties.model.default, 'show-attend-tell');
  for (const f of ['beam', 'maxLength', 'lengthPenalty', 'blockTrigrams']) t.truthy(schema.properties[f], f);
  for (const f of ['images', 'attentionMaps', 'backend']) t.false(f in schema.properties, f);
  const parse = (raw: Record<string, unknown>) => parseOptions(predictKind.input as OptionsSchema, raw, 'http');
  t.like(parse({ image: PHOTO }), { beam: 3, model: 'show-attend-tell' });
  t.throws(() => parse({ image: PHOTO, model: '/srv/models/x' }), { instanceOf: ConvlabError, message: /^model/ });
  t.throws(() => parse({ image: PHOTO, beam: 0 }), { instanceOf: ConvlabError, message: /^beam 0 is out of range/ });
  t.throws(() => parse({ image: PHOTO, attentionMaps: '/tmp' }), { instanceOf: ConvlabError, message: /attentionMaps/ });
});

test.serial('caption.predict with the attention model: the library\'s caption, photo.png and one overlay per word', async (t) => {
  const run = await runKind<CaptionJobResult>(predictKind, { image: PHOTO, beam: 2 });
  try {
    const r = run.result;
    const [expected] = await captionImages({ images: [PHOTO], model: 'show-attend-tell', beam: 2 });
    t.is(r.caption, expected.caption);
    t.true(Math.abs(r.logprob - expected.logprob) < 1e-4);
    t.like(r, { photo: 'photo.png', model: 'show-attend-tell', attention: true, grid: [9, 9], record: 'run.json', aborted: false });
    t.deepEqual(r.words.map((w) => w.word), r.caption.split(' '));
    t.true(r.words.length >= 3, r.caption);
    const photo = await pngSize(join(run.dir, 'photo.png'));
    t.is(Math.max(photo.width, photo.height), DISPLAY_SIDE);
    const pictures = new Set<string>();
    for (const [i, w] of r.words.entries()) {
      t.is(w.attention, `att-${i}.png`);
      const png = await readPng(join(run.dir, w.attention!));
      t.deepEqual({ width: png.width, height: png.height }, photo, w.attention);
      t.true(png.std > 10, `${w.attention} shows the photo under its map`);
      pictures.add(readFileSync(join(run.dir, w.attention!)).toString('base64'));
    }
    t.is(pictures.size, r.words.length, 'each word has its own map');
    t.deepEqual(run.artifacts.map((a) => a.path), ['photo.png', ...r.words.map((w) => w.attention!), 'run.json']);
    t.deepEqual(run.progress.map((p) => p.done), [0, 1, ...r.words.map((_, i) => 2 + i / r.words.length), 3]);
    t.true(run.progress.every((p) => p.total === 3));
    t.regex(run.progress[2].message!, new RegExp(`^attention map 1/${r.words.length}: ${r.words[0].word}$`));
    const record = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8'));
    t.is(record.extra.result.caption, r.caption);
    t.deepEqual(record.extra.outputs.attention, r.words.map((w) => w.attention));
    t.is(run.backends.length, 1);
    t.is(record.backend.backend, run.backends[0]);
  } finally {
    run.cleanup();
  }
});

test.serial('caption.predict with Show and Tell: words without attention maps, and the result says so', async (t) => {
  const run = await runKind<CaptionJobResult>(predictKind, { image: PHOTO, model: 'show-tell', beam: 1 });
  try {
    const r = run.result;
    t.like(r, { model: 'show-tell', attention: false, aborted: false });
    t.is(r.grid, undefined);
    t.true(r.words.length >= 3);
    for (const w of r.words) t.is(w.attention, undefined);
    t.false(existsSync(join(run.dir, 'att-0.png')));
    t.true(existsSync(join(run.dir, 'photo.png')));
    t.regex(run.progress.at(-1)!.message!, /no attention maps/);
  } finally {
    run.cleanup();
  }
});

test.serial('a cancelled caption job stops before loading the model', async (t) => {
  const c = new AbortController();
  c.abort();
  await t.throwsAsync(runKind(predictKind, { image: PHOTO }, c.signal), { any: true, name: 'AbortError' });
});

test('an unreadable image fails naming it', async (t) => {
  await t.throwsAsync(runKind(predictKind, { image: join(PKG, 'package.json') }), { instanceOf: ConvlabError, message: /package\.json/ });
});

test.serial("the driver's side: @convlab/jobs loads the module by specifier and runs the kind with its JobContext", async (t) => {
  const kinds = await loadKinds([resolveKindsModule('@convlab/caption/jobs')]);
  const dir = mkdtempSync(join(tmpdir(), 'caption-driver-'));
  const events: RunEvent[] = [];
  try {
    const r = (await runJobInProcess(kinds.get('caption.predict')!, { image: PHOTO, model: 'show-tell', beam: 1 }, { dir, onEvent: (e) => events.push(e) })) as CaptionJobResult;
    t.like(r, { model: 'show-tell', attention: false });
    t.deepEqual(events.flatMap((e) => (e.type === 'artifact' ? [e.artifact.path] : [])), ['photo.png', 'run.json']);
    t.true(events.some((e) => e.type === 'log' && e.message.startsWith(`caption: ${r.caption}`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
