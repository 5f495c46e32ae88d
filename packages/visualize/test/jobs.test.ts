/**
 * The visualize job kinds run in-process on the offline mobilenet_v2 at small sizes: attribute (panels,
 * target, progress, cancellation), top9 (bundled photos with flips and zooms, or given images), layers,
 * featureviz (live preview, images, objective history, cancellation), dossier (the HTML report and its
 * images); and that importing the kinds module loads no tfjs.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, optionsJsonSchema, parseOptions, type OptionsSchema } from '@convlab/core/light';
import {
  attributeKind,
  BUNDLED_IMAGES,
  dossierKind,
  featureVizKind,
  jobKinds,
  layersKind,
  top9Kind,
  type AttributeJobResult,
  type DossierJobResult,
  type FeatureVizJobResult,
  type LayersJobResult,
  type Top9JobResult,
} from '../src/jobs.js';
import { loadKinds, resolveKindsModule, runJobInProcess, type RunEvent } from '@convlab/jobs';
import { heavyModulesLoadedBy, pngSize, readPng, runKind } from '@convlab/jobs/testing';

const ASSETS = fileURLToPath(new URL('../../../assets/', import.meta.url));
const DOG = join(ASSETS, 'content/dog.jpg');
const PKG = fileURLToPath(new URL('..', import.meta.url));

test('importing the kinds module loads neither tfjs nor sharp (importing @convlab/core does)', (t) => {
  t.deepEqual(heavyModulesLoadedBy('@convlab/visualize/jobs', PKG), []);
  t.true(heavyModulesLoadedBy('@convlab/core', PKG).some((m) => m.includes('tfjs-core')), 'the check sees tfjs when it is loaded');
});

test('the kinds and their inputs: image fields marked, models by name, no output folder or server path', async (t) => {
  t.deepEqual(jobKinds.map((k) => [k.kind, k.heavy]), [['visualize.attribute', true], ['visualize.top9', true], ['visualize.layers', false], ['visualize.featureviz', true], ['visualize.dossier', true]]);
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
  t.deepEqual([...kinds.keys()], ['visualize.attribute', 'visualize.top9', 'visualize.layers', 'visualize.featureviz', 'visualize.dossier']);
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

test('visualize.featureviz and visualize.dossier inputs: the objective checked by its parser, no output folder or server folder', (t) => {
  const parse = (kind: typeof featureVizKind | typeof dossierKind, raw: Record<string, unknown>) => parseOptions(kind.input as OptionsSchema, raw, 'http') as Record<string, unknown>;
  t.like(parse(featureVizKind, { objective: 'block_13_expand_relu:12' }), { model: 'mobilenet_v2', weights: 'default', objective: 'block_13_expand_relu:12', copies: 1, param: 'fourier', steps: 256, seed: 0 });
  t.like(parse(featureVizKind, { objective: '2*block_6_expand_relu:3@center + class:1 ; block_6_expand_relu', param: 'pixel', size: 64, steps: 8, copies: 2 }), { param: 'pixel', size: 64, copies: 2 });
  // The parser's reason, after the field's name (the studio's 400 names the field from it).
  t.throws(() => parse(featureVizKind, { objective: 'block_13_expand_relu:12 + ???' }), { instanceOf: ConvlabError, message: /^objective "block_13_expand_relu:12 \+ \?\?\?": cannot read the term "\?\?\?"$/ });
  t.throws(() => parse(featureVizKind, { objective: 'block_13:[1,x]' }), { instanceOf: ConvlabError, message: /^objective .*is not a list of numbers/ });
  t.throws(() => parse(featureVizKind, { objective: 'a:1;;b:2' }), { instanceOf: ConvlabError, message: /^objective .*an empty objective between ";"/ });
  t.throws(() => parse(featureVizKind, { objective: 'L:1', param: 'wavelet' }), { instanceOf: ConvlabError, message: /^param/ });
  t.throws(() => parse(featureVizKind, { objective: 'L:1', out: '/tmp' }), { instanceOf: ConvlabError, message: /out/ });
  t.throws(() => parse(featureVizKind, { objective: 'L:1', model: 'custom' }), { instanceOf: ConvlabError, message: /^model/ });
  const fv = (optionsJsonSchema(featureVizKind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>> }).properties;
  for (const f of ['objective', 'size', 'steps', 'copies', 'diversity', 'param', 'seed', 'model', 'previewEvery']) t.truthy(fv[f], f);
  const dossier = (optionsJsonSchema(dossierKind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>> }).properties;
  t.is(dossier.images.image, true);
  t.false('out' in dossier);
  t.like(parse(dossierKind, { layer: 'block_6_expand_relu', unit: 3 }), { images: 'bundled', copies: 4, model: 'mobilenet_v2' });
  t.throws(() => parse(dossierKind, { layer: 'block_6_expand_relu', unit: 3, images: '/etc' }), { instanceOf: ConvlabError, message: /^images/ });
});

test.serial('visualize.featureviz: the live preview rewritten as it forms, one PNG per copy, the objective per step in progress and run.json', async (t) => {
  const run = await runKind<FeatureVizJobResult>(featureVizKind, { objective: 'block_6_expand_relu:3', size: 64, steps: 8, copies: 2, diversity: 1, previewEvery: 2, seed: 3 });
  try {
    const r = run.result;
    t.like(r, { model: 'mobilenet_v2', objective: 'block_6_expand_relu:3 + 1*diversity:block_6_expand_relu', size: [64, 64], preview: 'current.png', record: 'run.json', steps: { done: 8, total: 8 }, complete: true });
    t.deepEqual(r.images.map((im) => [im.image, im.objective, im.copy]), [['featureviz-0.png', 0, 0], ['featureviz-1.png', 0, 1]]);
    for (const im of r.images) {
      const png = await readPng(join(run.dir, im.image));
      t.deepEqual([png.width, png.height], [64, 64]);
      t.true(png.std > 5, `${im.image} is not flat (std ${png.std.toFixed(1)})`);
      t.true(im.final > im.start, `${im.image}: the objective rose (${im.start} -> ${im.final})`);
    }
    t.not(readFileSync(join(run.dir, 'featureviz-0.png')).toString('base64'), readFileSync(join(run.dir, 'featureviz-1.png')).toString('base64'), 'the copies differ');
    // The preview: both copies side by side, rewritten while running (steps 1, 2, 4, 6) and once more with the result.
    const previews = run.artifacts.filter((a) => a.path === 'current.png');
    t.deepEqual(previews.map((a) => a.version), [1, 2, 3, 4, 5]);
    t.regex(previews[0].label ?? '', /step 1\/8/);
    t.regex(previews.at(-1)!.label ?? '', /^result, step 8\/8/);
    t.deepEqual(await pngSize(join(run.dir, 'current.png')), { width: 64 * 2 + 4, height: 64 });
    t.deepEqual(run.artifacts.filter((a) => a.path !== 'current.png').map((a) => a.path), ['featureviz-0.png', 'featureviz-1.png', 'run.json']);
    // Progress: loading, then every step with the objective as a value.
    const steps = run.progress.filter((p) => p.values);
    t.deepEqual(steps.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
    t.true(steps.every((p) => p.total === 8 && Number.isFinite(p.values!.objective)));
    t.regex(steps[7].message ?? '', /^step 8\/8, objective -?\d/);
    const record = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8'));
    t.deepEqual(record.extra.result.history, steps.map((p) => p.values!.objective));
    t.is(record.extra.objective, r.objective);
    t.is(record.parameters.objective, 'block_6_expand_relu:3');
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.featureviz: a layer or channel the model lacks fails naming it; cancelled, it keeps what it made', async (t) => {
  await t.throwsAsync(runKind(featureVizKind, { objective: 'block_6_expand_relu:9999', size: 64, steps: 2 }), { instanceOf: ConvlabError, message: /channel 9999 is out of range for block_6_expand_relu/ });
  await t.throwsAsync(runKind(featureVizKind, { objective: 'nope:1', size: 64, steps: 2 }), { instanceOf: ConvlabError, message: /nope/ });
  const c = new AbortController();
  c.abort();
  const run = await runKind<FeatureVizJobResult>(featureVizKind, { objective: '@early:1', size: 64, steps: 50 }, c.signal);
  try {
    t.like(run.result, { complete: false, steps: { done: 0, total: 50 } });
    t.deepEqual(await pngSize(join(run.dir, 'featureviz-0.png')), { width: 64, height: 64 });
  } finally {
    run.cleanup();
  }
});

test.serial('visualize.dossier: the HTML report with every image inlined, its files announced, on given photos', async (t) => {
  const photos = ['dog.jpg', 'kite.jpg'].map((f) => join(BUNDLED_IMAGES, f));
  const run = await runKind<DossierJobResult>(dossierKind, {
    images: photos,
    layer: 'block_6_expand_relu',
    unit: 3,
    k: 4,
    copies: 2,
    steps: 3,
    size: 64,
    methods: ['saliency', 'gradcam'],
    mapImages: 1,
    sanitySteps: 2,
    faithfulnessSteps: 4,
    batch: 4,
  });
  try {
    const r = run.result;
    t.like(r, { model: 'mobilenet_v2', layer: 'block_6_expand_relu', unit: 3, complete: true });
    t.regex(r.report, /^dossier-block_6_expand_relu-unit3\/dossier-block_6_expand_relu-unit3\.html$/);
    const html = readFileSync(join(run.dir, r.report), 'utf8');
    for (const heading of ['Top-4 dataset patches', 'Feature visualization by optimization', 'Receptive field', 'every method side by side', 'Sanity check']) t.true(html.includes(heading), heading);
    t.true((html.match(/src="data:image\//g) ?? []).length >= 4, 'the figures are inlined');
    t.is(r.featureViz.length, 2);
    for (const f of r.featureViz) t.deepEqual(await pngSize(join(run.dir, f)), { width: 64, height: 64 });
    t.truthy(r.top9 && existsSync(join(run.dir, r.top9)));
    t.truthy(r.receptiveField.image && existsSync(join(run.dir, r.receptiveField.image)));
    // Given photos are copied into the job's folder (augmented: two photos are few).
    t.true(existsSync(join(run.dir, 'photos/000-dog.jpg')) && existsSync(join(run.dir, 'photos/001-kite.jpg')));
    const announced = run.artifacts.map((a) => a.path);
    t.deepEqual([...announced].sort(), [...r.files].sort());
    t.is(announced.at(-1), r.report);
    t.is(run.artifacts.at(-1)!.mime, 'text/html; charset=utf-8');
    for (const a of run.artifacts) t.true(existsSync(join(run.dir, a.path)), a.path);
    const stages = run.progress.slice(1).map((p) => p.message ?? '');
    t.regex(stages[0], /^top-4 over 2 photos/);
    t.is(run.progress.at(-1)!.done, run.progress.at(-1)!.total);
  } finally {
    run.cleanup();
  }
});
