/**
 * The visualize job kinds run in-process on the offline mobilenet_v2 at small sizes: attribute (panels,
 * target, progress, cancellation), top9 (bundled photos with flips and zooms, or given images), layers;
 * and that importing the kinds module loads no tfjs.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, optionsJsonSchema, parseOptions, type OptionsSchema } from '@convlab/core/light';
import { attributeKind, BUNDLED_IMAGES, jobKinds, layersKind, top9Kind, type AttributeJobResult, type LayersJobResult, type Top9JobResult } from '../src/jobs.js';
import { loadKinds, resolveKindsModule, runJobInProcess, type RunEvent } from '@convlab/jobs';
import { heavyModulesLoadedBy, pngSize, readPng, runKind } from './job-harness.js';

const ASSETS = fileURLToPath(new URL('../../../assets/', import.meta.url));
const DOG = join(ASSETS, 'content/dog.jpg');
const PKG = fileURLToPath(new URL('..', import.meta.url));

test('importing the kinds module loads neither tfjs nor sharp (importing @convlab/core does)', (t) => {
  t.deepEqual(heavyModulesLoadedBy('@convlab/visualize/jobs', PKG), []);
  t.true(heavyModulesLoadedBy('@convlab/core', PKG).some((m) => m.includes('tfjs-core')), 'the check sees tfjs when it is loaded');
});

test('the kinds and their inputs: image fields marked, models by name, no output folder or server path', async (t) => {
  t.deepEqual(jobKinds.map((k) => [k.kind, k.heavy]), [['visualize.attribute', true], ['visualize.top9', true], ['visualize.layers', false]]);
  const props = (kind: typeof attributeKind | typeof top9Kind | typeof layersKind) => (optionsJsonSchema(kind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>> }).properties;
  const attribute = props(attributeKind);
  t.is(attribute.image.image, true);
  t.deepEqual(attribute.weights.enum, ['default', 'random']);
  // The registry's models, less custom (a server path).
  const { listModels } = await import('@convlab/models');
  t.deepEqual([...(attribute.model.enum as string[])].sort(), listModels().map((m) => m.name).filter((n) => n !== 'custom').sort());
  t.true(((attribute.methods.items as { enum: string[] }).enum).includes('gradcam'));
  for (const f of ['out', 'images', 'sharedScale']) t.false(f in attribute, f);
  for (const f of ['layer', 'unit', 'class', 'position', 'size', 'normalize', 'smoothgradSamples', 'camLayer']) t.truthy(attribute[f], f);
  const top9 = props(top9Kind);
  t.is(top9.images.image, true);
  for (const f of ['out', 'cache', 'limit']) t.false(f in top9, f);
  t.deepEqual(Object.keys(props(layersKind)).sort(), ['model', 'seed', 'size', 'weights']);
  const parse = (kind: typeof attributeKind, raw: Record<string, unknown>) => parseOptions(kind.input as OptionsSchema, raw, 'http');
  t.throws(() => parse(attributeKind, { image: DOG, weights: '/tmp/evil.h5' }), { instanceOf: ConvlabError, message: /^weights/ });
  t.throws(() => parse(attributeKind, { image: DOG, model: 'custom' }), { instanceOf: ConvlabError, message: /^model/ });
  t.throws(() => parse(attributeKind, { image: DOG, methods: ['telepathy'] }), { instanceOf: ConvlabError, message: /^methods/ });
  t.throws(() => parse(attributeKind, { image: DOG, out: '/tmp' }), { instanceOf: ConvlabError, message: /out/ });
  t.throws(() => parse(top9Kind as unknown as typeof attributeKind, { images: [] }), { instanceOf: ConvlabError, message: /^images/ });
  t.like(parse(top9Kind as unknown as typeof attributeKind, {}), { images: 'bundled', layer: '@mid', model: 'mobilenet_v2' });
});

test.serial('visualize.attribute: one PNG panel per method at the input size, the resolved target, progress per method', async (t) => {
  const methods = ['deconvnet', 'guided', 'saliency', 'gradcam', 'occlusion'];
  // The unit summed over its map ('all'): a single position of a strong unit sits at ReLU6's cap (no gradient).
  const run = await runKind<AttributeJobResult>(attributeKind, { image: DOG, layer: '@mid', unit: 'strongest', position: 'all', size: [96], methods, occlusionWindow: 24, occlusionStride: 12 });
  try {
    const r = run.result;
    t.like(r, { model: 'mobilenet_v2', input: 'input.png', size: [96, 96], record: 'run.json', aborted: false });
    t.deepEqual(r.panels.map((p) => p.method), methods);
    t.deepEqual(r.panels.map((p) => p.image), methods.map((m) => `${m}.png`));
    t.deepEqual(await pngSize(join(run.dir, 'input.png')), { width: 96, height: 96 });
    for (const p of r.panels) {
      const png = await readPng(join(run.dir, p.image));
      t.deepEqual([png.width, png.height], [96, 96], p.image);
      t.true(png.std > 2, `${p.image} is not flat (std ${png.std.toFixed(2)})`);
      t.true(p.seconds > 0);
      if (p.method === 'gradcam') t.regex(p.warnings![0], /Grad-CAM at the target's own layer/, 'the library says what Grad-CAM at the unit\'s layer shows');
      else t.is(p.warnings, undefined, p.method);
    }
    t.like(r.panels.find((p) => p.method === 'occlusion')!.params, { window: 24, stride: 12 });
    // Panels differ from one another and from the input.
    const bytes = ['input.png', ...r.panels.map((p) => p.image)].map((f) => readFileSync(join(run.dir, f)).toString('base64'));
    t.is(new Set(bytes).size, bytes.length);
    t.like(r.target, { kind: 'unit', layer: 'block_6_expand_relu', position: undefined });
    t.true(Number.isInteger(r.target.index) && r.target.value > 0);
    t.deepEqual(run.progress.slice(1).map((p) => [p.done, p.total]), [[0, 5], [1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
    t.is(run.progress[0].message, 'loading mobilenet_v2');
    t.deepEqual(run.artifacts.map((a) => a.path), ['input.png', ...r.panels.map((p) => p.image), 'run.json']);
    const record = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8'));
    t.is(record.extra.panels.length, 5);
    t.is(record.extra.target.index, r.target.index);
    t.is(run.backends.length, 1);
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.attribute: a unit at the ReLU6 cap gives a flat saliency panel that says why', async (t) => {
  const run = await runKind<AttributeJobResult>(attributeKind, { image: DOG, layer: '@mid', unit: 'strongest', size: [96], methods: ['saliency'] });
  try {
    t.true(run.result.target.saturated);
    t.regex(run.result.panels[0].warnings![0], /saturated/);
    t.true(run.logs.some((l) => /^saliency: the map is all zero/.test(l)));
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.attribute explains a class of the head at its native size, and refuses class with unit', async (t) => {
  const run = await runKind<AttributeJobResult>(attributeKind, { image: DOG, class: 1, methods: ['gradcam'] });
  try {
    t.like(run.result.target, { kind: 'class', index: 1 });
    t.deepEqual(await pngSize(join(run.dir, 'gradcam.png')), { width: 224, height: 224 });
  } finally {
    run.cleanup();
  }
  await t.throwsAsync(runKind(attributeKind, { image: DOG, class: 1, unit: 3 }), { instanceOf: ConvlabError, message: /^class: give either a class or a layer and unit/ });
});

test.serial('visualize.attribute cancelled before it starts writes no panel but still names the target', async (t) => {
  const c = new AbortController();
  c.abort();
  const run = await runKind<AttributeJobResult>(attributeKind, { image: DOG, layer: '@early', unit: 3, size: [64] }, c.signal);
  try {
    t.like(run.result, { aborted: true, panels: [] });
    t.like(run.result.target, { kind: 'unit', index: 3 });
    t.true(existsSync(join(run.dir, 'input.png')));
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.top9 over the bundled photos: flips and zooms added, one grid per unit, its top images under samples/', async (t) => {
  const run = await runKind<Top9JobResult>(top9Kind, { layer: '@early', units: 'strongest:2', size: [64] });
  try {
    const r = run.result;
    t.like(r, { model: 'mobilenet_v2', layer: 'block_3_expand_relu', augmented: true, complete: true, images: 28 });
    t.is(r.units.length, 2);
    for (const u of r.units) {
      t.is(u.grid, `top9-block_3_expand_relu-unit${u.unit}.png`);
      const size = await pngSize(join(run.dir, u.grid));
      t.true(size.width > 3 * 96 * 3 && size.height > 3 * 96, `${u.grid}: ${size.width}x${size.height}`);
      t.is(u.images.length, 9);
      for (const f of u.images) {
        t.regex(f, /^samples\/[a-z]+(-flip|-zoom-tl|-zoom-br)?\.png$/);
        t.deepEqual(await pngSize(join(run.dir, f)), { width: 64, height: 64 });
      }
      for (let i = 1; i < u.values.length; i++) t.true(u.values[i] <= u.values[i - 1], 'strongest first');
    }
    t.is(r.figure, 'top9-block_3_expand_relu.png');
    t.true(existsSync(join(run.dir, r.figure!)) && existsSync(join(run.dir, r.record!)));
    t.false(existsSync(join(run.dir, '.scan-cache')), 'the scan cache is not left in the job folder');
    const messages = run.progress.map((p) => p.message ?? '');
    for (const re of [/^preparing images 1\/7$/, /^scanning 28\/28 images$/, /^rendering unit 2\/2$/]) t.true(messages.some((m) => re.test(m)), String(re));
    for (const a of run.artifacts) t.true(existsSync(join(run.dir, a.path)), a.path);
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.top9 over given images, without flips: at most one entry per image', async (t) => {
  const photos = ['dog.jpg', 'kite.jpg', 'eagle.jpg'].map((f) => join(BUNDLED_IMAGES, f));
  const run = await runKind<Top9JobResult>(top9Kind, { images: photos, layer: '@early', units: [3], size: [64], augment: false, rules: ['guided'] });
  try {
    t.like(run.result, { augmented: false, images: 3 });
    t.deepEqual(run.result.units.map((u) => u.unit), [3]);
    t.deepEqual([...run.result.units[0].images].sort(), ['samples/dog.png', 'samples/eagle.png', 'samples/kite.png']);
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.layers: names, shapes, receptive fields, strides and parameters at the size asked', async (t) => {
  const run = await runKind<LayersJobResult>(layersKind, { size: [96] });
  try {
    const r = run.result;
    t.like(r, { model: 'mobilenet_v2', size: [96, 96] });
    const conv1 = r.layers.find((l) => l.name === 'Conv1')!;
    t.deepEqual(conv1.shape, [48, 48, 32]);
    t.is(conv1.stride, 2);
    t.deepEqual(conv1.receptiveField, [3, 3]);
    t.is(conv1.params, 3 * 3 * 3 * 32);
    const mid = r.layers.find((l) => l.name === r.roles.mid)!;
    t.true(mid.roles.includes('mid'));
    t.deepEqual(mid.shape!.slice(0, 2), [96 / mid.stride!, 96 / mid.stride!]);
    const total = r.layers.reduce((a, l) => a + (l.params ?? 0), 0);
    t.true(total > 2e6 && total < 3e6, `mobilenet_v2 trunk: ${total} parameters`);
  } finally {
    run.cleanup();
  }
});

test('a bad layer or unit fails before any panel, naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-'));
  try {
    await t.throwsAsync(runKind(attributeKind, { image: DOG, layer: 'nope', size: [64] }), { instanceOf: ConvlabError, message: /nope/ });
    await t.throwsAsync(runKind(attributeKind, { image: join(dir, 'missing.jpg'), size: [64] }), { instanceOf: ConvlabError, message: /missing\.jpg/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("the driver's side: @convlab/jobs loads the module by specifier and runs its kinds with its JobContext", async (t) => {
  const kinds = await loadKinds([resolveKindsModule('@convlab/visualize/jobs')]);
  t.deepEqual([...kinds.keys()], ['visualize.attribute', 'visualize.top9', 'visualize.layers']);
  const dir = mkdtempSync(join(tmpdir(), 'visualize-driver-'));
  const events: RunEvent[] = [];
  try {
    const layers = (await runJobInProcess(kinds.get('visualize.layers')!, { size: [64] }, { dir: join(dir, 'layers'), onEvent: (e) => events.push(e) })) as LayersJobResult;
    t.like(layers, { model: 'mobilenet_v2', size: [64, 64] });
    const attribute = (await runJobInProcess(kinds.get('visualize.attribute')!, { image: DOG, layer: '@early', unit: 2, size: [64], methods: ['guided'] }, { dir: join(dir, 'attr'), onEvent: (e) => events.push(e) })) as AttributeJobResult;
    t.deepEqual(attribute.panels.map((p) => p.image), ['guided.png']);
    const artifacts = events.flatMap((e) => (e.type === 'artifact' ? [e.artifact.path] : []));
    t.deepEqual(artifacts, ['input.png', 'guided.png', 'run.json']);
    t.deepEqual(await pngSize(join(dir, 'attr', 'guided.png')), { width: 64, height: 64 });
    t.is(events.filter((e) => e.type === 'setBackend').length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
