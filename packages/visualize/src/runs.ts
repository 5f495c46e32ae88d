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
  tf,
  drawGrid,
  engineInfo,
  escapeHtml,
  linePlot,
  loadImage,
  overlayHeatmap,
  parseOptions,
  resolvedPath,
  saveImage,
  writeHtmlPage,
  type GridCell,
  type HtmlSection,
  type RgbImage,
  type Tensor4D,
} from '@convlab/core';
import type { ConvNet, TopKEntry } from '@convlab/models';
import { faithfulness, type FaithfulnessResult } from './faithfulness.js';
import { classNameOf, predictTopK } from './target.js';
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
  DeepDreamOptions,
  FeaturesOptions,
  FeatureVizOptions,
  FiltersOptions,
  OcclusionOptions,
  ProjectOptions,
  ReportOptions,
  SanityOptions,
  pick,
  targetOf,
  type AttributeParameters,
  type DeepDreamOptions as DeepDreamOptionsInput,
  type FeatureVizOptions as FeatureVizOptionsInput,
  type FeatureVizParameters,
} from './options.js';
import { deepDream, featureVisualization } from './featureviz/optimize.js';

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

/** The model and the weights in use (kind: imagenet / nsfwjs / random / file; variant; source; sha256), for every run record. */
export function modelInfo(model: ConvNet) {
  return { name: model.name, weights: model.weights };
}

/** One line for a report: the model and which weights it runs with. */
export function weightsLine(model: ConvNet): string {
  const w = model.weights;
  const kind = [w.kind, w.variant].filter(Boolean).join(', ');
  return `Model ${model.name}, weights: ${w.description}${kind ? ` [${kind}]` : ''}, from ${w.source}${w.sha256 ? ` (sha256 ${w.sha256.slice(0, 12)}...)` : ''}.`;
}

/** The top-5 table of an image (names and probabilities), as report rows. */
function topRows(top: readonly TopKEntry[]): (string | number)[][] {
  return top.map((e) => [e.rank, e.index, e.name, Number(e.probability.toFixed(4))]);
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
  o: { images: string[]; size?: number[]; layer?: string; unit?: number | 'strongest'; position?: [number, number] | 'argmax' | 'all'; class?: number | string; camLayer?: string },
): Promise<{ size: [number, number]; target: Target; layer: string | undefined; files: string[] }> {
  const size = checkSizeForModel(model, o.size);
  const target = checkTargetForModel(model, targetOf(o), size, o.camLayer);
  return { size, target, layer: target.classIndex === undefined ? target.layer : undefined, files: await imageFiles(o.images) };
}

/** The per-method options of parsed options (SmoothGrad's and VarGrad's noise, the CAM layer, IG, Score-CAM, occlusion). */
export function methodOptionsOf(
  o: Pick<AttributeParameters, 'smoothgradSamples' | 'smoothgradSigma' | 'seed' | 'camLayer'> &
    Partial<Pick<AttributeParameters, 'igSteps' | 'igMaxSteps' | 'igBaseline' | 'igRule' | 'layercamLayers' | 'scorecamMode' | 'scorecamChannels' | 'occlusionWindow' | 'occlusionStride' | 'occlusionBaseline' | 'occlusionPerChannel'>>,
  signal?: AbortSignal,
): MethodOptions {
  return {
    smoothgrad: { samples: o.smoothgradSamples, sigma: o.smoothgradSigma, seed: o.seed },
    gradcam: { layer: o.camLayer },
    integratedGradients: { steps: o.igSteps, maxSteps: o.igMaxSteps, baseline: o.igBaseline, rule: o.igRule, seed: o.seed, signal },
    scorecam: { mode: o.scorecamMode, maxChannels: o.scorecamChannels, signal },
    layercam: { layers: o.layercamLayers },
    occlusion: { window: o.occlusionWindow, stride: o.occlusionStride, baseline: o.occlusionBaseline, perChannel: o.occlusionPerChannel, signal },
  };
}

// ---------------------------------------------------------------- attribute

/** Deletion / insertion AUC of one map (Petsiuk et al. 2018; faithfulness.ts). */
export interface MapFaithfulness {
  deletion: number;
  insertion: number;
  score: number;
  params: Record<string, unknown>;
  seconds: number;
}

export interface AttributeRunResult extends RunOutput {
  maps: { image: string; maps: AttributionMap[]; faithfulness: (MapFaithfulness | undefined)[]; top5?: TopKEntry[] }[];
}

function faithSummary(r: FaithfulnessResult): MapFaithfulness {
  return { deletion: r.deletion.auc, insertion: r.insertion.auc, score: r.score, params: r.params, seconds: r.seconds };
}

const auc = (v: number | undefined) => (v === undefined ? '' : Number(v.toFixed(4)));

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
  const computed: { file: string; image: RgbImage; maps: AttributionMap[]; faith: (MapFaithfulness | undefined)[]; top5?: TopKEntry[] }[] = [];
  for await (const { file, image } of readImages(images, size, o.fit, hooks, failed)) {
    const maps: AttributionMap[] = [];
    const faith: (MapFaithfulness | undefined)[] = [];
    for (const method of methods) {
      if (hooks.signal?.aborted) break;
      const map = await method.attribute(image, target);
      maps.push(map);
      record.time(method.name, map.ms);
      hooks.log?.(`${basename(file)}: ${method.name} ${map.ms.toFixed(0)} ms`);
      for (const w of map.warnings ?? []) hooks.log?.(`warning: ${basename(file)}: ${method.name}: ${w}`);
      if (o.faithfulnessSteps > 0 && !hooks.signal?.aborted) {
        const f = faithSummary(await faithfulness(model, image, map, undefined, { steps: o.faithfulnessSteps, signal: hooks.signal }));
        faith.push(f);
        record.time(`faithfulness ${method.name}`, f.seconds * 1000);
        hooks.log?.(`${basename(file)}: ${method.name} deletion AUC ${f.deletion.toFixed(3)}, insertion AUC ${f.insertion.toFixed(3)}`);
      } else faith.push(undefined);
    }
    const top5 = tf.tidy(() => tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3])) as Tensor4D;
    let top: TopKEntry[] | undefined;
    try {
      top = predictTopK(model, top5, 5);
    } finally {
      top5.dispose();
    }
    computed.push({ file, image, maps, faith, top5: top });
  }
  // --shared-scale: one scale per method over every map of the run, so weak maps look weak.
  const scales = o.sharedScale ? sharedScales(computed.flatMap((c) => c.maps), { normalization: o.normalize }) : undefined;
  for (const { file, image, maps, faith, top5 } of computed) {
    const cells: GridCell[] = [{ image, label: basename(file), sublabel: `${size[1]}x${size[0]}` }];
    for (const map of maps) {
      const picture = await attributionImage(map, image, { normalization: o.normalize, scale: scales?.get(map.method) });
      const path = out(`attr-${stem(file)}-${targetSlug(target)}-${map.method}.png`);
      await saveImage(picture, path);
      files.push(path);
      cells.push({ image: picture, label: map.method, sublabel: map.warnings?.length ? `${map.ms.toFixed(0)} ms, see warnings` : `${map.ms.toFixed(0)} ms` });
      const f = faith[maps.indexOf(map)];
      table.push([basename(file), map.method, map.target.label, Number(map.target.value.toPrecision(4)), Math.round(map.ms), auc(f?.deletion), auc(f?.insertion), JSON.stringify(map.params), (map.warnings ?? []).join(' ')]);
    }
    all.push({ image: file, maps, faithfulness: faith, top5 });
    rows.push(...cells);
    sections.push({
      heading: `${basename(file)}: ${maps[0]?.target.label ?? ''}`,
      text: maps[0]
        ? `Target ${maps[0].target.label}, value ${maps[0].target.value.toPrecision(4)}${maps[0].target.probability !== undefined ? ` (probability ${maps[0].target.probability.toPrecision(3)})` : ''}. Image-space maps are contrast-stretched ${scales ? 'with one scale per method over the run' : 'per map'} around grey (${o.normalize}); CAMs are overlaid in viridis.${maps.some((m) => m.warnings?.length) ? ` Warnings: ${maps.flatMap((m) => (m.warnings ?? []).map((w) => `${m.method}: ${w}`)).join(' ')}` : ''}`
        : '',
      figures: cells.map((c) => ({ image: c.image, caption: c.label === basename(file) ? 'input' : `${METHOD_TITLES[c.label as MethodName] ?? c.label}: ${c.sublabel}` })),
    });
    if (top5) sections.push({ heading: `${basename(file)}: top-5 predictions of ${model.name}`, table: { columns: ['rank', 'class', 'name', 'probability'], rows: topRows(top5) } });
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
      top5: a.top5,
      maps: a.maps.map((m, i) => ({
        method: m.method,
        target: m.target,
        params: m.params,
        ms: m.ms,
        warnings: m.warnings,
        scale: scales?.get(m.method),
        coarse: m.coarse ? { layer: m.coarse.layer, height: m.coarse.height, width: m.coarse.width } : undefined,
        faithfulness: a.faithfulness[i],
      })),
    })),
  );
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`attr-${targetSlug(target)}.json`);
  await record.save(recordPath);
  const report = out(`attr-${targetSlug(target)}.html`);
  sections.push({
    heading: 'Parameters, timings and faithfulness',
    text:
      o.faithfulnessSteps > 0
        ? `Deletion AUC (lower is better) and insertion AUC (higher is better), Petsiuk et al. 2018: the target's ${target.classIndex !== undefined ? 'probability' : 'activation'} as the map's pixels are removed (to black) or put back (into the blurred image), most important first, ${o.faithfulnessSteps} steps.`
        : 'Faithfulness not computed (--faithfulness-steps 0).',
    table: { columns: ['image', 'method', 'target', 'value', 'ms', 'deletion AUC', 'insertion AUC', 'parameters', 'warnings'], rows: table }, html: `<p>Run record: <a href="${escapeHtml(basename(recordPath))}">${escapeHtml(basename(recordPath))}</a></p>` });
  await writeHtmlPage(report, {
    title: hooks.title ?? `Attribution methods side by side: ${model.name}`,
    intro: `${weightsLine(model)} Backend: ${engineInfo()?.summary ?? 'unknown'}.`,
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

// Tableau colours for the classes of the most-probable-class map (grey is kept for "other classes").
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf'];
const PALETTE_NAMES = ['blue', 'orange', 'green', 'red', 'purple', 'brown', 'pink', 'olive', 'cyan'];
const OTHER = { hex: '#7f7f7f', name: 'grey' };

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

/** One class of the most-probable-class map: its colour and the share of occluder positions where it wins. */
export interface ClassMapEntry {
  index: number;
  name: string;
  color: string;
  colorName: string;
  fraction: number;
}

/**
 * Most probable class per occluder position (Zeiler & Fergus Fig. 7 c/e), as a categorical map over
 * the image and its legend: classes ordered by how many positions they win, the first nine in their own
 * colours, the rest grey ("other classes").
 */
export function classMapImage(image: RgbImage, classes: Int32Array, rows: number, cols: number, stride: number, nameOf: (i: number) => string): { map: RgbImage; legend: ClassMapEntry[] } {
  const counts = new Map<number, number>();
  for (const c of classes) counts.set(c, (counts.get(c) ?? 0) + 1);
  const order = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const legend: ClassMapEntry[] = order.map(([index, n], i) => ({
    index,
    name: nameOf(index),
    color: i < PALETTE.length ? PALETTE[i] : OTHER.hex,
    colorName: i < PALETTE.length ? PALETTE_NAMES[i] : OTHER.name,
    fraction: n / classes.length,
  }));
  const colour = new Map(legend.map((e) => [e.index, hexRgb(e.color)]));
  const up = upsampleGrid(classes, rows, cols, stride, image.height, image.width);
  const data = new Uint8Array(image.width * image.height * 3);
  for (let i = 0; i < up.length; i++) {
    const [r, g, b] = colour.get(up[i]) ?? hexRgb(OTHER.hex);
    data[i * 3] = Math.round(image.data[i * 3] * 0.35 + r * 0.65);
    data[i * 3 + 1] = Math.round(image.data[i * 3 + 1] * 0.35 + g * 0.65);
    data[i * 3 + 2] = Math.round(image.data[i * 3 + 2] * 0.35 + b * 0.65);
  }
  return { map: { width: image.width, height: image.height, data }, legend };
}

/** The legend as text lines (under the PNG) and as HTML with colour swatches (in the reports). */
function legendLines(legend: readonly ClassMapEntry[]): string[] {
  const shown = legend.slice(0, PALETTE.length);
  const rest = legend.length - shown.length;
  return [...shown.map((e) => `${e.colorName}: ${e.name} (${(e.fraction * 100).toFixed(0)}%)`), ...(rest > 0 ? [`grey: ${rest} other classes`] : [])];
}

export function legendHtml(legend: readonly ClassMapEntry[]): string {
  return `<p>${legend
    .slice(0, PALETTE.length)
    .map((e) => `<span style="display:inline-block;width:1em;height:1em;background:${e.color};vertical-align:middle"></span> ${escapeHtml(`${e.index} ${e.name}`)} (${(e.fraction * 100).toFixed(0)}% of positions)`)
    .join(' &nbsp; ')}${legend.length > PALETTE.length ? ` &nbsp; <span style="display:inline-block;width:1em;height:1em;background:${OTHER.hex}"></span> ${legend.length - PALETTE.length} other classes` : ''}</p>`;
}

/** Occlusion sensitivity maps (Z&F Fig. 7): target score and most probable class per occluder position. */
export async function runOcclusion(model: ConvNet, options: OcclusionOptions, hooks: RunHooks & { onProgress?: (done: number, total: number) => void } = {}): Promise<RunOutput & { sections: HtmlSection[] }> {
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
    const nameOf = (i: number) => classNameOf(model, i) ?? `class ${i}`;
    let legend: ClassMapEntry[] | undefined;
    if (res.topClass) {
      const drawn = classMapImage(image, res.topClass, res.rows, res.cols, res.stride, nameOf);
      legend = drawn.legend;
      cells.push({ image: captionImage(drawn.map, legendLines(legend), { fontSize: 12 }), label: '(b) most probable class', sublabel: `unoccluded: ${nameOf(res.baselineClass ?? 0)} ${res.baselineProb?.toFixed(3)}` });
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
      classLegend: legend,
      baselineClass: res.baselineClass !== undefined ? { index: res.baselineClass, name: nameOf(res.baselineClass), probability: res.baselineProb } : undefined,
      seconds: res.seconds,
      complete: res.complete,
    });
    sections.push({ heading: basename(file), figures: [{ image: picture }], text: `${res.rows * res.cols} occluder positions in ${res.seconds.toFixed(1)} s.`, html: legend ? legendHtml(legend) : undefined });
    hooks.log?.(`${basename(file)}: ${res.rows}x${res.cols} positions in ${res.seconds.toFixed(1)} s`);
  }
  record.set('results', results);
  record.set('failed', failed);
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`occlusion-${targetSlug(target)}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, failed, record: recordPath, sections, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- sanity

/** Cascading randomization (Adebayo et al. 2018): line plots of Spearman / SSIM per method, and the maps per step. */
export interface SanityRunResult extends RunOutput {
  /** Per method: Spearman (|map|) and SSIM with the trained model's map, per cascade step. */
  results: { method: MethodName; spearman: number[]; ssim: number[] }[];
  steps: { count: number; randomizedThrough: string }[];
  plot: RgbImage;
  mapsGrid: RgbImage;
}

export async function runSanity(model: ConvNet, options: SanityOptions, hooks: RunHooks & { onStep?: (done: number, total: number, label: string) => void } = {}): Promise<SanityRunResult> {
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
  return {
    files,
    record: recordPath,
    report,
    results: res.methods.map((m) => ({ method: m.method, spearman: m.spearman, ssim: m.ssim })),
    steps: res.steps.map((s) => ({ count: s.count, randomizedThrough: s.randomizedThrough })),
    plot,
    mapsGrid,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * One row per method: mean deletion / insertion AUC over the images (faithfulness, Petsiuk et al.
 * 2018), mean time, and the sanity check's rank correlation with the trained map once the top layer,
 * and once every layer, is randomized (Adebayo et al. 2018: near 1 means the map ignores the weights).
 */
export function methodSummary(attribute: AttributeRunResult, sanity?: Pick<SanityRunResult, 'results' | 'steps'>): { columns: string[]; rows: (string | number)[][] } {
  const methods = [...new Set(attribute.maps.flatMap((a) => a.maps.map((m) => m.method)))];
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined);
  const rows = methods.map((method) => {
    const del: number[] = [];
    const ins: number[] = [];
    const ms: number[] = [];
    for (const a of attribute.maps) {
      a.maps.forEach((m, i) => {
        if (m.method !== method) return;
        ms.push(m.ms);
        const f = a.faithfulness[i];
        if (f) {
          del.push(f.deletion);
          ins.push(f.insertion);
        }
      });
    }
    const s = sanity?.results.find((r) => r.method === method);
    const r3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : Number(v.toFixed(3)));
    return [method, auc(mean(del)), auc(mean(ins)), Math.round(mean(ms) ?? 0), r3(s?.spearman[0]), r3(s?.spearman.at(-1))];
  });
  const first = sanity?.steps[0];
  const last = sanity?.steps.at(-1);
  return {
    columns: [
      'method',
      'deletion AUC (lower better)',
      'insertion AUC (higher better)',
      'ms per map',
      `sanity: Spearman, ${first ? `top ${first.count} layer(s) randomized` : 'first step'}`,
      `sanity: Spearman, ${last ? `${last.count} layers randomized` : 'last step'}`,
    ],
    rows,
  };
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
  const summary = methodSummary(attribute, sanity);
  const png = (files: string[] | undefined, match: RegExp) => (files ?? []).filter((f) => match.test(basename(f)));
  const link = (path: string) => `<a href="${escapeHtml(basename(path))}">${escapeHtml(basename(path))}</a>`;
  const sections: HtmlSection[] = [
    {
      heading: 'Methods side by side',
      text: 'Each row: the input, then every method for the same target. Image-space maps are contrast-stretched around grey; Grad-CAM is overlaid in viridis.',
      figures: png(attribute.files, /-grid\.png$/).map((f) => ({ image: f })),
      table: {
        columns: ['image', 'method', 'target', 'value', 'ms', 'deletion AUC', 'insertion AUC', 'parameters'],
        rows: attribute.maps.flatMap((a) =>
          a.maps.map((m, i) => [basename(a.image), m.method, m.target.label, Number(m.target.value.toPrecision(4)), Math.round(m.ms), auc(a.faithfulness[i]?.deletion), auc(a.faithfulness[i]?.insertion), JSON.stringify(m.params)]),
        ),
      },
      html: `<p>Run record: ${link(attribute.record)}; per-method page: ${link(attribute.report!)}</p>`,
    },
    {
      heading: 'Methods by number: faithfulness and sanity check',
      text: `Deletion / insertion AUC (Petsiuk et al. 2018), mean over the images${o.faithfulnessSteps ? '' : ' (not computed: --faithfulness-steps 0)'}; the sanity check's Spearman rank correlation with the trained model's map (Adebayo et al. 2018; near 1 after randomization = the map does not depend on the weights)${sanity ? '' : ' (not run: add --sanity-steps N)'}.`,
      table: summary,
    },
    ...attribute.maps
      .filter((a) => a.top5)
      .map((a) => ({ heading: `Top-5 predictions: ${basename(a.image)}`, table: { columns: ['rank', 'class', 'name', 'probability'], rows: topRows(a.top5!) } })),
  ];
  if (occlusionRun) {
    sections.push({ heading: 'Occlusion sensitivity', html: `<p>Run record: ${link(occlusionRun.record)}</p>` });
    sections.push(...occlusionRun.sections.map((sec) => ({ ...sec, heading: `Occlusion: ${sec.heading}` })));
  }
  if (features) sections.push({ heading: `Feature maps of ${layer} (64 strongest channels)`, figures: png(features.files, /\.png$/).map((f) => ({ image: f, pixelated: true })), html: `<p>Run record: ${link(features.record)}</p>` });
  if (sanity) sections.push({ heading: 'Sanity check (cascading randomization)', figures: png(sanity.files, /\.png$/).map((f) => ({ image: f })), html: `<p>Run record: ${link(sanity.record)}</p>` });
  const report = outputNamer(o.out, images)(`report-${targetSlug(target)}.html`);
  await writeHtmlPage(report, {
    title: `Deconvnet report: ${model.name}, ${targetSlug(target)}`,
    intro: `${weightsLine(model)} Backend: ${engineInfo()?.summary ?? 'unknown'}. Images: ${good.map((f) => basename(f)).join(', ')}${bad.size ? ` (skipped, unreadable: ${[...bad].map((f) => basename(f)).join(', ')})` : ''}.`,
    sections,
  });
  const files = [...attribute.files, ...(occlusionRun?.files ?? []), ...(features?.files ?? []), ...(sanity?.files ?? []), report];
  return { files, failed: attribute.failed, record: attribute.record, report, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- feature visualization

export interface FeatureVizRunResult extends RunOutput {
  images: RgbImage[];
  start: number[];
  final: number[];
  history: number[];
}

/** The objective text with lucid's diversity term added at the first layer the objective reads. */
export function withDiversity(objective: string, weight: number, copies: number): string {
  if (!(weight > 0) || copies < 2) return objective;
  const layer = /^\s*(?:[-+]?\d*\.?\d+\s*\*\s*)?([^:;+\s]+)/.exec(objective)?.[1];
  if (!layer || /^(class|logit|diversity)$/i.test(layer)) return objective;
  return objective
    .split(';')
    .map((o) => `${o.trim()} + ${weight}*diversity:${layer}`)
    .join(' ; ');
}

/**
 * The featureVisualization call for parsed FeatureVizOptions (the CLI's and the studio job's): the size
 * (default: the model's input size), the objective with the diversity term, and the optimizer's settings.
 */
export function featureVizSettings(model: ConvNet, o: Omit<FeatureVizParameters, 'out'>) {
  return {
    objective: withDiversity(o.objective, o.diversity, o.copies),
    size: (o.size ? [o.size, o.size] : model.inputSize) as [number, number],
    copies: o.copies,
    param: o.param,
    steps: o.steps,
    learningRate: o.lr,
    transforms: o.transforms,
    tv: o.tv,
    l1: o.l1,
    blur: o.blur,
    seed: o.seed,
  };
}

/** Feature visualization by optimization (Olah et al. 2017): the images, a grid with the objective values, and the run record. */
export async function runFeatureViz(model: ConvNet, options: FeatureVizOptionsInput, hooks: RunHooks & { onStep?: (step: number, steps: number, objective: number) => void } = {}): Promise<FeatureVizRunResult> {
  const started = performance.now();
  const o = parseOptions(FeatureVizOptions, options, 'code');
  const settings = featureVizSettings(model, o);
  const { size, objective } = settings;
  const record = createRunRecord({ tool: 'deconvnet featureviz', parameters: o, seed: o.seed, backend: engineInfo()?.summary, model: modelInfo(model) });
  const res = await featureVisualization(model, { ...settings, signal: hooks.signal, onStep: hooks.onStep });
  record.time('optimize', res.seconds * 1000);
  const slug = safeName(o.objective.replace(/\s+/g, '')).slice(0, 60);
  const files: string[] = [];
  const cells: GridCell[] = [];
  for (const [i, image] of res.images.entries()) {
    const path = join(o.out, `featureviz-${slug}-${i}.png`);
    await saveImage(image, path);
    files.push(path);
    cells.push({ image, label: `#${i}`, sublabel: `objective ${res.start[i].toPrecision(3)} -> ${res.final[i].toPrecision(3)}` });
  }
  const grid = drawGrid(cells, { columns: Math.min(cells.length, 4), cellSize: Math.min(256, Math.max(128, size[1])), title: `${model.name}: ${o.objective}` });
  const gridPath = join(o.out, `featureviz-${slug}-grid.png`);
  await saveImage(grid, gridPath);
  files.push(gridPath);
  record.set('objective', objective);
  record.set('result', { start: res.start, final: res.final, layers: res.layers, params: res.params, complete: res.complete, history: res.history });
  record.set('outputs', files);
  record.finish();
  const recordPath = join(o.out, `featureviz-${slug}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  hooks.log?.(`featureviz: objective ${res.start.map((v) => v.toPrecision(3)).join(', ')} -> ${res.final.map((v) => v.toPrecision(3)).join(', ')} in ${res.seconds.toFixed(1)} s`);
  return { files, record: recordPath, images: res.images, start: res.start, final: res.final, history: res.history, seconds: (performance.now() - started) / 1000 };
}

/** DeepDream (Mordvintsev et al. 2015) on a photo: the dreamed image beside the photo, and the run record. */
export async function runDeepDream(model: ConvNet, options: DeepDreamOptionsInput, hooks: RunHooks & { onStep?: (step: number, steps: number, objective: number) => void } = {}): Promise<FeatureVizRunResult> {
  const started = performance.now();
  const o = parseOptions(DeepDreamOptions, options, 'code');
  const out = outputNamer(o.out, [o.image]);
  const record = createRunRecord({ tool: 'deconvnet deepdream', parameters: o, seed: o.seed, backend: engineInfo()?.summary, model: modelInfo(model) });
  const raw = await loadImage(o.image);
  const side = o.size ?? Math.min(512, Math.min(raw.width, raw.height));
  const scale = side / Math.min(raw.width, raw.height);
  const target: [number, number] = [Math.max(model.minInputSize, Math.round(raw.height * scale)), Math.max(model.minInputSize, Math.round(raw.width * scale))];
  const photo = await loadFitted(o.image, target, 'fill');
  const octaves = Array.from({ length: o.octaves }, (_, i) => Math.pow(Math.SQRT1_2, o.octaves - 1 - i));
  const res = await deepDream(model, photo, { objective: o.objective, steps: o.steps, learningRate: o.lr, octaves, jitter: o.jitter, seed: o.seed, signal: hooks.signal, onStep: hooks.onStep });
  record.time('dream', res.seconds * 1000);
  const slug = `${stem(o.image)}-${safeName(o.objective.replace(/\s+/g, '')).slice(0, 60)}`;
  const path = out(`deepdream-${slug}.png`);
  await saveImage(res.images[0], path);
  const pair = drawGrid(
    [
      { image: photo, label: basename(o.image), sublabel: `objective ${res.start[0].toPrecision(3)}` },
      { image: res.images[0], label: `DeepDream: ${o.objective}`, sublabel: `objective ${res.final[0].toPrecision(3)}, ${res.octaves.length} octaves` },
    ],
    { columns: 2, cellSize: 320 },
  );
  const pairPath = out(`deepdream-${slug}-pair.png`);
  await saveImage(pair, pairPath);
  const files = [path, pairPath];
  record.set('result', { start: res.start, final: res.final, octaves: res.octaves, layers: res.layers, complete: res.complete, history: res.history });
  record.set('outputs', files);
  record.finish();
  const recordPath = out(`deepdream-${slug}.json`);
  await record.save(recordPath);
  files.push(recordPath);
  return { files, record: recordPath, images: res.images, start: res.start, final: res.final, history: res.history, seconds: (performance.now() - started) / 1000 };
}
