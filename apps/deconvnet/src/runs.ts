/**
 * Runs that write files: each computes with the library, saves PNGs, a JSON run record and (where a
 * comparison is shown) a self-contained HTML report, and returns what it wrote. The CLI and the demo
 * call these; everything they compute is also available from the functions they call.
 */
import { realpathSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import {
  ConvlabError,
  captionImage,
  createRunRecord,
  drawGrid,
  engineInfo,
  escapeHtml,
  linePlot,
  overlayHeatmap,
  saveImage,
  writeHtmlPage,
  type GridCell,
  type HtmlSection,
  type RgbImage,
} from '@convlab/core';
import type { ConvNet, ReluBackward } from '@convlab/models';
import { METHOD_TITLES, type AttributionMap, type MethodName } from './attribution.js';
import { createMethod, type MethodOptions } from './methods/index.js';
import { occlusionForModel, upsampleGrid, type OcclusionOptions } from './methods/occlusion.js';
import { attributionImage, cropPadded, cropPixels, fitBox, heatImage, projectionToImage, type ProjectionNormalization } from './render.js';
import { featureMaps, type FeatureMapsOptions } from './feature-maps.js';
import { firstLayerFilters } from './filters.js';
import { sanityCheck } from './sanity-check.js';
import { loadFitted, type FitMode } from './images.js';
import { unitBoxes } from './receptive.js';
import { safeName } from './top9/run.js';
import type { Target } from './target.js';

export interface ImageRunBase {
  model: ConvNet;
  /** Image files. */
  images: string[];
  outDir: string;
  /** Input size [h, w] (default: the model's). */
  size?: [number, number];
  fit?: FitMode;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /**
   * Called for an image that cannot be read (missing, truncated, not an image): the run skips it and
   * goes on with the others (the CLI prints it and exits with EXIT_SOME_FAILED). A run over a single
   * image, or one where every image fails, throws instead.
   */
  onSkip?: (file: string, error: unknown) => void;
}

export interface RunOutput {
  /** Files written (PNG, JSON, HTML). */
  files: string[];
  /** Images that could not be read and were skipped (also in the run record). */
  failed?: { file: string; error: string }[];
  /** The JSON run record. */
  record: string;
  /** The HTML report, if the run writes one. */
  report?: string;
  seconds: number;
}

function stem(file: string): string {
  return safeName(basename(file, extname(file)));
}

function targetSlug(t: Target): string {
  if (t.classIndex !== undefined) return `class${t.classIndex}`;
  const pos = Array.isArray(t.position) ? `-y${t.position[0]}x${t.position[1]}` : t.position === 'all' ? '-all' : '';
  return `${safeName(t.layer ?? 'layer')}-${t.unit === 'strongest' ? 'strongest' : `unit${t.unit}`}${pos}`;
}

function modelInfo(model: ConvNet) {
  return { name: model.name, weights: model.weights };
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Output paths of a run: `path(name)` joins the output folder and refuses a name that is one of the
 * run's input images (also through links), so an output folder that holds the inputs (e.g. results
 * of an earlier run given back as images) never has an input written over.
 */
function outputNamer(outDir: string, images: readonly string[]): (name: string) => string {
  const inputs = new Map(images.map((f) => [realOrResolved(f), f]));
  return (name: string) => {
    const path = join(outDir, name);
    const input = inputs.get(realOrResolved(path));
    if (input !== undefined) {
      throw new ConvlabError(`--out: ${path} would be written over the input image ${input}`, { hint: 'choose another --out, or move the images out of it' });
    }
    return path;
  };
}

/**
 * The images of a run, decoded and fitted, one at a time; a file that cannot be read is reported
 * through onSkip and skipped. A single image that fails, or every image failing, is an error.
 */
async function* readImages(options: ImageRunBase, size: [number, number], failed: { file: string; error: string }[]): AsyncGenerator<{ file: string; image: RgbImage }> {
  for (const file of options.images) {
    if (options.signal?.aborted) return;
    let image: RgbImage;
    try {
      image = await loadFitted(file, size, options.fit);
    } catch (err) {
      if (options.images.length === 1) throw err;
      failed.push({ file, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      options.onSkip?.(file, err);
      if (failed.length === options.images.length) {
        throw new ConvlabError(`none of the ${options.images.length} images could be read (${failed[0].file}: ${failed[0].error})`, { hint: 'check the image files' });
      }
      continue;
    }
    yield { file, image };
  }
}

// ---------------------------------------------------------------- attribute

export interface AttributeRunOptions extends ImageRunBase {
  target: Target;
  methods: MethodName[];
  methodOptions?: MethodOptions;
  normalization?: ProjectionNormalization;
  /** Title of the HTML report. */
  title?: string;
}

export interface AttributeRunResult extends RunOutput {
  maps: { image: string; maps: AttributionMap[] }[];
}

/** Every method on every image for one target: per-map PNGs, a comparison grid, JSON and HTML. */
export async function runAttribute(options: AttributeRunOptions): Promise<AttributeRunResult> {
  const started = performance.now();
  const { model, outDir } = options;
  const size = options.size ?? model.inputSize;
  const record = createRunRecord({
    tool: 'deconvnet attribute',
    parameters: { images: options.images, target: options.target, methods: options.methods, methodOptions: options.methodOptions ?? {}, size, normalization: options.normalization ?? 'robust' },
    backend: engineInfo()?.summary,
    model: modelInfo(model),
  });
  const methods = options.methods.map((m) => createMethod(m, model, options.methodOptions));
  const out = outputNamer(outDir, options.images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const sections: HtmlSection[] = [];
  const rows: GridCell[] = [];
  const all: AttributeRunResult['maps'] = [];
  const table: (string | number)[][] = [];
  for await (const { file, image } of readImages(options, size, failed)) {
    const maps: AttributionMap[] = [];
    const cells: GridCell[] = [{ image, label: basename(file), sublabel: `${size[1]}x${size[0]}` }];
    for (const method of methods) {
      if (options.signal?.aborted) break;
      const map = await method.attribute(image, options.target);
      maps.push(map);
      record.time(method.name, map.ms);
      const picture = await attributionImage(map, image, { normalization: options.normalization });
      const path = out(`attr-${stem(file)}-${targetSlug(options.target)}-${method.name}.png`);
      await saveImage(picture, path);
      files.push(path);
      cells.push({ image: picture, label: method.name, sublabel: `${map.ms.toFixed(0)} ms` });
      table.push([basename(file), method.name, map.target.label, Number(map.target.value.toPrecision(4)), Math.round(map.ms), JSON.stringify(map.params)]);
      options.log?.(`${basename(file)}: ${method.name} ${map.ms.toFixed(0)} ms`);
    }
    all.push({ image: file, maps });
    rows.push(...cells);
    sections.push({
      heading: `${basename(file)}: ${maps[0]?.target.label ?? ''}`,
      text: maps[0]
        ? `Target ${maps[0].target.label}, value ${maps[0].target.value.toPrecision(4)}${maps[0].target.probability !== undefined ? ` (probability ${maps[0].target.probability.toPrecision(3)})` : ''}. Image-space maps are contrast-stretched per map around grey (${options.normalization ?? 'robust'}); Grad-CAM is overlaid in viridis.`
        : '',
      figures: cells.map((c) => ({ image: c.image, caption: c.label === basename(file) ? 'input' : `${METHOD_TITLES[c.label as MethodName] ?? c.label}: ${c.sublabel}` })),
    });
  }
  const columns = options.methods.length + 1;
  if (rows.length) {
    const grid = drawGrid(rows, { columns, cellSize: 224, title: `${model.name}: ${targetSlug(options.target)}`, columnLabels: ['input', ...options.methods] });
    const path = out(`attr-${targetSlug(options.target)}-grid.png`);
    await saveImage(grid, path);
    files.push(path);
  }
  record.set(
    'maps',
    all.map((a) => ({ image: a.image, maps: a.maps.map((m) => ({ method: m.method, target: m.target, params: m.params, ms: m.ms, coarse: m.coarse ? { layer: m.coarse.layer, height: m.coarse.height, width: m.coarse.width } : undefined })) })),
  );
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`attr-${targetSlug(options.target)}.json`);
  await record.save(recordPath);
  const report = out(`attr-${targetSlug(options.target)}.html`);
  sections.push({ heading: 'Parameters and timings', table: { columns: ['image', 'method', 'target', 'value', 'ms', 'parameters'], rows: table }, html: `<p>Run record: <a href="${escapeHtml(basename(recordPath))}">${escapeHtml(basename(recordPath))}</a></p>` });
  await writeHtmlPage(report, {
    title: options.title ?? `Attribution methods side by side: ${model.name}`,
    intro: `Model ${model.name} (${model.weights.description}). Backend: ${engineInfo()?.summary ?? 'unknown'}.`,
    sections,
  });
  files.push(recordPath, report);
  return { files, failed, record: recordPath, report, maps: all, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- project

export interface ProjectRunOptions extends ImageRunBase {
  target: Target;
  relus?: ReluBackward[];
  normalization?: ProjectionNormalization;
}

/** Deconvnet projection of one unit: the whole image, and cropped to the unit's receptive field next to the patch. */
export async function runProject(options: ProjectRunOptions): Promise<RunOutput> {
  const started = performance.now();
  const { model, outDir } = options;
  const size = options.size ?? model.inputSize;
  const relus = options.relus ?? ['deconvnet'];
  const record = createRunRecord({ tool: 'deconvnet project', parameters: { images: options.images, target: options.target, relus, size }, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(outDir, options.images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(options, size, failed)) {
    const cells: GridCell[] = [{ image, label: basename(file) }];
    const crops: GridCell[] = [];
    let target: AttributionMap['target'] | undefined;
    for (const relu of relus) {
      const name = relu === 'deconvnet' ? 'deconvnet' : relu === 'guided' ? 'guided' : 'saliency';
      const map = await createMethod(name, model).attribute(image, options.target);
      target = map.target;
      cells.push({ image: projectionToImage(map.pixels!, map.width, map.height, options.normalization), label: relu, sublabel: `${map.ms.toFixed(0)} ms` });
      if (map.target.kind === 'unit' && map.target.position) {
        const { boxFor } = unitBoxes(model, map.target.layer, size);
        const box = fitBox(boxFor(...map.target.position), map.width, map.height);
        const crop = cropPixels(map.pixels!, map.width, map.height, box);
        crops.push({ image: projectionToImage(crop.pixels, crop.width, crop.height, options.normalization), label: `${relu} (receptive field)` });
        if (crops.length === 1) crops.unshift({ image: cropPadded(image, box), label: `patch ${box.width}x${box.height}` });
      }
    }
    const picture = drawGrid([...cells, ...crops], { columns: cells.length, cellSize: 224, title: `${model.name} ${target?.label ?? ''}` });
    const path = out(`project-${stem(file)}-${targetSlug(options.target)}.png`);
    await saveImage(picture, path);
    files.push(path);
    results.push({ image: file, target });
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`project-${targetSlug(options.target)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- occlusion

export interface OcclusionRunOptions extends ImageRunBase {
  target: Target;
  occlusion?: OcclusionOptions;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const PALETTE_NAMES = ['blue', 'orange', 'green', 'red', 'purple', 'brown', 'pink', 'grey', 'olive', 'cyan'];

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

/** Most probable class per occluder position, as a categorical map over the image, and a legend line. */
function classMapImage(image: RgbImage, classes: Int32Array, rows: number, cols: number, stride: number, names: string[]): { map: RgbImage; legend: string } {
  const up = upsampleGrid(classes, rows, cols, stride, image.height, image.width);
  const data = new Uint8Array(image.width * image.height * 3);
  for (let i = 0; i < up.length; i++) {
    const [r, g, b] = hexRgb(PALETTE[up[i] % PALETTE.length]);
    data[i * 3] = Math.round(image.data[i * 3] * 0.35 + r * 0.65);
    data[i * 3 + 1] = Math.round(image.data[i * 3 + 1] * 0.35 + g * 0.65);
    data[i * 3 + 2] = Math.round(image.data[i * 3 + 2] * 0.35 + b * 0.65);
  }
  const present = [...new Set(Array.from(classes))].sort((a, b) => a - b);
  const legend = present.map((c) => `${PALETTE_NAMES[c % PALETTE.length]} = ${names[c] ?? `class ${c}`}`).join(', ');
  return { map: { width: image.width, height: image.height, data }, legend };
}

/** Occlusion sensitivity maps (Z&F Fig. 7): target score and most probable class per occluder position. */
export async function runOcclusion(options: OcclusionRunOptions): Promise<RunOutput> {
  const started = performance.now();
  const { model, outDir } = options;
  const size = options.size ?? model.inputSize;
  const record = createRunRecord({ tool: 'deconvnet occlusion', parameters: { images: options.images, target: options.target, size, ...options.occlusion }, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(outDir, options.images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const sections: HtmlSection[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(options, size, failed)) {
    const res = await occlusionForModel(model, image, options.target, { ...options.occlusion, signal: options.signal });
    record.time('occlusion', res.seconds * 1000);
    const what =
      res.resolved.kind === 'class'
        ? `p(${model.classNames?.[res.resolved.index] ?? `class ${res.resolved.index}`})`
        : `unit ${res.resolved.index} ${Array.isArray(options.target.position) ? 'activation' : 'total activation'}`;
    const heat = await overlayHeatmap(image, { values: upsampleGrid(res.target, res.rows, res.cols, res.stride, image.height, image.width), width: image.width, height: image.height }, { alpha: 0.6, colorbar: true, colorbarLabel: what });
    const cells: GridCell[] = [
      { image, label: basename(file), sublabel: `unoccluded ${what} = ${res.baseline.toPrecision(3)}` },
      { image: heat, label: `(a) ${what}`, sublabel: `grey ${res.size}px square at each point, stride ${res.stride}px` },
    ];
    if (res.topClass && model.classNames) {
      const { map, legend } = classMapImage(image, res.topClass, res.rows, res.cols, res.stride, model.classNames);
      cells.push({ image: captionImage(map, legend, { fontSize: 12 }), label: '(b) most probable class', sublabel: `unoccluded: ${model.classNames[res.baselineClass ?? 0]} ${res.baselineProb?.toFixed(3)}` });
    }
    const picture = drawGrid(cells, { columns: cells.length, cellSize: 260, title: `Occlusion sensitivity, ${model.name}` });
    const path = out(`occlusion-${stem(file)}-${targetSlug(options.target)}.png`);
    await saveImage(picture, path);
    files.push(path);
    let minIdx = 0;
    for (let i = 1; i < res.target.length; i++) if (res.target[i] < res.target[minIdx]) minIdx = i;
    results.push({
      image: file,
      target: res.resolved,
      rows: res.rows,
      cols: res.cols,
      size: res.size,
      stride: res.stride,
      fill: res.fill,
      baseline: res.baseline,
      minimum: { value: res.target[minIdx], row: Math.floor(minIdx / res.cols), col: minIdx % res.cols },
      map: Array.from(res.target),
      topClass: res.topClass ? Array.from(res.topClass) : undefined,
      seconds: res.seconds,
      complete: res.complete,
    });
    sections.push({ heading: basename(file), figures: [{ image: picture }], text: `${res.rows * res.cols} occluder positions in ${res.seconds.toFixed(1)} s.` });
    options.log?.(`${basename(file)}: ${res.rows}x${res.cols} positions in ${res.seconds.toFixed(1)} s`);
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`occlusion-${targetSlug(options.target)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- sanity

export interface SanityRunOptions extends ImageRunBase {
  target: Target;
  methods: MethodName[];
  steps?: number;
  seed?: number;
  methodOptions?: MethodOptions;
  onStep?: (done: number, total: number, label: string) => void;
}

/** Cascading randomization (Adebayo et al. 2018): line plots of Spearman / SSIM per method, and the maps per step. */
export async function runSanity(options: SanityRunOptions): Promise<RunOutput> {
  const started = performance.now();
  const { model, outDir } = options;
  const size = options.size ?? model.inputSize;
  const file = options.images[0];
  const out = outputNamer(outDir, options.images);
  const image = await loadFitted(file, size, options.fit);
  const record = createRunRecord({ tool: 'deconvnet sanity', parameters: { image: file, target: options.target, methods: options.methods, steps: options.steps ?? 8, size }, seed: options.seed ?? 0, backend: engineInfo()?.summary, model: modelInfo(model) });
  const res = await sanityCheck({ model, image, target: options.target, methods: options.methods, steps: options.steps, seed: options.seed, methodOptions: options.methodOptions, signal: options.signal, onStep: options.onStep });
  const files: string[] = [];
  const x = res.steps.map((s) => s.count);
  const plots: RgbImage[] = [];
  for (const metric of ['spearman', 'ssim'] as const) {
    plots.push(
      linePlot({
        series: res.methods.map((m) => ({ name: m.method, values: m[metric], x, style: 'line+points' })),
        title: `${metric === 'spearman' ? 'Spearman rank correlation (|map|)' : 'SSIM'} with the trained model's map`,
        xLabel: `weight layers randomized, from the top (${model.name}, ${res.target})`,
        yLabel: metric === 'spearman' ? 'rank correlation' : 'SSIM',
        yRange: [-1, 1],
        width: 760,
        height: 420,
        hLines: [{ y: 0 }],
      }),
    );
  }
  const plot = drawGrid(plots.map((p) => ({ image: p })), { columns: 2, margin: 8 });
  const plotPath = out(`sanity-${stem(file)}-${targetSlug(options.target)}.png`);
  await saveImage(plot, plotPath);
  files.push(plotPath);
  const mapCells: GridCell[] = [];
  for (const m of res.methods) {
    m.heats.forEach((h, i) => mapCells.push({ image: heatImage(h, res.width, res.height), label: i === 0 ? `${m.method}: trained` : `to ${res.steps[i - 1].randomizedThrough}` }));
  }
  const mapsGrid = drawGrid(mapCells, { columns: res.steps.length + 1, cellSize: 112, title: 'Heat maps as layers are randomized (rows: methods)', rowLabels: res.methods.map((m) => m.method) });
  const mapsPath = out(`sanity-${stem(file)}-${targetSlug(options.target)}-maps.png`);
  await saveImage(mapsGrid, mapsPath);
  files.push(mapsPath);
  record.set('steps', res.steps);
  record.set('cascade', res.cascade);
  record.set('results', res.methods.map((m) => ({ method: m.method, spearman: m.spearman, ssim: m.ssim })));
  record.set('complete', res.complete);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`sanity-${targetSlug(options.target)}.json`);
  await record.save(recordPath);
  const report = out(`sanity-${targetSlug(options.target)}.html`);
  await writeHtmlPage(report, {
    title: `Sanity check (cascading randomization): ${model.name}`,
    intro: `Adebayo et al. 2018: weights are re-initialised layer by layer from the top; a method whose map does not change is not explaining the learned model. Image ${basename(file)}, target ${res.target}.`,
    sections: [
      { heading: 'Similarity to the trained model', figures: [{ image: plot }], table: { columns: ['method', ...res.steps.map((s) => `${s.count}: ${s.randomizedThrough}`)], rows: res.methods.map((m) => [m.method, ...m.spearman.map((v) => Number(v.toFixed(3)))]) } },
      { heading: 'Maps per step', figures: [{ image: mapsGrid }] },
    ],
  });
  files.push(recordPath, report);
  return { files, record: recordPath, report, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- features / filters

export interface FeaturesRunOptions extends ImageRunBase {
  layer: string;
  features?: FeatureMapsOptions;
}

export async function runFeatures(options: FeaturesRunOptions): Promise<RunOutput> {
  const started = performance.now();
  const { model, outDir } = options;
  const size = options.size ?? model.inputSize;
  const layer = model.resolveLayer(options.layer);
  const record = createRunRecord({ tool: 'deconvnet features', parameters: { images: options.images, layer, size, ...options.features }, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(outDir, options.images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(options, size, failed)) {
    const res = await featureMaps(model, image, layer, options.features);
    const path = out(`features-${stem(file)}-${safeName(layer)}.png`);
    await saveImage(res.image, path);
    files.push(path);
    results.push({ image: file, shape: res.shape, max: Array.from(res.max), mean: Array.from(res.mean) });
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`features-${safeName(layer)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, seconds: (performance.now() - started) / 1000 };
}

export async function runFilters(options: { model: ConvNet; outDir: string; layer?: string }): Promise<RunOutput> {
  const started = performance.now();
  const res = firstLayerFilters(options.model, { layer: options.layer });
  const path = join(options.outDir, `filters-${safeName(res.layer)}.png`);
  await saveImage(res.image, path);
  const record = createRunRecord({ tool: 'deconvnet filters', parameters: { layer: res.layer }, backend: engineInfo()?.summary, model: modelInfo(options.model) });
  record.set('shape', res.shape);
  record.set('outputs', [path]);
  record.finish();
  const recordPath = join(options.outDir, `filters-${safeName(res.layer)}.json`);
  await record.save(recordPath);
  return { files: [path, recordPath], record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- report

export interface ReportRunOptions extends ImageRunBase {
  target: Target;
  methods: MethodName[];
  methodOptions?: MethodOptions;
  normalization?: ProjectionNormalization;
  occlusion?: OcclusionOptions;
  /** Also run the sanity check on the first image (slow: steps x methods maps). */
  sanity?: { steps: number };
}

/**
 * One self-contained HTML page for a target: every method side by side per image, the occlusion
 * maps, the target layer's feature maps and (optionally) the sanity check, with the parameters and
 * links to each part's JSON record.
 */
export async function runReport(options: ReportRunOptions): Promise<RunOutput> {
  const started = performance.now();
  const { model, outDir } = options;
  const attribute = await runAttribute({ ...options, title: `Report: ${model.name}` });
  // The other parts only see the images the first part could read (each bad image is reported once).
  const bad = new Set((attribute.failed ?? []).map((f) => f.file));
  const good = { ...options, images: options.images.filter((f) => !bad.has(f)) };
  const occlusionRun = options.signal?.aborted || !good.images.length ? undefined : await runOcclusion({ ...good, occlusion: options.occlusion });
  const layer = options.target.classIndex === undefined ? options.target.layer : undefined;
  const features = layer && good.images.length && !options.signal?.aborted ? await runFeatures({ ...good, images: good.images.slice(0, 1), layer, features: { sortByMax: true, maxChannels: 64 } }) : undefined;
  const sanity = options.sanity && good.images.length && !options.signal?.aborted ? await runSanity({ ...good, steps: options.sanity.steps }) : undefined;
  const png = (files: string[] | undefined, match: RegExp) => (files ?? []).filter((f) => match.test(basename(f)));
  const link = (path: string) => `<a href="${escapeHtml(basename(path))}">${escapeHtml(basename(path))}</a>`;
  const sections: HtmlSection[] = [
    {
      heading: 'Methods side by side',
      text: 'Each row: the input, then every method for the same target. Image-space maps are contrast-stretched around grey; Grad-CAM is overlaid in viridis.',
      figures: png(attribute.files, /-grid\.png$/).map((f) => ({ image: f })),
      table: {
        columns: ['image', 'method', 'target', 'value', 'ms', 'parameters'],
        rows: attribute.maps.flatMap((a) => a.maps.map((m) => [basename(a.image), m.method, m.target.label, Number(m.target.value.toPrecision(4)), Math.round(m.ms), JSON.stringify(m.params)])),
      },
      html: `<p>Run record: ${link(attribute.record)}; per-method page: ${link(attribute.report!)}</p>`,
    },
  ];
  if (occlusionRun) sections.push({ heading: 'Occlusion sensitivity', figures: png(occlusionRun.files, /\.png$/).map((f) => ({ image: f })), html: `<p>Run record: ${link(occlusionRun.record)}</p>` });
  if (features) sections.push({ heading: `Feature maps of ${layer} (64 strongest channels)`, figures: png(features.files, /\.png$/).map((f) => ({ image: f, pixelated: true })), html: `<p>Run record: ${link(features.record)}</p>` });
  if (sanity) sections.push({ heading: 'Sanity check (cascading randomization)', figures: png(sanity.files, /\.png$/).map((f) => ({ image: f })), html: `<p>Run record: ${link(sanity.record)}</p>` });
  const report = outputNamer(outDir, options.images)(`report-${targetSlug(options.target)}.html`);
  await writeHtmlPage(report, {
    title: `Deconvnet report: ${model.name}, ${targetSlug(options.target)}`,
    intro: `Model ${model.name} (${model.weights.description}). Backend: ${engineInfo()?.summary ?? 'unknown'}. Images: ${good.images.map((f) => basename(f)).join(', ')}${bad.size ? ` (skipped, unreadable: ${[...bad].map((f) => basename(f)).join(', ')})` : ''}.`,
    sections,
  });
  const files = [...attribute.files, ...(occlusionRun?.files ?? []), ...(features?.files ?? []), ...(sanity?.files ?? []), report];
  return { files, failed: attribute.failed, record: attribute.record, report, seconds: (performance.now() - started) / 1000 };
}
