/**
 * The top-9 scan split into shards that can run on different machines, and an exact merge.
 *
 * A shard is a contiguous slice of the sorted image list (collectImageFiles order), its size a multiple of the
 * scan batch, so every forward pass of a shard holds exactly the images the single-process scan puts in that
 * batch. A shard runs the same scan (scanMaxima, same loading, same batching, same per-image maxima and
 * argmax) and keeps, for each unit, its k best images: the per-unit running top-k.
 *
 * Merge: for unit u, top_k(A ∪ B) = top_k(top_k(A) ∪ top_k(B)) under the total order
 *   (value descending, then file key ascending)
 * which is the order topK() ranks a whole cache by. Because the order is total over distinct files, the merge
 * is associative and commutative, and merging any partition of the images gives exactly the single-process
 * result: the same units, images, positions and values (float32 maxima carried unchanged through JSON).
 * Failed files are concatenated in shard order, which is the single-process order.
 *
 * One exception, stated rather than hidden: `--units strongest:N` ranks units by the sum of their maxima over
 * all images. Shards add their own images in float64 and the merge adds the shard sums, a different grouping
 * of the same additions than one sequential loop, so two units whose sums agree to ~1e-16 relative could swap.
 * Units given as a list or spread (the default) are unaffected.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { ConvlabError, createRunRecord, engineInfo, parseOptions, saveImage, writeHtmlPage, type RgbImage, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { collectImageFiles, type FitMode } from '../images.js';
import { unitBoxes } from '../receptive.js';
import { checkCallMemory, checkSizeForModel, checkUnitSelection } from '../checks.js';
import { Top9Options, type UnitSelection } from '../options.js';
import type { CacheMeta } from './cache.js';
import { scanMaxima, topK, type ScanProgress, type TopEntry, type UnitTop } from './scan.js';
import { layerFigure, renderTopUnits, type UnitFigure } from './render.js';
import { safeName, spreadUnits } from './run.js';

/** A shard's place in the sorted file list: files[start, end). */
export interface ShardRange {
  index: number;
  start: number;
  end: number;
}

/**
 * Split `count` files into shards of about `shardSize`, rounded up to a multiple of `batch` so shard batches
 * are the single-process batches. Deterministic: the same count, size and batch give the same shards.
 */
export function planShards(count: number, shardSize: number, batch: number): ShardRange[] {
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new ConvlabError(`shard size ${shardSize} is not a positive integer`, { hint: 'use --shard-size N with N >= 1' });
  const b = Math.max(1, Math.floor(batch));
  const size = Math.ceil(shardSize / b) * b;
  const out: ShardRange[] = [];
  for (let start = 0, index = 0; start < count; start += size, index++) out.push({ index, start, end: Math.min(count, start + size) });
  return out;
}

/** What one shard (or a merge of several) holds. JSON-safe: it travels through Redis. */
export interface Top9Shard {
  /** Shards merged into this one (their indices, ascending). */
  shards: number[];
  /** Images offered to the scan, images scanned, and the files that could not be read (shard order). */
  images: number;
  scanned: number;
  failed: { file: string; error: string }[];
  k: number;
  channels: number;
  units: number[];
  /** Per unit (same order as `units`): the k best images, best first. */
  tops: UnitTop[];
  /** Per channel: the sum of the maxima of the scanned images (only when every unit is kept, for strongest:N). */
  sums?: number[];
}

/** Total order of top-k entries: value descending, then file key ascending (as topK() sorts a cache). */
export function compareTopEntries(a: TopEntry, b: TopEntry): number {
  return b.value - a.value || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
}

/** Units a shard keeps for a selection: listed or spread are known in advance; strongest needs every unit. */
export function shardUnits(selection: UnitSelection | undefined, channels: number): { units: number[]; sums: boolean } {
  const s = selection ?? { spread: 16 };
  if (Array.isArray(s)) return { units: [...s], sums: false };
  if ('strongest' in s) return { units: Array.from({ length: channels }, (_, i) => i), sums: true };
  return { units: spreadUnits(channels, s.spread), sums: false };
}

/**
 * Merge shard results (associative, commutative): per unit, the k best of the union under compareTopEntries;
 * counts added; failures and sums in shard order.
 */
export function mergeTop9Shards(parts: Top9Shard[]): Top9Shard {
  if (parts.length === 0) throw new Error('mergeTop9Shards: nothing to merge');
  const sorted = [...parts].sort((a, b) => a.shards[0] - b.shards[0]);
  const first = sorted[0];
  for (const p of sorted) {
    if (p.k !== first.k || p.channels !== first.channels || p.units.join(',') !== first.units.join(',') || !!p.sums !== !!first.sums) {
      throw new Error(`mergeTop9Shards: shard ${p.shards[0]} was scanned with other settings (k ${p.k}, ${p.units.length} units) than shard ${first.shards[0]} (k ${first.k}, ${first.units.length} units)`);
    }
  }
  const seen = new Set<number>();
  for (const p of sorted) {
    for (const s of p.shards) {
      if (seen.has(s)) throw new Error(`mergeTop9Shards: shard ${s} appears twice`);
      seen.add(s);
    }
  }
  let sums: number[] | undefined;
  if (first.sums) {
    sums = new Array<number>(first.channels).fill(0);
    for (const p of sorted) for (let u = 0; u < sums.length; u++) sums[u] += p.sums![u];
  }
  return {
    shards: [...seen].sort((a, b) => a - b),
    images: sorted.reduce((n, p) => n + p.images, 0),
    scanned: sorted.reduce((n, p) => n + p.scanned, 0),
    failed: sorted.flatMap((p) => p.failed),
    k: first.k,
    channels: first.channels,
    units: [...first.units],
    tops: first.units.map((unit, i) => ({
      unit,
      entries: sorted
        .flatMap((p) => p.tops[i].entries)
        .sort(compareTopEntries)
        .slice(0, first.k),
    })),
    sums,
  };
}

/** The units to show for a selection, from a merged result (strongest:N from the merged sums). */
export function selectUnits(merged: Top9Shard, selection: UnitSelection | undefined): number[] {
  const s = selection ?? { spread: 16 };
  if (Array.isArray(s)) return s;
  if ('spread' in s) return spreadUnits(merged.channels, s.spread);
  if (!merged.sums) throw new Error('selectUnits: strongest:N needs shards scanned with every unit');
  const sums = merged.sums;
  return Array.from({ length: merged.channels }, (_, u) => u)
    .sort((a, b) => sums[b] - sums[a] || a - b)
    .slice(0, Math.min(s.strongest, merged.channels))
    .sort((a, b) => a - b);
}

/** Everything a top-9 run derives from its options and model before the scan (the same as runTop9). */
export interface Top9Plan {
  o: ReturnType<typeof parseTop9>;
  layer: string;
  /** The layer that is scored (a ReLU6's input: see runTop9). */
  scoreLayer: string;
  inputSize: [number, number];
  channels: number;
  selection: UnitSelection;
  root: string;
  files: string[];
  meta: CacheMeta;
  activations: (batch: Tensor4D) => Tensor4D;
}

function parseTop9(options: Top9Options) {
  return parseOptions(Top9Options, options, 'code');
}

/**
 * `files`: the image files to scan instead of listing options.images (a shard's own slice, as absolute paths
 * under options.images; keys stay relative to it).
 */
export async function planTop9(model: ConvNet, options: Top9Options, files?: string[]): Promise<Top9Plan> {
  const o = parseTop9(options);
  const layer = model.resolveLayer(o.layer);
  const inputSize = checkSizeForModel(model, o.size);
  const [fh, fw, channels] = model.outputShapeFor(layer, inputSize);
  if (fw === undefined) throw new Error(`layer ${layer} has no spatial map`);
  if (o.units) checkUnitSelection(o.units, channels, layer);
  checkCallMemory(model, 'top9', { layer, size: inputSize, k: o.k, batch: o.batch });
  const info = model.layer(layer);
  const scoreLayer = info.kind === 'relu' && info.activation === 'relu6' && info.inbound.length === 1 ? info.inbound[0] : layer;
  const root = resolve(o.images);
  const all = files ?? (await collectImageFiles(root));
  const list = files ?? (o.limit ? all.slice(0, o.limit) : all);
  const meta: CacheMeta = {
    model: model.name,
    weights: model.weights.sha256 ?? `${model.weights.source} ${model.weights.description}`,
    layer: scoreLayer,
    inputSize,
    fit: o.fit,
    channels,
    featureSize: [fh, fw],
  };
  const activations = (batch: Tensor4D) => model.forward(model.preprocess(batch), { outputs: [scoreLayer] })[scoreLayer] as Tensor4D;
  return { o, layer, scoreLayer, inputSize, channels, selection: o.units ?? { spread: 16 }, root, files: list, meta, activations };
}

export interface ShardScanOptions {
  signal?: AbortSignal;
  onProgress?: (p: ScanProgress) => void;
  /** Folder for the shard's scratch maxima cache (default: the system temp folder); removed afterwards. */
  scratch?: string;
  /** Replace image loading (tests). */
  load?: (file: string) => Promise<RgbImage>;
}

/**
 * Scan one shard (plan.files[range.start, range.end)) and keep each unit's top-k. Throws an AbortError when
 * `signal` stops it before the end: a shard is all or nothing (the driver runs it again).
 */
export async function scanTop9Shard(plan: Top9Plan, range: ShardRange, options: ShardScanOptions = {}): Promise<Top9Shard> {
  const { units, sums: withSums } = shardUnits(plan.selection, plan.channels);
  const scratch = await mkdtemp(join(options.scratch ?? tmpdir(), `top9-shard${range.index}-`));
  try {
    const scan = await scanMaxima({
      files: plan.files.slice(range.start, range.end),
      root: plan.root,
      activations: plan.activations,
      meta: plan.meta,
      cacheDir: scratch,
      batchSize: plan.o.batch,
      fit: plan.o.fit as FitMode,
      signal: options.signal,
      onProgress: options.onProgress,
      load: options.load,
    });
    try {
      if (!scan.complete) {
        const err = new Error(`top-9 shard ${range.index} stopped before its end`);
        err.name = 'AbortError';
        throw err;
      }
      let sums: number[] | undefined;
      if (withSums) {
        // The same loop as strongestUnits: float64, images in cache order.
        const s = new Float64Array(plan.channels);
        for (const e of scan.cache.entries()) if (e.record !== undefined) for (let u = 0; u < plan.channels; u++) s[u] += scan.cache.value(e.record, u);
        sums = Array.from(s);
      }
      return {
        shards: [range.index],
        images: range.end - range.start,
        scanned: scan.scanned,
        failed: scan.failed,
        k: plan.o.k,
        channels: plan.channels,
        units,
        tops: topK(scan.cache, units, plan.o.k),
        sums,
      };
    } finally {
      await scan.cache.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface MergedTop9Result {
  layer: string;
  units: number[];
  tops: UnitTop[];
  figures: UnitFigure[];
  figure?: RgbImage;
  files: string[];
  scanned: number;
  failed: { file: string; error: string }[];
  imageCount: number;
  renderSeconds: number;
}

/**
 * Render a merged scan exactly as runTop9 renders a single-process one: the layer figure, one PNG per unit,
 * the JSON record (same `units` section) and the HTML page, into plan.o.out.
 */
export async function renderMergedTop9(
  model: ConvNet,
  plan: Top9Plan,
  merged: Top9Shard,
  hooks: { signal?: AbortSignal; onRender?: (done: number, total: number) => void; workers?: unknown } = {},
): Promise<MergedTop9Result> {
  const { o, layer, inputSize } = plan;
  if (merged.images !== plan.files.length) {
    throw new ConvlabError(`the merged scan covers ${merged.images} of ${plan.files.length} images`, { hint: 'a shard is missing: run the same command again to finish the scan' });
  }
  const units = selectUnits(merged, plan.selection);
  const tops = units.map((u) => {
    const i = merged.units.indexOf(u);
    if (i < 0) throw new Error(`unit ${u} was not kept by the shards`);
    return merged.tops[i];
  });
  const { boxFor, rf } = unitBoxes(model, layer, inputSize);
  const record = createRunRecord({ tool: 'deconvnet top9', parameters: o, backend: engineInfo()?.summary, model: { name: model.name, weights: model.weights } });
  record.set('resolved', { images: plan.root, imageCount: plan.files.length, layer, units: plan.selection, inputSize });
  const t0 = performance.now();
  const figures = await renderTopUnits(tops, {
    model,
    layer,
    root: plan.root,
    inputSize,
    fit: o.fit as FitMode,
    boxFor,
    relus: o.rules,
    normalization: o.normalize,
    signal: hooks.signal,
    onUnit: hooks.onRender,
  });
  const renderSeconds = (performance.now() - t0) / 1000;
  record.time('render', renderSeconds * 1000);
  const result: MergedTop9Result = { layer, units, tops, figures, files: [], scanned: merged.scanned, failed: merged.failed, imageCount: plan.files.length, renderSeconds };
  const base = `top9-${safeName(layer)}`;
  const counted = merged.scanned;
  if (figures.length) {
    result.figure = layerFigure(figures, `${model.name} ${layer}: top-${o.k} activations of ${figures.length} units over ${counted} images (receptive field ${rf.size[0]}x${rf.size[1]} px)`, figures.length > 8 ? 4 : 2);
    const path = join(o.out, `${base}.png`);
    await saveImage(result.figure, path);
    result.files.push(path);
  }
  if (o.unitImages) {
    for (const f of figures) {
      const path = join(o.out, `${base}-unit${f.unit}.png`);
      await saveImage(f.image, path);
      result.files.push(path);
    }
  }
  record.set('receptiveField', rf);
  record.set('rankedBy', plan.scoreLayer === layer ? layer : `${plan.scoreLayer} (the input of the ReLU6 ${layer}: activations capped at 6 would tie)`);
  record.set('scan', { scanned: merged.scanned, fromCache: 0, failed: merged.failed, shards: merged.shards.length, workers: hooks.workers });
  record.set(
    'units',
    tops.map((t, i) => ({ unit: t.unit, top: t.entries.map((e, j) => ({ ...e, box: figures[i]?.boxes[j] })) })),
  );
  record.set('outputs', result.files);
  record.finish();
  const jsonPath = join(o.out, `${base}.json`);
  await record.save(jsonPath);
  result.files.push(jsonPath);
  if (result.figure) {
    const htmlPath = join(o.out, `${base}.html`);
    await writeHtmlPage(htmlPath, {
      title: `Top-${o.k} activations: ${model.name} ${layer}`,
      intro: `Zeiler & Fergus Fig. 2 layout over ${counted} images of ${plan.root} (receptive field ${rf.size[0]}x${rf.size[1]} px), scanned in ${merged.shards.length} shards. Backend: ${engineInfo()?.summary ?? 'unknown'}.`,
      sections: [
        { heading: 'Units', figures: [{ image: result.figure }] },
        {
          heading: 'Top activations',
          table: {
            columns: ['unit', 'rank', 'image', 'value', 'position (y, x)'],
            rows: tops.flatMap((t) => t.entries.map((e, i) => [t.unit, i + 1, e.file, Number(e.value.toPrecision(4)), `${e.y}, ${e.x}`])),
          },
          html: `<p>Run record: <a href="${basename(jsonPath)}">${basename(jsonPath)}</a>${merged.failed.length ? `; ${merged.failed.length} unreadable file(s) skipped (listed in the record)` : ''}</p>`,
        },
      ],
    });
    result.files.push(htmlPath);
  }
  return result;
}

/**
 * A sharded run on this machine (one shard after another): the reference the distributed run is checked
 * against, and what a worker does when asked to run the whole thing alone.
 */
export async function runTop9Sharded(model: ConvNet, options: Top9Options, settings: { shardSize: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<MergedTop9Result & { merged: Top9Shard }> {
  const plan = await planTop9(model, options);
  const ranges = planShards(plan.files.length, settings.shardSize, plan.o.batch);
  const parts: Top9Shard[] = [];
  let done = 0;
  for (const range of ranges) {
    parts.push(await scanTop9Shard(plan, range, { signal: settings.signal, onProgress: (p) => settings.onProgress?.(done + p.done, plan.files.length) }));
    done += range.end - range.start;
  }
  const merged = mergeTop9Shards(parts);
  return { ...(await renderMergedTop9(model, plan, merged, { signal: settings.signal })), merged };
}
