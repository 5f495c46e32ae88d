/**
 * The library calls behind convlab-deconv's commands, one per command: each validates its options
 * with its schema (options.ts; `parseOptions(Schema, options, 'code')`), checks them against the model
 * before reading any image (checks.ts: sizes, target, memory), computes with the library, saves PNGs,
 * a JSON run record whose `parameters` are the parsed options and (where a comparison is shown) a
 * self-contained HTML report, and returns what it wrote. The CLI, the studio and the demo call these.
 */
import { basename, extname, join } from 'node:path';
import {
  ConvlabError,
  captionImage,
  createRunRecord,
  drawGrid,
  engineInfo,
  escapeHtml,
  linePlot,
  overlayHeatmap,
  parseOptions,
  resolvedPath,
  saveImage,
  writeHtmlPage,
  type GridCell,
  type HtmlSection,
  type RgbImage,
} from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { METHOD_TITLES, type AttributionMap, type MethodName } from './attribution.js';
import { createMethod, type MethodOptions } from './methods/index.js';
import { occlusionForModel, upsampleGrid } from './methods/occlusion.js';
import { attributionImage, cropPadded, cropPixels, fitBox, heatImage, projectionToImage, sharedScales } from './render.js';
import { featureMaps } from './feature-maps.js';
import { firstLayerFilters } from './filters.js';
import { sanityCheck } from './sanity-check.js';
import { imageFiles, loadFitted } from './images.js';
import { unitBoxes } from './receptive.js';
import { safeName } from './top9/run.js';
import type { Target } from './target.js';
import { checkCallMemory, checkOcclusionFlags, checkSizeForModel, checkTargetForModel } from './checks.js';
import {
  AttributeOptions,
  FeaturesOptions,
  FiltersOptions,
  OcclusionOptions,
  ProjectOptions,
  ReportOptions,
  SanityOptions,
  pick,
  targetOf,
  type AttributeParameters,
} from './options.js';

/** What a run reports back while it works (none of it is an option: it is not in the run record). */
export interface RunHooks {
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

/**
 * Output paths of a run: `path(name)` joins the output folder and refuses a name that is one of the
 * run's input images (also through links), so an output folder that holds the inputs (e.g. results
 * of an earlier run given back as images) never has an input written over.
 */
function outputNamer(outDir: string, images: readonly string[]): (name: string) => string {
  const inputs = new Map(images.map((f) => [resolvedPath(f), f]));
  return (name: string) => {
    const path = join(outDir, name);
    const input = inputs.get(resolvedPath(path));
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
async function* readImages(
  files: readonly string[],
  size: [number, number],
  fit: 'cover' | 'fill',
  hooks: RunHooks,
  failed: { file: string; error: string }[],
): AsyncGenerator<{ file: string; image: RgbImage }> {
  for (const file of files) {
    if (hooks.signal?.aborted) return;
    let image: RgbImage;
    try {
      image = await loadFitted(file, size, fit);
    } catch (err) {
      if (files.length === 1) throw err;
      failed.push({ file, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      hooks.onSkip?.(file, err);
      if (failed.length === files.length) {
        throw new ConvlabError(`none of the ${files.length} images could be read (${failed[0].file}: ${failed[0].error})`, { hint: 'check the image files' });
      }
      continue;
    }
    yield { file, image };
  }
}

/** The input size, the target (layer resolved) and the image files of a run with a target, checked against the model. */
async function prepareTargetRun(
  model: ConvNet,
  o: { images: string[]; size?: number[]; layer?: string; unit?: number | 'strongest'; position?: [number, number] | 'argmax' | 'all'; class?: number; camLayer?: string },
): Promise<{ size: [number, number]; target: Target; layer: string | undefined; files: string[] }> {
  const size = checkSizeForModel(model, o.size);
  const target = checkTargetForModel(model, targetOf(o), size, o.camLayer);
  return { size, target, layer: target.classIndex === undefined ? target.layer : undefined, files: await imageFiles(o.images) };
}

/** The per-method options of parsed options (SmoothGrad's and VarGrad's noise, the CAM layer, IG, Score-CAM, occlusion). */
export function methodOptionsOf(
  o: Pick<AttributeParameters, 'smoothgradSamples' | 'smoothgradSigma' | 'seed' | 'camLayer'> &
    Partial<Pick<AttributeParameters, 'igSteps' | 'igBaseline' | 'igRule' | 'scorecamMode' | 'occlusionWindow' | 'occlusionStride' | 'occlusionBaseline' | 'occlusionPerChannel'>>,
  signal?: AbortSignal,
): MethodOptions {
  return {
    smoothgrad: { samples: o.smoothgradSamples, sigma: o.smoothgradSigma, seed: o.seed },
    gradcam: { layer: o.camLayer },
    integratedGradients: { steps: o.igSteps, baseline: o.igBaseline, rule: o.igRule, seed: o.seed },
    scorecam: { mode: o.scorecamMode, signal },
    occlusion: { window: o.occlusionWindow, stride: o.occlusionStride, baseline: o.occlusionBaseline, perChannel: o.occlusionPerChannel, signal },
  };
}

// ---------------------------------------------------------------- attribute

export interface AttributeRunResult extends RunOutput {
  maps: { image: string; maps: AttributionMap[] }[];
}

/** Every method on every image for one target: per-map PNGs, a comparison grid, JSON and HTML. */
export async function runAttribute(model: ConvNet, options: AttributeOptions, hooks: RunHooks & { title?: string } = {}): Promise<AttributeRunResult> {
  const started = performance.now();
  const o = parseOptions(AttributeOptions, options, 'code');
  const { size, target, layer, files: images } = await prepareTargetRun(model, o);
  checkCallMemory(model, 'attribute', { layer, size, methods: o.methods, smoothgradSamples: o.smoothgradSamples });
  const record = createRunRecord({ tool: 'deconvnet attribute', parameters: o, seed: o.seed, backend: engineInfo()?.summary, model: modelInfo(model) });
  const methods = o.methods.map((m) => createMethod(m, model, methodOptionsOf(o, hooks.signal)));
  const out = outputNamer(o.out, images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const sections: HtmlSection[] = [];
  const rows: GridCell[] = [];
  const all: AttributeRunResult['maps'] = [];
  const table: (string | number)[][] = [];
  const computed: { file: string; image: RgbImage; maps: AttributionMap[] }[] = [];
  for await (const { file, image } of readImages(images, size, o.fit, hooks, failed)) {
    const maps: AttributionMap[] = [];
    for (const method of methods) {
      if (hooks.signal?.aborted) break;
      const map = await method.attribute(image, target);
      maps.push(map);
      record.time(method.name, map.ms);
      hooks.log?.(`${basename(file)}: ${method.name} ${map.ms.toFixed(0)} ms`);
      for (const w of map.warnings ?? []) hooks.log?.(`warning: ${basename(file)}: ${method.name}: ${w}`);
    }
    computed.push({ file, image, maps });
  }
  // --shared-scale: one scale per method over every map of the run, so weak maps look weak.
  const scales = o.sharedScale ? sharedScales(computed.flatMap((c) => c.maps), { normalization: o.normalize }) : undefined;
  for (const { file, image, maps } of computed) {
    const cells: GridCell[] = [{ image, label: basename(file), sublabel: `${size[1]}x${size[0]}` }];
    for (const map of maps) {
      const picture = await attributionImage(map, image, { normalization: o.normalize, scale: scales?.get(map.method) });
      const path = out(`attr-${stem(file)}-${targetSlug(target)}-${map.method}.png`);
      await saveImage(picture, path);
      files.push(path);
      cells.push({ image: picture, label: map.method, sublabel: map.warnings?.length ? `${map.ms.toFixed(0)} ms, see warnings` : `${map.ms.toFixed(0)} ms` });
      table.push([basename(file), map.method, map.target.label, Number(map.target.value.toPrecision(4)), Math.round(map.ms), JSON.stringify(map.params), (map.warnings ?? []).join(' ')]);
    }
    all.push({ image: file, maps });
    rows.push(...cells);
    sections.push({
      heading: `${basename(file)}: ${maps[0]?.target.label ?? ''}`,
      text: maps[0]
        ? `Target ${maps[0].target.label}, value ${maps[0].target.value.toPrecision(4)}${maps[0].target.probability !== undefined ? ` (probability ${maps[0].target.probability.toPrecision(3)})` : ''}. Image-space maps are contrast-stretched ${scales ? 'with one scale per method over the run' : 'per map'} around grey (${o.normalize}); CAMs are overlaid in viridis.${maps.some((m) => m.warnings?.length) ? ` Warnings: ${maps.flatMap((m) => (m.warnings ?? []).map((w) => `${m.method}: ${w}`)).join(' ')}` : ''}`
        : '',
      figures: cells.map((c) => ({ image: c.image, caption: c.label === basename(file) ? 'input' : `${METHOD_TITLES[c.label as MethodName] ?? c.label}: ${c.sublabel}` })),
    });
  }
  const columns = o.methods.length + 1;
  if (rows.length) {
    const grid = drawGrid(rows, { columns, cellSize: 224, title: `${model.name}: ${targetSlug(target)}`, columnLabels: ['input', ...o.methods] });
    const path = out(`attr-${targetSlug(target)}-grid.png`);
    await saveImage(grid, path);
    files.push(path);
  }
  record.set(
    'maps',
    all.map((a) => ({
      image: a.image,
      maps: a.maps.map((m) => ({ method: m.method, target: m.target, params: m.params, ms: m.ms, warnings: m.warnings, scale: scales?.get(m.method), coarse: m.coarse ? { layer: m.coarse.layer, height: m.coarse.height, width: m.coarse.width } : undefined })),
    })),
  );
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`attr-${targetSlug(target)}.json`);
  await record.save(recordPath);
  const report = out(`attr-${targetSlug(target)}.html`);
  sections.push({ heading: 'Parameters and timings', table: { columns: ['image', 'method', 'target', 'value', 'ms', 'parameters', 'warnings'], rows: table }, html: `<p>Run record: <a href="${escapeHtml(basename(recordPath))}">${escapeHtml(basename(recordPath))}</a></p>` });
  await writeHtmlPage(report, {
    title: hooks.title ?? `Attribution methods side by side: ${model.name}`,
    intro: `Model ${model.name} (${model.weights.description}). Backend: ${engineInfo()?.summary ?? 'unknown'}.`,
    sections,
  });
  files.push(recordPath, report);
  return { files, failed, record: recordPath, report, maps: all, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- project

/** Deconvnet projection of one unit: the whole image, and cropped to the unit's receptive field next to the patch. */
export async function runProject(model: ConvNet, options: ProjectOptions, hooks: RunHooks = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(ProjectOptions, options, 'code');
  const { size, target, layer, files: images } = await prepareTargetRun(model, o);
  checkCallMemory(model, 'project', { layer, size });
  const relus = o.rules;
  const record = createRunRecord({ tool: 'deconvnet project', parameters: o, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(o.out, images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(images, size, o.fit, hooks, failed)) {
    const cells: GridCell[] = [{ image, label: basename(file) }];
    const crops: GridCell[] = [];
    let resolved: AttributionMap['target'] | undefined;
    for (const relu of relus) {
      const name = relu === 'deconvnet' ? 'deconvnet' : relu === 'guided' ? 'guided' : 'saliency';
      const map = await createMethod(name, model).attribute(image, target);
      resolved = map.target;
      cells.push({ image: projectionToImage(map.pixels!, map.width, map.height, o.normalize), label: relu, sublabel: `${map.ms.toFixed(0)} ms` });
      if (map.target.kind === 'unit' && map.target.position) {
        const { boxFor } = unitBoxes(model, map.target.layer, size);
        const box = fitBox(boxFor(...map.target.position), map.width, map.height);
        const crop = cropPixels(map.pixels!, map.width, map.height, box);
        crops.push({ image: projectionToImage(crop.pixels, crop.width, crop.height, o.normalize), label: `${relu} (receptive field)` });
        if (crops.length === 1) crops.unshift({ image: cropPadded(image, box), label: `patch ${box.width}x${box.height}` });
      }
    }
    const picture = drawGrid([...cells, ...crops], { columns: cells.length, cellSize: 224, title: `${model.name} ${resolved?.label ?? ''}` });
    const path = out(`project-${stem(file)}-${targetSlug(target)}.png`);
    await saveImage(picture, path);
    files.push(path);
    results.push({ image: file, target: resolved });
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`project-${targetSlug(target)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- occlusion

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
export async function runOcclusion(model: ConvNet, options: OcclusionOptions, hooks: RunHooks & { onProgress?: (done: number, total: number) => void } = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(OcclusionOptions, options, 'code');
  const { size, target, layer, files: images } = await prepareTargetRun(model, o);
  checkOcclusionFlags(size, o.square, o.stride);
  checkCallMemory(model, 'occlusion', { layer, size, batch: o.batch });
  const record = createRunRecord({ tool: 'deconvnet occlusion', parameters: o, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(o.out, images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const sections: HtmlSection[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(images, size, o.fit, hooks, failed)) {
    const res = await occlusionForModel(model, image, target, { size: o.square, stride: o.stride, batchSize: o.batch, signal: hooks.signal, onProgress: hooks.onProgress });
    record.time('occlusion', res.seconds * 1000);
    const what =
      res.resolved.kind === 'class'
        ? `p(${model.classNames?.[res.resolved.index] ?? `class ${res.resolved.index}`})`
        : `unit ${res.resolved.index} ${Array.isArray(target.position) ? 'activation' : 'total activation'}`;
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
    const path = out(`occlusion-${stem(file)}-${targetSlug(target)}.png`);
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
    hooks.log?.(`${basename(file)}: ${res.rows}x${res.cols} positions in ${res.seconds.toFixed(1)} s`);
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`occlusion-${targetSlug(target)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- sanity

/** Cascading randomization (Adebayo et al. 2018): line plots of Spearman / SSIM per method, and the maps per step. */
export async function runSanity(model: ConvNet, options: SanityOptions, hooks: RunHooks & { onStep?: (done: number, total: number, label: string) => void } = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(SanityOptions, options, 'code');
  const { size, target, layer, files: images } = await prepareTargetRun(model, o);
  checkCallMemory(model, 'sanity', { layer, size, methods: o.methods, smoothgradSamples: o.smoothgradSamples });
  const file = images[0];
  const out = outputNamer(o.out, images);
  const image = await loadFitted(file, size, o.fit);
  const record = createRunRecord({ tool: 'deconvnet sanity', parameters: { ...o, images: [file] }, seed: o.seed, backend: engineInfo()?.summary, model: modelInfo(model) });
  const res = await sanityCheck({ model, image, target, methods: o.methods, steps: o.steps, seed: o.seed, methodOptions: methodOptionsOf(o, hooks.signal), signal: hooks.signal, onStep: hooks.onStep });
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
  const plotPath = out(`sanity-${stem(file)}-${targetSlug(target)}.png`);
  await saveImage(plot, plotPath);
  files.push(plotPath);
  const mapCells: GridCell[] = [];
  for (const m of res.methods) {
    m.heats.forEach((h, i) => mapCells.push({ image: heatImage(h, res.width, res.height), label: i === 0 ? `${m.method}: trained` : `to ${res.steps[i - 1].randomizedThrough}` }));
  }
  const mapsGrid = drawGrid(mapCells, { columns: res.steps.length + 1, cellSize: 112, title: 'Heat maps as layers are randomized (rows: methods)', rowLabels: res.methods.map((m) => m.method) });
  const mapsPath = out(`sanity-${stem(file)}-${targetSlug(target)}-maps.png`);
  await saveImage(mapsGrid, mapsPath);
  files.push(mapsPath);
  record.set('steps', res.steps);
  record.set('cascade', res.cascade);
  record.set('results', res.methods.map((m) => ({ method: m.method, spearman: m.spearman, ssim: m.ssim })));
  record.set('complete', res.complete);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`sanity-${targetSlug(target)}.json`);
  await record.save(recordPath);
  const report = out(`sanity-${targetSlug(target)}.html`);
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

/** Every channel of a layer as a grid, per image. */
export async function runFeatures(model: ConvNet, options: FeaturesOptions, hooks: RunHooks = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(FeaturesOptions, options, 'code');
  const size = checkSizeForModel(model, o.size);
  const layer = model.resolveLayer(o.layer);
  checkCallMemory(model, 'features', { layer, size });
  const images = await imageFiles(o.images);
  const record = createRunRecord({ tool: 'deconvnet features', parameters: o, backend: engineInfo()?.summary, model: modelInfo(model) });
  const out = outputNamer(o.out, images);
  const files: string[] = [];
  const failed: { file: string; error: string }[] = [];
  const results: unknown[] = [];
  for await (const { file, image } of readImages(images, size, o.fit, hooks, failed)) {
    const res = await featureMaps(model, image, layer, { maxChannels: o.maxChannels, sortByMax: o.sort });
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

/** First-layer filters as colour images. */
export async function runFilters(model: ConvNet, options: FiltersOptions = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(FiltersOptions, options, 'code');
  const res = firstLayerFilters(model, { layer: o.layer });
  const path = join(o.out, `filters-${safeName(res.layer)}.png`);
  await saveImage(res.image, path);
  const record = createRunRecord({ tool: 'deconvnet filters', parameters: o, backend: engineInfo()?.summary, model: modelInfo(model) });
  record.set('layer', res.layer);
  record.set('shape', res.shape);
  record.set('outputs', [path]);
  record.finish();
  const recordPath = join(o.out, `filters-${safeName(res.layer)}.json`);
  await record.save(recordPath);
  return { files: [path, recordPath], record: recordPath, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- report

/**
 * One self-contained HTML page for a target: every method side by side per image, the occlusion
 * maps, the target layer's feature maps and (optionally) the sanity check, with the parameters and
 * links to each part's JSON record.
 */
export async function runReport(model: ConvNet, options: ReportOptions, hooks: RunHooks = {}): Promise<RunOutput> {
  const started = performance.now();
  const o = parseOptions(ReportOptions, options, 'code');
  const { size, target, layer, files: images } = await prepareTargetRun(model, o);
  checkOcclusionFlags(size, o.square, o.stride);
  checkCallMemory(model, 'report', { layer, size, methods: o.methods, smoothgradSamples: o.smoothgradSamples, batch: o.batch });
  const { signal } = hooks;
  const attribute = await runAttribute(model, { ...pick(AttributeOptions, o), images }, { ...hooks, title: `Report: ${model.name}` });
  // The other parts only see the images the first part could read (each bad image is reported once).
  const bad = new Set((attribute.failed ?? []).map((f) => f.file));
  const good = images.filter((f) => !bad.has(f));
  const occlusionRun = signal?.aborted || !good.length ? undefined : await runOcclusion(model, { ...pick(OcclusionOptions, o), images: good }, hooks);
  const features =
    layer && good.length && !signal?.aborted
      ? await runFeatures(model, { images: good.slice(0, 1), layer, out: o.out, size: o.size, fit: o.fit, sort: true, maxChannels: 64 }, hooks)
      : undefined;
  const sanity = o.sanitySteps && good.length && !signal?.aborted ? await runSanity(model, { ...pick(SanityOptions, o), images: good, steps: o.sanitySteps }, hooks) : undefined;
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
  const report = outputNamer(o.out, images)(`report-${targetSlug(target)}.html`);
  await writeHtmlPage(report, {
    title: `Deconvnet report: ${model.name}, ${targetSlug(target)}`,
    intro: `Model ${model.name} (${model.weights.description}). Backend: ${engineInfo()?.summary ?? 'unknown'}. Images: ${good.map((f) => basename(f)).join(', ')}${bad.size ? ` (skipped, unreadable: ${[...bad].map((f) => basename(f)).join(', ')})` : ''}.`,
    sections,
  });
  const files = [...attribute.files, ...(occlusionRun?.files ?? []), ...(features?.files ?? []), ...(sanity?.files ?? []), report];
  return { files, failed: attribute.failed, record: attribute.record, report, seconds: (performance.now() - started) / 1000 };
}
