/**
 * The studio's visualization job kinds (@convlab/jobs' kind interface):
 *
 * - `visualize.attribute`: attribution methods side by side on one image for one target (a unit of a
 *   layer, or a class of the head), one PNG panel per method (createMethod: deconvnet, guided backprop,
 *   saliency, SmoothGrad, Grad-CAM, ..., occlusion);
 * - `visualize.top9`: the Zeiler & Fergus Fig. 2 figure of a layer's units over the bundled photos (flipped
 *   and zoomed when there are few, as the demo figure does) or given images;
 * - `visualize.layers` (light): the model's layers with shapes, receptive fields, strides and parameters;
 * - `visualize.featureviz`: feature visualization by optimization (Olah et al. 2017; featureviz/optimize.ts),
 *   the images forming live in current.png, the objective per step in progress values and run.json;
 * - `visualize.dossier`: the unit dossier (dossier.ts), one HTML report with its images as artifacts.
 *
 * Inputs are the calls' option schemas (options.ts) without the output folder, with one image (or a list of
 * images) as file paths (the studio resolves its references first), and the model limited to the registry's
 * names with their shipped or random weights (no server path from a client). This module loads no tfjs:
 * each `run` imports the library, the engine and the model.
 */
import { mkdir, rm } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, z } from '@convlab/core/light';
import type { RgbImage } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { DEFAULT_METHODS, METHOD_NAMES, type MethodName } from './names.js';
import { AttributeOptions, DossierOptions, FeatureVizOptions, FigureOptions, LayersOptions, ModelOptions, Top9Options, fields } from './options.js';
import { objectiveSyntaxError } from './featureviz/objective-syntax.js';
import type { ResolvedTarget, Target } from './target.js';

/** The bundled sample photos (assets/content at the repository root), top9's default images. */
export const BUNDLED_IMAGES = fileURLToPath(new URL('../../../assets/content/', import.meta.url));

/**
 * Models a job may load: the registry's built-in architectures (@convlab/models' listModels(), which loads
 * tfjs, less `custom`, which needs a server path). mobilenet_v2 and inception_v3 ship their weights; the
 * others need theirs pulled (convlab-models pull NAME) or take random ones.
 */
export const JOB_MODELS = ['mobilenet_v2', 'inception_v3', 'vgg16', 'vgg19', 'resnet50', 'resnet101', 'resnet152', 'inception_resnet_v2'] as const;

const modelFields = {
  model: z.enum(JOB_MODELS).default('mobilenet_v2').describe('model (all but mobilenet_v2 and inception_v3 need their weights pulled with convlab-models pull, or random weights)'),
  weights: z.enum(['default', 'random']).default('default').describe("the model's shipped (or pulled) weights, or random ones"),
  seed: ModelOptions.shape.seed,
};

const PNG = { mime: 'image/png' } as const;

/** The layer a unit target defaults to when neither a class nor a layer is given. */
const DEFAULT_LAYER = '@mid';

/** Engine up (the worker's backend), model loaded; the model is disposed when `fn` settles. */
async function withModel<T>(input: { model: string; weights: string; seed: number }, ctx: JobContext, fn: (model: ConvNet) => Promise<T>): Promise<T> {
  const [{ initEngine }, { loadModel }] = await Promise.all([import('@convlab/core'), import('@convlab/models')]);
  const engine = await initEngine({ log: false });
  ctx.setBackend(engine.backend);
  ctx.progress({ done: 0, total: 1, message: `loading ${input.model}` });
  const model = await loadModel(input.model, { weights: input.weights, seed: input.seed });
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

// ------------------------------------------------------------------------------------------ attribute

/** Every attribution method (occlusion included) is one panel; the methods' own options are AttributeOptions'. */
export const AttributeJobInput = AttributeOptions.omit({ images: true, out: true, methods: true, sharedScale: true })
  .extend({
    ...modelFields,
    image: z.string().min(1, 'give an image').meta({ description: 'the image to explain', image: true }),
    methods: z
      .array(z.enum(METHOD_NAMES as [MethodName, ...MethodName[]]))
      .min(1, 'choose at least one method')
      .default([...DEFAULT_METHODS])
      .describe(`methods, one panel each: ${METHOD_NAMES.join(', ')}`),
  })
  .extend({
    layer: fields.layer.optional().describe(`layer of the unit to explain: name, alias or role (default ${DEFAULT_LAYER}; not with class)`),
    unit: AttributeOptions.shape.unit.describe('unit (channel) of the layer: N, or strongest on this image (default strongest; not with class)'),
  });
export type AttributeJobInput = z.output<typeof AttributeJobInput>;

export interface AttributePanel {
  method: MethodName;
  /** The panel's PNG, e.g. 'gradcam.png'. */
  image: string;
  seconds: number;
  /** What the method computed with (its options, defaults filled). */
  params: Record<string, unknown>;
  /** Why a map says nothing, when it does not (e.g. all zero: the unit is saturated at a ReLU6's cap). */
  warnings?: string[];
}

export interface AttributeJobResult {
  model: string;
  /** The image as the model saw it (fitted to the input size). */
  input: 'input.png';
  size: [number, number];
  target: ResolvedTarget;
  panels: AttributePanel[];
  record: 'run.json';
  aborted: boolean;
}

/** The target of the job's input: a class, or a unit of a layer (defaults: DEFAULT_LAYER, strongest). */
function jobTarget(o: AttributeJobInput): Target {
  if (o.class !== undefined) {
    if (o.layer !== undefined || o.unit !== undefined) {
      throw new ConvlabError('class: give either a class or a layer and unit, not both', { hint: 'leave out layer and unit to explain a class' });
    }
    return { classIndex: o.class };
  }
  return { layer: o.layer ?? DEFAULT_LAYER, unit: o.unit ?? 'strongest', position: o.position };
}

async function attributeJob(o: AttributeJobInput, ctx: JobContext): Promise<AttributeJobResult> {
  const started = performance.now();
  const [core, checks, runs, methods, render, images, targets] = await Promise.all([
    import('@convlab/core'),
    import('./checks.js'),
    import('./runs.js'),
    import('./methods/index.js'),
    import('./render.js'),
    import('./images.js'),
    import('./target.js'),
  ]);
  return withModel(o, ctx, async (model) => {
    const size = checks.checkSizeForModel(model, o.size);
    const target = checks.checkTargetForModel(model, jobTarget(o), size, o.camLayer);
    const layer = target.classIndex === undefined ? target.layer : undefined;
    checks.checkCallMemory(model, 'attribute', { layer, size, methods: o.methods, smoothgradSamples: o.smoothgradSamples });
    const image = await images.loadFitted(o.image, size, o.fit);
    await core.saveImage(image, join(ctx.dir, 'input.png'));
    await ctx.announce('input.png', { ...PNG, label: `input ${size[1]}x${size[0]}` });
    const record = core.createRunRecord({ tool: 'studio visualize.attribute', parameters: o, seed: o.seed, backend: core.engineInfo()?.summary, model: { name: model.name, weights: model.weights } });
    const options = runs.methodOptionsOf(o, ctx.signal);
    const panels: AttributePanel[] = [];
    let resolved: ResolvedTarget | undefined;
    const total = o.methods.length;
    for (const [i, method] of o.methods.entries()) {
      if (ctx.signal.aborted) break;
      ctx.progress({ done: i, total, message: `${method} (${i + 1}/${total})` });
      const map = await methods.createMethod(method, model, options).attribute(image, target);
      // A method that honours the signal (occlusion, Score-CAM) returns early with a partial map: no panel.
      if (ctx.signal.aborted) break;
      resolved ??= map.target;
      const file = `${method}.png`;
      await core.saveImage(await render.attributionImage(map, image, { normalization: o.normalize }), join(ctx.dir, file));
      const seconds = map.ms / 1000;
      await ctx.announce(file, { ...PNG, label: `${method}, ${seconds.toFixed(1)} s` });
      panels.push({ method, image: file, seconds, params: map.params, ...(map.warnings?.length ? { warnings: map.warnings } : {}) });
      record.time(method, map.ms);
      ctx.log(`${method}: ${seconds.toFixed(2)} s`);
      for (const w of map.warnings ?? []) ctx.log(`${method}: ${w}`);
    }
    const aborted = panels.length < total;
    if (!resolved) {
      // Stopped before the first panel: the target still resolves on the image (one forward pass).
      const batch = core.tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3]);
      try {
        resolved = targets.resolveTarget(model, batch, target);
      } finally {
        batch.dispose();
      }
    }
    if (!aborted) ctx.progress({ done: total, total, message: `${total} panels` });
    record.set('target', resolved);
    record.set('panels', panels);
    record.set('aborted', aborted);
    record.set('outputs', { input: 'input.png', panels: panels.map((p) => p.image) });
    record.finish();
    await record.save(join(ctx.dir, 'run.json'));
    await ctx.announce('run.json', { mime: 'application/json', label: 'run record' });
    ctx.log(`attribute: ${panels.length} panels in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { model: model.name, input: 'input.png', size, target: resolved, panels, record: 'run.json', aborted };
  });
}

export const attributeKind = defineJobKind({
  kind: 'visualize.attribute',
  title: 'Attribution methods side by side',
  description:
    'What in the image drives a unit (or a class): deconvnet (Zeiler & Fergus 2013), guided backprop, saliency, SmoothGrad, Grad-CAM, guided Grad-CAM and occlusion, one panel each.',
  input: AttributeJobInput,
  heavy: true,
  run: attributeJob,
});

// ------------------------------------------------------------------------------------------ top9

export const Top9JobInput = Top9Options.omit({ images: true, out: true, cache: true, limit: true, unitImages: true, units: true, rules: true, layer: true }).extend({
  ...modelFields,
  images: z
    .union([z.literal('bundled'), z.array(z.string().min(1)).min(1, 'give at least one image, or bundled')])
    .default('bundled')
    .meta({ description: "'bundled' (the sample photos) or images to scan", image: true }),
  layer: Top9Options.shape.layer.default(DEFAULT_LAYER),
  units: fields.units('strongest:4'),
  rules: fields.rules(['deconvnet', 'guided']),
  augment: FigureOptions.shape.augment.describe('add flips and zooms of each photo (default: when there are fewer than 18)'),
});
export type Top9JobInput = z.output<typeof Top9JobInput>;

export interface Top9JobUnit {
  unit: number;
  /** The unit's figure: the 3x3 projections per rule next to the 3x3 image patches. */
  grid: string;
  /** The images of its top activations, strongest first (files under samples/). */
  images: string[];
  values: number[];
}

export interface Top9JobResult {
  model: string;
  layer: string;
  units: Top9JobUnit[];
  /** All units in one picture. */
  figure?: string;
  record?: string;
  /** Images scanned (with the augmented copies) and whether copies were added. */
  images: number;
  augmented: boolean;
  complete: boolean;
}

async function top9Job(o: Top9JobInput, ctx: JobContext): Promise<Top9JobResult> {
  const [core, imagesLib, figure, top9] = await Promise.all([import('@convlab/core'), import('./images.js'), import('./figure.js'), import('./top9/run.js')]);
  return withModel(o, ctx, async (model) => {
    const { checkSizeForModel } = await import('./checks.js');
    const size = checkSizeForModel(model, o.size);
    const layer = model.resolveLayer(o.layer);
    const photos = o.images === 'bundled' ? await imagesLib.collectImageFiles(BUNDLED_IMAGES) : o.images;
    const augmented = o.augment ?? photos.length < 18;
    // The images the scan sees, under samples/: fitted copies (and flips and zooms), named after each photo.
    const samples = join(ctx.dir, 'samples');
    await mkdir(samples, { recursive: true });
    const used = new Set<string>();
    let count = 0;
    for (const [i, file] of photos.entries()) {
      if (ctx.signal.aborted) break;
      ctx.progress({ done: i, total: photos.length, message: `preparing images ${i + 1}/${photos.length}` });
      let stem = top9.safeName(basename(file, extname(file)));
      while (used.has(stem)) stem += '_';
      used.add(stem);
      const copies = augmented
        ? await figure.augmentPhoto(await core.loadImage(file), Math.min(...size))
        : [{ suffix: '', image: await imagesLib.loadFitted(file, size, o.fit) }];
      for (const c of copies) {
        const fitted = c.image.width === size[1] && c.image.height === size[0] ? c.image : await imagesLib.fitImage(c.image, size[1], size[0], o.fit);
        await core.saveImage(fitted, join(samples, `${stem}${c.suffix}.png`));
        count++;
      }
    }
    ctx.log(`top9: ${count} images (${photos.length} photos${augmented ? ', with flips and zooms' : ''}), ${model.name} ${layer}`);
    const cache = join(ctx.dir, '.scan-cache');
    const r = await top9
      .runTop9(
        model,
        { images: samples, layer, units: o.units ?? { strongest: 4 }, k: o.k, rules: o.rules, normalize: o.normalize, batch: o.batch, size, fit: o.fit, out: ctx.dir, cache, unitImages: true },
        {
          signal: ctx.signal,
          onScan: (p) => ctx.progress({ done: p.done, total: p.total, message: `scanning ${p.done}/${p.total} images` }),
          onRender: (done, total) => ctx.progress({ done, total, message: `rendering unit ${done}/${total}` }),
        },
      )
      .finally(() => rm(cache, { recursive: true, force: true }));
    const rel = (p: string) => relative(ctx.dir, p).split('\\').join('/');
    for (const f of r.files) await ctx.announce(rel(f), { label: basename(f) });
    const unitFile = (unit: number) => r.files.map(rel).find((f) => f.endsWith(`-unit${unit}.png`));
    const units = r.figures.map((f) => {
      const top = r.tops.find((t) => t.unit === f.unit);
      return {
        unit: f.unit,
        grid: unitFile(f.unit) ?? '',
        images: (top?.entries ?? []).map((e) => `samples/${e.file}`),
        values: (top?.entries ?? []).map((e) => e.value),
      };
    });
    const figurePath = r.files.map(rel).find((f) => f.endsWith('.png') && !/-unit\d+\.png$/.test(f));
    const recordPath = r.files.map(rel).find((f) => f.endsWith('.json'));
    return { model: model.name, layer: r.layer, units, figure: figurePath, record: recordPath, images: count, augmented, complete: r.complete && units.length === r.tops.length };
  });
}

export const top9Kind = defineJobKind({
  kind: 'visualize.top9',
  title: 'Top-9 activations of units',
  description:
    "Zeiler & Fergus Fig. 2: for units of a layer, the nine strongest activations over a set of images, each projected back to pixels (deconvnet, guided backprop) next to the image patch in the unit's receptive field.",
  input: Top9JobInput,
  heavy: true,
  run: top9Job,
});

// ------------------------------------------------------------------------------------------ layers

export const LayersJobInput = LayersOptions.extend(modelFields);
export type LayersJobInput = z.output<typeof LayersJobInput>;

export interface LayersJobLayer {
  name: string;
  kind: string;
  className: string;
  aliases: string[];
  roles: string[];
  /** Output shape [h, w, c] at the input size (null when the layer does not fit it, e.g. a head). */
  shape: number[] | null;
  receptiveField: [number, number] | null;
  /** Stride of the output w.r.t. the input (null for non-spatial outputs). */
  stride: number | null;
  /** Trainable and other weights of the layer. */
  params: number | null;
}

export interface LayersJobResult {
  model: string;
  size: [number, number];
  layers: LayersJobLayer[];
  roles: Record<string, string>;
}

async function layersJob(o: LayersJobInput, ctx: JobContext): Promise<LayersJobResult> {
  const { describeLayers } = await import('./layers.js');
  return withModel(o, ctx, async (model) => {
    const r = describeLayers(model, { size: o.size });
    const params = (name: string): number | null => {
      try {
        return model.model.getLayer(name).countParams();
      } catch {
        return null;
      }
    };
    const layers = r.layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      className: l.className,
      aliases: l.aliases,
      roles: l.roles,
      shape: l.outputShape,
      receptiveField: l.receptiveField,
      stride: l.reduction,
      params: params(l.name),
    }));
    ctx.progress({ done: 1, total: 1, message: `${layers.length} layers` });
    return { model: r.model, size: r.size, layers, roles: r.roles };
  });
}

export const layersKind = defineJobKind({
  kind: 'visualize.layers',
  title: 'Layers of a model',
  description: 'Every layer with its output shape, receptive field, stride and parameter count at an input size, and the layers playing the roles @early, @mid, @late, @last-conv.',
  input: LayersJobInput,
  heavy: false,
  run: layersJob,
});

// ------------------------------------------------------------------------------------------ featureviz

/** About this many live previews per run (as style's current.png). */
const PREVIEWS = 25;

/**
 * The objective's text checked by the objective parser (objective-syntax.ts, no tfjs) when the input is
 * parsed, so a bad objective is refused (a 400 naming `objective` in the studio) before a worker loads a model.
 */
const objectiveField = FeatureVizOptions.shape.objective.superRefine((text, ctx) => {
  const why = objectiveSyntaxError(text);
  if (why) ctx.addIssue({ code: 'custom', input: text, message: why });
});

/** FeatureVizOptions (options.ts) without the output folder, with the model fields and the live preview's rate. */
export const FeatureVizJobInput = FeatureVizOptions.omit({ out: true }).extend({
  ...modelFields,
  objective: objectiveField,
  seed: FeatureVizOptions.shape.seed,
  previewEvery: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .meta({ description: `rewrite the live preview current.png every N steps (default: about ${PREVIEWS} previews per run)`, placeholder: 'N' }),
});
export type FeatureVizJobInput = z.output<typeof FeatureVizJobInput>;

export interface FeatureVizJobImage {
  /** The image's PNG, 'featureviz-<i>.png'. */
  image: string;
  /** Which objective (of those separated by ";") and which copy of it. */
  objective: number;
  copy: number;
  /** The objective (no transforms) before the first step and at the end. */
  start: number;
  final: number;
}

export interface FeatureVizJobResult {
  model: string;
  /** The objective as optimized (with the diversity term when copies > 1 and diversity > 0). */
  objective: string;
  size: [number, number];
  images: FeatureVizJobImage[];
  /** The live preview, ending on the result: the images side by side. */
  preview: 'current.png';
  record: 'run.json';
  steps: { done: number; total: number };
  complete: boolean;
  seconds: number;
}

/** Images side by side on a white ground, `gap` px apart (the live preview of several copies). */
function montage(images: RgbImage[], gap = 4): RgbImage {
  const width = images.reduce((w, im) => w + im.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((im) => im.height));
  const data = new Uint8Array(width * height * 3).fill(255);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) data.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * width + x0) * 3);
    x0 += im.width + gap;
  }
  return { width, height, data };
}

async function featureVizJob(o: FeatureVizJobInput, ctx: JobContext): Promise<FeatureVizJobResult> {
  const started = performance.now();
  const [core, optimize, runs, syntax] = await Promise.all([import('@convlab/core'), import('./featureviz/optimize.js'), import('./runs.js'), import('./featureviz/objective-syntax.js')]);
  return withModel(o, ctx, async (model) => {
    const settings = runs.featureVizSettings(model, o);
    const { size, objective } = settings;
    const objectives = syntax.parseObjectives(objective).length;
    const every = o.previewEvery ?? Math.max(1, Math.round(o.steps / PREVIEWS));
    const record = core.createRunRecord({ tool: 'studio visualize.featureviz', parameters: o, seed: o.seed, backend: core.engineInfo()?.summary, model: runs.modelInfo(model) });
    ctx.log(`featureviz: ${model.name}, "${objective}", ${size[1]}x${size[0]}, ${o.copies} cop${o.copies === 1 ? 'y' : 'ies'}, ${o.steps} steps`);
    // The optimizer waits for each preview to be written (a few ms), so the page sees the image of the step it names.
    let done = 0;
    const preview = async (images: RgbImage[], label: string): Promise<void> => {
      await ctx.artifact('current.png', await core.encodeImage(montage(images), 'png'), { ...PNG, label });
    };
    const res = await optimize.featureVisualization(model, {
      ...settings,
      signal: ctx.signal,
      onStep: (step, steps, value, images) => {
        done = step;
        ctx.progress({ done: step, total: steps, message: `step ${step}/${steps}, objective ${value.toPrecision(4)}`, values: { objective: value } });
        if ((step % every === 0 || step === 1) && step < steps) return preview(images(), `current images, step ${step}/${steps}`);
      },
    });
    record.time('optimize', res.seconds * 1000);
    // The preview ends on the result, so a page following current.png shows what the job made.
    await ctx.artifact('current.png', await core.encodeImage(montage(res.images), 'png'), { ...PNG, label: `result, step ${done}/${o.steps}` });
    const images: FeatureVizJobImage[] = [];
    for (const [i, image] of res.images.entries()) {
      const file = `featureviz-${i}.png`;
      await core.saveImage(image, join(ctx.dir, file));
      images.push({ image: file, objective: i % objectives, copy: Math.floor(i / objectives), start: res.start[i], final: res.final[i] });
      await ctx.announce(file, { ...PNG, label: `#${i}: objective ${res.start[i].toPrecision(3)} -> ${res.final[i].toPrecision(3)}` });
    }
    record.set('objective', objective);
    record.set('result', { start: res.start, final: res.final, layers: res.layers, params: res.params, complete: res.complete, history: res.history });
    record.set('outputs', { images: images.map((im) => im.image), preview: 'current.png' });
    record.finish();
    await record.save(join(ctx.dir, 'run.json'));
    await ctx.announce('run.json', { mime: 'application/json', label: 'run record (objective per step)' });
    ctx.log(`featureviz: objective ${res.start.map((v) => v.toPrecision(3)).join(', ')} -> ${res.final.map((v) => v.toPrecision(3)).join(', ')} in ${res.seconds.toFixed(1)} s`);
    return { model: model.name, objective, size, images, preview: 'current.png', record: 'run.json', steps: { done: res.history.length, total: o.steps }, complete: res.complete, seconds: (performance.now() - started) / 1000 };
  });
}

export const featureVizKind = defineJobKind({
  kind: 'visualize.featureviz',
  title: 'Feature visualization',
  description:
    'Images that maximise a unit, channel, neuron, direction or class by gradient ascent (Olah, Mordvintsev & Schubert 2017): fourier or pixel parameterization, random transforms, diverse copies; the image forms live.',
  input: FeatureVizJobInput,
  heavy: true,
  run: featureVizJob,
});

// ------------------------------------------------------------------------------------------ dossier

/** DossierOptions (options.ts) without the output folder; photos are the bundled ones or a list of images (no server folder). */
export const DossierJobInput = DossierOptions.omit({ out: true, images: true }).extend({
  ...modelFields,
  seed: DossierOptions.shape.seed,
  images: z
    .union([z.literal('bundled'), z.array(z.string().min(1)).min(1, 'give at least one image, or bundled')])
    .default('bundled')
    .meta({ description: "'bundled' (the sample photos) or images for top-9 and the maps", image: true }),
});
export type DossierJobInput = z.output<typeof DossierJobInput>;

export interface DossierJobResult {
  model: string;
  layer: string;
  unit: number;
  /** The self-contained HTML report (images inlined), relative to the job's folder. */
  report: string;
  record: string;
  /** Every file the dossier wrote (PNG, JSON, HTML), relative to the job's folder. */
  files: string[];
  /** The unit's feature visualizations and its top-9 figure, for a page to show beside the report. */
  featureViz: string[];
  top9?: string;
  receptiveField: { size: [number, number]; stride: [number, number]; image?: string };
  timings: Record<string, number>;
  complete: boolean;
  seconds: number;
}

async function dossierJob(o: DossierJobInput, ctx: JobContext): Promise<DossierJobResult> {
  const [{ runDossier }, { cp }] = await Promise.all([import('./dossier.js'), import('node:fs/promises')]);
  return withModel(o, ctx, async (model) => {
    let folder = 'bundled';
    if (o.images !== 'bundled') {
      // Given images go into a folder of the job's own (the dossier reads a folder), each under a distinct name.
      folder = join(ctx.dir, 'photos');
      await mkdir(folder, { recursive: true });
      for (const [i, file] of o.images.entries()) await cp(file, join(folder, `${String(i).padStart(3, '0')}-${basename(file)}`));
    }
    const stages = 2 + (o.sanitySteps > 0 ? 2 : 1);
    let stage = 0;
    const { model: _m, weights: _w, ...options } = o;
    const r = await runDossier(model, { ...options, images: folder, out: ctx.dir }, {
      signal: ctx.signal,
      log: (line) => ctx.log(line),
      onStage: (s) => ctx.progress({ done: Math.min(stage++, stages - 1), total: stages, message: s }),
    });
    const rel = (p: string) => relative(ctx.dir, p).split('\\').join('/');
    const files = r.files.map(rel);
    for (const f of files) {
      if (f === rel(r.report)) continue;
      await ctx.announce(f, { label: basename(f) });
    }
    await ctx.announce(rel(r.report), { mime: 'text/html; charset=utf-8', label: 'unit dossier (HTML report)' });
    ctx.progress({ done: stages, total: stages, message: `dossier in ${r.seconds.toFixed(1)} s` });
    const layer = model.resolveLayer(o.layer);
    return {
      model: model.name,
      layer,
      unit: o.unit,
      report: rel(r.report),
      record: rel(r.record),
      files,
      featureViz: r.featureViz.files.filter((f) => f.endsWith('.png') && !f.endsWith('-grid.png')).map(rel),
      top9: files.find((f) => f.endsWith(`-unit${o.unit}.png`)),
      receptiveField: { size: r.receptiveField.size, stride: r.receptiveField.stride, ...(r.receptiveField.image ? { image: rel(r.receptiveField.image) } : {}) },
      timings: r.timings,
      complete: !ctx.signal.aborted && r.featureViz.history.length === o.steps,
      seconds: r.seconds,
    };
  });
}

export const dossierKind = defineJobKind({
  kind: 'visualize.dossier',
  title: 'Unit dossier',
  description:
    "Everything about one unit in one HTML report: its top-9 dataset patches with deconvnet and guided projections, feature visualizations (diverse copies), its receptive field, and every map method with deletion / insertion scores and the sanity check.",
  input: DossierJobInput,
  heavy: true,
  run: dossierJob,
});

export const jobKinds: JobKind[] = [attributeKind, top9Kind, layersKind, featureVizKind, dossierKind];
