/**
 * The `style.stylize` job kind run in-process on the offline mobilenet_v2 trunk at 96 px for a few
 * iterations: files, result, progress, live preview versions, cancellation; and that importing the kinds
 * module loads no tfjs.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, optionsJsonSchema, parseOptions, type OptionsSchema } from '@convlab/core/light';
import { jobKinds, stylizeKind, type StylizeJobResult } from '../src/jobs.js';
import { loadKinds, resolveKindsModule, runJobInProcess, type RunEvent } from '@convlab/jobs';
import { heavyModulesLoadedBy, pngSize, runKind } from '@convlab/jobs/testing';

const ASSETS = fileURLToPath(new URL('../../../assets/', import.meta.url));
const CONTENT = join(ASSETS, 'content/tubingen.jpg');
const STYLE = join(ASSETS, 'style/starry_night.jpg');
const PKG = fileURLToPath(new URL('..', import.meta.url));
const body = (extra: Record<string, unknown> = {}) => ({ content: CONTENT, style: [STYLE], backbone: 'mobilenet_v2', size: 96, iterations: 8, seed: 1, ...extra });

test('importing the kinds module loads neither tfjs nor sharp (importing @convlab/core does)', (t) => {
  t.deepEqual(heavyModulesLoadedBy('@convlab/style/jobs', PKG), []);
  t.true(heavyModulesLoadedBy('@convlab/core', PKG).some((m) => m.includes('tfjs-core')), 'the check sees tfjs when it is loaded');
});

test('the kind list, and its input: StylizeOptions with image fields marked, no backend, memory limit or weights path', (t) => {
  t.deepEqual(jobKinds.map((k) => k.kind), ['style.stylize', 'style.fast']);
  t.true(stylizeKind.heavy);
  const schema = optionsJsonSchema(stylizeKind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  t.is(schema.properties.content.image, true);
  t.is(schema.properties.style.image, true);
  t.deepEqual(schema.required?.sort(), ['content', 'style']);
  for (const field of ['iterations', 'size', 'styleWeight', 'optimizer', 'multiscale', 'preserveColor', 'saveEvery']) t.truthy(schema.properties[field], field);
  for (const field of ['backend', 'maxMemoryGb']) t.false(field in schema.properties, field);
  t.deepEqual(schema.properties.weights.enum, ['default', 'random']);
  const parse = (raw: Record<string, unknown>) => parseOptions(stylizeKind.input as OptionsSchema, raw, 'http');
  t.throws(() => parse(body({ weights: '/etc/passwd' })), { instanceOf: ConvlabError, message: /^weights/ });
  t.throws(() => parse(body({ backend: 'wasm' })), { instanceOf: ConvlabError, message: /backend/ });
  t.throws(() => parse(body({ style: [] })), { instanceOf: ConvlabError, message: /^style/ });
  t.throws(() => parse(body({ iterations: 0 })), { instanceOf: ConvlabError, message: /^iterations 0/ });
});

test.serial('style.stylize writes result.png, loss.png, run.json and a live current.png, with progress per iteration', async (t) => {
  const run = await runKind<StylizeJobResult>(stylizeKind, body());
  try {
    const r = run.result;
    t.like(r, { image: 'result.png', record: 'run.json', lossPlot: 'loss.png', aborted: false, iterations: { done: 8, total: 8 } });
    t.true(r.seconds > 0);
    t.is(Math.max(r.width, r.height), 96);
    t.deepEqual(await pngSize(join(run.dir, 'result.png')), { width: r.width, height: r.height });
    t.deepEqual(await pngSize(join(run.dir, 'current.png')), { width: r.width, height: r.height });
    t.deepEqual(await pngSize(join(run.dir, 'loss.png')), { width: 720, height: 420 });
    // The run record: the one format, with the job's files as outputs.
    const record = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8'));
    t.is(record.tool, 'convlab-style');
    t.is(record.steps.length, 8);
    t.like(record.extra, { iterationsDone: 8, aborted: false, outputs: { image: 'result.png', plot: 'loss.png', record: 'run.json' } });
    t.is(record.parameters.content, CONTENT);
    // Progress: one event per iteration with the loss terms, rate and ETA.
    t.deepEqual(run.progress.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const p of run.progress) {
      t.is(p.total, 8);
      t.regex(p.message!, /^iteration \d+\/8$/);
      t.true(p.values!.total > 0 && p.values!.style > 0 && p.values!.content >= 0, JSON.stringify(p.values));
      t.true(p.etaSeconds! >= 0 && p.rate! > 0);
    }
    t.true(run.progress[7].values!.total < run.progress[0].values!.total, 'the loss goes down');
    // current.png: rewritten every iteration (8 < 25 previews), then once more with the result; versions increase.
    const previews = run.artifacts.filter((a) => a.path === 'current.png');
    t.deepEqual(previews.map((a) => a.version), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    t.regex(previews[0].label!, /iteration 1\/8/);
    t.regex(previews[8].label!, /^result/);
    t.is(previews[0].mime, 'image/png');
    t.deepEqual(readFileSync(join(run.dir, 'current.png')), readFileSync(join(run.dir, 'result.png')), 'the last preview is the result');
    for (const f of ['result.png', 'loss.png', 'run.json']) t.truthy(run.artifacts.find((a) => a.path === f), f);
    t.is(run.backends.length, 1);
    t.regex(run.backends[0], /^(tensorflow|native|wasm|cpu)$/);
    t.is(record.backend.name, run.backends[0]);
  } finally {
    run.cleanup();
  }
});

test.serial('saveEvery sets the preview period', async (t) => {
  const run = await runKind<StylizeJobResult>(stylizeKind, body({ iterations: 6, saveEvery: 3, backbone: 'random_multiscale', size: 96 }));
  try {
    t.deepEqual(
      run.artifacts.filter((a) => a.path === 'current.png').map((a) => a.label),
      ['current image, iteration 3/6', 'current image, iteration 6/6', 'result, iteration 6/6'],
    );
  } finally {
    run.cleanup();
  }
});

test.serial('a cancelled job stops: before the first iteration (pre-aborted) and in the middle', async (t) => {
  const pre = new AbortController();
  pre.abort();
  const run = await runKind<StylizeJobResult>(stylizeKind, body({ iterations: 50 }), pre.signal);
  try {
    t.like(run.result, { aborted: true, iterations: { done: 0, total: 50 } });
    t.is(run.progress.length, 0);
    t.is(run.result.lossPlot, undefined);
    t.false(existsSync(join(run.dir, 'loss.png')));
    t.true(existsSync(join(run.dir, 'result.png')), 'the (resized) content image stands as the result');
    t.is(JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8')).extra.aborted, true);
  } finally {
    run.cleanup();
  }
  // In the middle: the signal fires while iteration 3 is reported; the job returns its last iterate.
  const stopAt = 3;
  const controller = new AbortController();
  const run3 = await runKind<StylizeJobResult>(
    {
      ...stylizeKind,
      run: (input, ctx) =>
        stylizeKind.run(input as Parameters<typeof stylizeKind.run>[0], {
          ...ctx,
          progress: (p) => {
            ctx.progress(p);
            if (p.done === stopAt) controller.abort();
          },
        }),
    },
    body({ iterations: 50, backbone: 'random_multiscale', size: 96 }),
    controller.signal,
  );
  try {
    t.like(run3.result, { aborted: true, iterations: { done: stopAt, total: 50 } });
    t.is(run3.progress.length, stopAt);
    t.true(existsSync(join(run3.dir, 'loss.png')));
  } finally {
    run3.cleanup();
  }
});

test('a missing content image fails naming the content', async (t) => {
  await t.throwsAsync(runKind(stylizeKind, body({ content: join(ASSETS, 'content/nope.jpg') })), { instanceOf: ConvlabError, message: /content image/ });
});

test.serial("the driver's side: @convlab/jobs loads the module by specifier and runs the kind with its JobContext", async (t) => {
  const kinds = await loadKinds([resolveKindsModule('@convlab/style/jobs')]);
  const kind = kinds.get('style.stylize')!;
  const dir = mkdtempSync(join(tmpdir(), 'stylize-driver-'));
  const events: RunEvent[] = [];
  try {
    const r = (await runJobInProcess(kind, body({ backbone: 'random_multiscale', iterations: 3 }), { dir, onEvent: (e) => events.push(e) })) as StylizeJobResult;
    t.like(r, { image: 'result.png', aborted: false, iterations: { done: 3, total: 3 } });
    t.deepEqual(events.filter((e) => e.type === 'progress').length, 3);
    t.is(events.filter((e) => e.type === 'setBackend').length, 1);
    const artifacts = events.flatMap((e) => (e.type === 'artifact' ? [e.artifact] : []));
    t.deepEqual(artifacts.filter((a) => a.path === 'current.png').map((a) => a.version), [1, 2, 3, 4]);
    t.deepEqual(artifacts.filter((a) => a.path !== 'current.png').map((a) => [a.path, a.mime]), [['result.png', 'image/png'], ['loss.png', 'image/png'], ['run.json', 'application/json']]);
    for (const a of artifacts) t.true(existsSync(join(dir, a.path)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
