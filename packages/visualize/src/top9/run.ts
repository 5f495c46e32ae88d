/**
 * The whole top-9 pipeline for one layer: scan a folder (resumable), pick each unit's top-k, render
 * the Zeiler & Fergus figure, and write PNGs plus a JSON record of every patch (file, position,
 * value, box) and the run's parameters (the parsed Top9Options).
 */
import { basename, join, resolve } from 'node:path';
import { createRunRecord, engineInfo, parseOptions, saveImage, writeHtmlPage, type RgbImage, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { collectImageFiles } from '../images.js';
import type { CacheMeta } from './cache.js';
import { scanMaxima, strongestUnits, topK, type ScanProgress, type UnitTop } from './scan.js';
import { layerFigure, renderTopUnits, type UnitFigure } from './render.js';
import { unitBoxes } from '../receptive.js';
import { checkCallMemory, checkSizeForModel, checkUnitSelection } from '../checks.js';
import { Top9Options, type UnitSelection } from '../options.js';

export type { UnitSelection };

/** Progress of a top-9 run. */
export interface Top9Hooks {
  signal?: AbortSignal;
  onScan?: (p: ScanProgress) => void;
  onRender?: (done: number, total: number) => void;
}

export interface Top9Result {
  layer: string;
  units: number[];
  tops: UnitTop[];
  figures: UnitFigure[];
  /** Layer figure (all units). */
  figure?: RgbImage;
  files: string[];
  complete: boolean;
  scanned: number;
  fromCache: number;
  failed: { file: string; error: string }[];
  /** Image files considered (after --limit): scanned, from the cache, or failed. */
  imageCount: number;
  imagesPerSecond: number;
  scanSeconds: number;
  renderSeconds: number;
}

/** n units spread evenly over the channels (the default selection: no scan needed to choose). */
export function spreadUnits(channels: number, n: number): number[] {
  if (n >= channels) return Array.from({ length: channels }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.floor((i * channels) / n));
}

export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export async function runTop9(model: ConvNet, options: Top9Options, hooks: Top9Hooks = {}): Promise<Top9Result> {
  const o = parseOptions(Top9Options, options, 'code');
  const layer = model.resolveLayer(o.layer);
  const inputSize = checkSizeForModel(model, o.size);
  const fit = o.fit;
  const k = o.k;
  const [fh, fw, channels] = model.outputShapeFor(layer, inputSize);
  if (fw === undefined) throw new Error(`layer ${layer} has no spatial map`);
  // The default (16 units spread evenly) takes every unit of a smaller layer; a selection given is checked.
  if (o.units) checkUnitSelection(o.units, channels, layer);
  const selection = o.units ?? { spread: 16 };
  checkCallMemory(model, 'top9', { layer, size: inputSize, k, batch: o.batch });
  const { boxFor, rf } = unitBoxes(model, layer, inputSize);
  // ReLU6 caps activations at 6, and the strongest activations of a unit often all sit at the cap:
  // ranking by them would leave the top-9 to file-name order. The input of the ReLU6 (monotone, same
  // positions) ranks them properly, so relu6 layers are scanned on their input.
  const info = model.layer(layer);
  const scoreLayer = info.kind === 'relu' && info.activation === 'relu6' && info.inbound.length === 1 ? info.inbound[0] : layer;
  const root = resolve(o.images);
  const all = await collectImageFiles(root);
  const files = o.limit ? all.slice(0, o.limit) : all;
  const meta: CacheMeta = {
    model: model.name,
    weights: model.weights.sha256 ?? `${model.weights.source} ${model.weights.description}`,
    layer: scoreLayer,
    inputSize,
    fit,
    channels,
    featureSize: [fh, fw],
  };
  const record = createRunRecord({ tool: 'deconvnet top9', parameters: o, backend: engineInfo()?.summary, model: { name: model.name, weights: model.weights } });
  record.set('resolved', { images: root, imageCount: files.length, layer, units: selection, inputSize });
  const activations = (batch: Tensor4D) => model.forward(model.preprocess(batch), { outputs: [scoreLayer] })[scoreLayer] as Tensor4D;
  const scan = await scanMaxima({
    files,
    root,
    activations,
    meta,
    cacheDir: o.cache ?? join(o.out, 'cache'),
    batchSize: o.batch,
    fit,
    signal: hooks.signal,
    onProgress: hooks.onScan,
  });
  record.time('scan', scan.seconds * 1000);
  const result: Top9Result = {
    layer,
    units: [],
    tops: [],
    figures: [],
    files: [],
    complete: scan.complete,
    scanned: scan.scanned,
    fromCache: scan.fromCache,
    failed: scan.failed,
    imageCount: files.length,
    imagesPerSecond: scan.imagesPerSecond,
    scanSeconds: scan.seconds,
    renderSeconds: 0,
  };
  try {
    if (!scan.complete) return result;
    const units = Array.isArray(selection)
      ? selection
      : 'strongest' in selection
        ? strongestUnits(scan.cache, selection.strongest)
        : spreadUnits(channels, selection.spread);
    result.units = units;
    result.tops = topK(scan.cache, units, k);
  } finally {
    await scan.cache.close();
  }
  const t0 = performance.now();
  result.figures = await renderTopUnits(result.tops, {
    model,
    layer,
    root,
    inputSize,
    fit,
    boxFor,
    relus: o.rules,
    normalization: o.normalize,
    signal: hooks.signal,
    onUnit: hooks.onRender,
  });
  result.renderSeconds = (performance.now() - t0) / 1000;
  record.time('render', result.renderSeconds * 1000);
  const base = `top9-${safeName(layer)}`;
  if (result.figures.length) {
    result.figure = layerFigure(result.figures, `${model.name} ${layer}: top-${k} activations of ${result.figures.length} units over ${scan.ranked} images (receptive field ${rf.size[0]}x${rf.size[1]} px)`, result.figures.length > 8 ? 4 : 2);
    const path = join(o.out, `${base}.png`);
    await saveImage(result.figure, path);
    result.files.push(path);
  }
  if (o.unitImages) {
    for (const f of result.figures) {
      const path = join(o.out, `${base}-unit${f.unit}.png`);
      await saveImage(f.image, path);
      result.files.push(path);
    }
  }
  record.set('receptiveField', rf);
  record.set('rankedBy', scoreLayer === layer ? layer : `${scoreLayer} (the input of the ReLU6 ${layer}: activations capped at 6 would tie)`);
  record.set('scan', { scanned: scan.scanned, fromCache: scan.fromCache, failed: scan.failed, imagesPerSecond: scan.imagesPerSecond });
  record.set(
    'units',
    result.tops.map((t, i) => ({
      unit: t.unit,
      top: t.entries.map((e, j) => ({ ...e, box: result.figures[i]?.boxes[j] })),
    })),
  );
  record.set('outputs', result.files);
  record.finish();
  const jsonPath = join(o.out, `${base}.json`);
  await record.save(jsonPath);
  result.files.push(jsonPath);
  if (result.figure) {
    const htmlPath = join(o.out, `${base}.html`);
    await writeHtmlPage(htmlPath, {
      title: `Top-${k} activations: ${model.name} ${layer}`,
      intro: `Zeiler & Fergus Fig. 2 layout over ${scan.ranked} images of ${root} (receptive field ${rf.size[0]}x${rf.size[1]} px). Backend: ${engineInfo()?.summary ?? 'unknown'}.`,
      sections: [
        { heading: 'Units', figures: [{ image: result.figure }] },
        {
          heading: 'Top activations',
          table: {
            columns: ['unit', 'rank', 'image', 'value', 'position (y, x)'],
            rows: result.tops.flatMap((t) => t.entries.map((e, i) => [t.unit, i + 1, e.file, Number(e.value.toPrecision(4)), `${e.y}, ${e.x}`])),
          },
          html: `<p>Run record: <a href="${basename(jsonPath)}">${basename(jsonPath)}</a>${scan.failed.length ? `; ${scan.failed.length} unreadable file(s) skipped (listed in the record)` : ''}</p>`,
        },
      ],
    });
    result.files.push(htmlPath);
  }
  return result;
}

