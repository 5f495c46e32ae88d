/**
 * The unit dossier: everything convlab knows about one unit of one layer in one HTML report, the
 * data-driven half of visualizing a ConvNet beside the synthetic half.
 *
 * - Its top-k dataset patches with their deconvnet and guided-backprop projections (Zeiler & Fergus
 *   2013 Fig. 2; top9/run.ts), over a folder of photos (the bundled samples by default, augmented
 *   with flips and zooms when there are fewer than 18, as the demo figure does).
 * - Its feature visualization by optimization (Olah, Mordvintsev & Schubert 2017; featureviz/): several
 *   images maximising the channel's mean, made different by lucid's diversity term
 *     objective = sum_i mean_{y,x} A_i[y, x, U]  +  w * ( -1/n sum_{i != j} cos(G_i, G_j) )
 *   over the copies' Gram matrices G at the unit's layer.
 * - Its receptive field (core's receptive-field arithmetic), drawn on its strongest image.
 * - For a class (--class) or else the unit itself: every map method side by side on the unit's
 *   strongest images, with deletion / insertion AUC (Petsiuk et al. 2018) and the sanity check's
 *   rank correlations (Adebayo et al. 2018) in one table.
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunRecord, engineInfo, escapeHtml, loadImage, parseOptions, saveImage, writeHtmlPage, type HtmlSection, type RgbImage } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { checkCallMemory, checkTargetForModel, checkUnitSelection, layerChannels } from './checks.js';
import { augmentPhoto } from './figure.js';
import { collectImageFiles, loadFitted } from './images.js';
import { DossierOptions, type DossierOptions as DossierOptionsInput } from './options.js';
import { unitBoxes } from './receptive.js';
import { methodSummary, modelInfo, runAttribute, runFeatureViz, runSanity, weightsLine, withDiversity, type AttributeRunResult, type FeatureVizRunResult, type RunHooks, type SanityRunResult } from './runs.js';
import { runTop9, safeName, type Top9Result } from './top9/run.js';
import { rankingLayer, type Target } from './target.js';

/** The bundled sample photos (assets/content at the repository root). */
export const BUNDLED_PHOTOS = fileURLToPath(new URL('../../../assets/content/', import.meta.url));

/** Below this many photos each is augmented (centre crop, mirror, two zooms) so top-9 has enough images. */
const AUGMENT_BELOW = 18;

export interface DossierResult {
  report: string;
  record: string;
  files: string[];
  top9: Top9Result;
  featureViz: FeatureVizRunResult;
  maps?: AttributeRunResult;
  sanity?: SanityRunResult;
  receptiveField: { size: [number, number]; stride: [number, number]; box?: { x: number; y: number; width: number; height: number }; image?: string };
  timings: Record<string, number>;
  seconds: number;
}

/** A copy of the image with a box outlined (2 px, orange). */
function outlineBox(image: RgbImage, box: { x: number; y: number; width: number; height: number }): RgbImage {
  const data = Uint8Array.from(image.data);
  const paint = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
    const i = (y * image.width + x) * 3;
    data[i] = 255;
    data[i + 1] = 140;
    data[i + 2] = 0;
  };
  for (let t = 0; t < 2; t++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      paint(x, box.y + t);
      paint(x, box.y + box.height - 1 - t);
    }
    for (let y = box.y; y < box.y + box.height; y++) {
      paint(box.x + t, y);
      paint(box.x + box.width - 1 - t, y);
    }
  }
  return { width: image.width, height: image.height, data };
}

/** One unit's dossier (see the header): PNGs, JSON records of every part, and one HTML report. */
export async function runDossier(model: ConvNet, options: DossierOptionsInput, hooks: RunHooks & { onStage?: (stage: string) => void } = {}): Promise<DossierResult> {
  const started = performance.now();
  const o = parseOptions(DossierOptions, options, 'code');
  const log = hooks.log ?? (() => undefined);
  const stage = (s: string) => {
    hooks.onStage?.(s);
    log(`dossier: ${s}`);
  };
  // Everything the model decides, before any image is read or any folder written.
  const layer = model.resolveLayer(o.layer);
  const size = model.inputSize;
  checkUnitSelection([o.unit], layerChannels(model, layer, size), layer);
  const target: Target = o.class !== undefined ? checkTargetForModel(model, { classIndex: o.class }, size) : { layer, unit: o.unit, position: 'argmax' };
  checkCallMemory(model, 'top9', { layer, size, k: o.k, batch: o.batch });
  checkCallMemory(model, 'attribute', { layer: o.class !== undefined ? undefined : layer, size, methods: o.methods, smoothgradSamples: o.smoothgradSamples });
  const photos = await collectImageFiles(o.images === 'bundled' ? BUNDLED_PHOTOS : o.images);
  const base = `dossier-${safeName(layer)}-unit${o.unit}`;
  const out = join(o.out, base);
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = (performance.now() - t0) / 1000;
    }
  };

  // 1. The photos at the model's size (augmented when few), then top-k with both projections.
  stage(`top-${o.k} over ${photos.length} photos`);
  const samples = join(out, 'samples');
  await mkdir(samples, { recursive: true });
  const augmented = photos.length < AUGMENT_BELOW;
  for (const file of photos) {
    const name = safeName(basename(file, extname(file)));
    if (augmented) {
      for (const a of await augmentPhoto(await loadImage(file), Math.min(...size))) await saveImage(a.image, join(samples, `${name}${a.suffix}.png`));
    } else {
      await saveImage(await loadFitted(file, size, o.fit), join(samples, `${name}.png`));
    }
  }
  const top9 = await timed('top9', () =>
    runTop9(model, { images: samples, layer, units: [o.unit], k: o.k, rules: ['deconvnet', 'guided'], out: join(out, 'top9'), cache: join(out, 'cache'), batch: o.batch, unitImages: true }, { signal: hooks.signal }),
  );
  const entries = top9.tops[0]?.entries ?? [];

  // 2. Feature visualization: diverse copies of the channel objective.
  stage(`feature visualization (${o.copies} copies, ${o.steps} steps)`);
  const objective = `${layer}:${o.unit}`;
  const featureViz = await timed('featureviz', () =>
    runFeatureViz(
      model,
      { objective, copies: o.copies, diversity: o.diversity, size: o.size, param: o.param, steps: o.steps, lr: o.lr, transforms: o.transforms, tv: o.tv, l1: o.l1, blur: o.blur, seed: o.seed, out: join(out, 'featureviz') },
      { signal: hooks.signal, log },
    ),
  );

  // 3. The receptive field, outlined on the strongest image at the unit's strongest position.
  const { rf, boxFor } = unitBoxes(model, layer, size);
  const receptiveField: DossierResult['receptiveField'] = { size: [rf.size[0], rf.size[1]], stride: [rf.stride[0], rf.stride[1]] };
  let rfImage: RgbImage | undefined;
  if (entries[0]) {
    const best = await loadImage(join(samples, entries[0].file));
    const box = boxFor(entries[0].y, entries[0].x);
    rfImage = outlineBox(best, box);
    const path = join(out, `receptive-field.png`);
    await saveImage(rfImage, path);
    receptiveField.box = box;
    receptiveField.image = path;
  }

  // 4. Maps for the class (or the unit) on the unit's strongest images, with faithfulness and the sanity check.
  const mapImages = entries.slice(0, o.mapImages).map((e) => join(samples, e.file));
  let maps: AttributeRunResult | undefined;
  let sanity: SanityRunResult | undefined;
  const methodOptions = { seed: o.seed, smoothgradSamples: o.smoothgradSamples, igSteps: o.igSteps, igMaxSteps: o.igMaxSteps };
  if (mapImages.length && !hooks.signal?.aborted) {
    stage(`${o.methods.length} map methods on ${mapImages.length} image(s), faithfulness ${o.faithfulnessSteps} steps`);
    maps = await timed('maps', () =>
      runAttribute(model, { images: mapImages, out: join(out, 'maps'), ...targetOptions(target), methods: o.methods, ...methodOptions, faithfulnessSteps: o.faithfulnessSteps }, { ...hooks, title: `Dossier maps: ${model.name}` }),
    );
    if (o.sanitySteps > 0 && !hooks.signal?.aborted) {
      stage(`sanity check (${o.sanitySteps} steps)`);
      sanity = await timed('sanity', () => runSanity(model, { images: mapImages.slice(0, 1), out: join(out, 'sanity'), ...targetOptions(target), methods: o.methods, steps: o.sanitySteps, ...methodOptions }, hooks));
    }
  }

  // 5. The report and the record.
  const link = (path: string) => `<a href="${escapeHtml(path.slice(out.length + 1))}">${escapeHtml(path.slice(out.length + 1))}</a>`;
  const unitFigure = top9.files.find((f) => f.endsWith(`-unit${o.unit}.png`));
  const sections: HtmlSection[] = [
    {
      heading: `Top-${o.k} dataset patches: deconvnet and guided projections`,
      text: `The ${entries.length} images of ${photos.length} photos${augmented ? ' (each as centre crop, mirror and two 1.6x zooms)' : ''} where ${layer} unit ${o.unit} is strongest (ranked on ${rankingLayer(model, layer) === layer ? 'its activation' : `its pre-activation ${rankingLayer(model, layer)}: the ReLU6 caps strong values at 6`}), Zeiler & Fergus Fig. 2 layout: deconvnet projections, guided-backprop projections, and the image patches under the receptive field. Strongest values: ${entries.map((e) => e.value.toFixed(2)).join(', ')}.`,
      figures: unitFigure ? [{ image: unitFigure }] : [],
      html: `<p>Run record: ${link(top9.files.find((f) => f.endsWith('.json'))!)}</p>`,
    },
    {
      heading: 'Feature visualization by optimization',
      text: `${o.copies} images maximising the mean of channel ${o.unit} of ${layer} (objective "${withDiversity(objective, o.diversity, o.copies)}"), ${o.param} parameterization, ${o.steps} steps of Adam (lr ${o.lr}), ${o.transforms} transforms, seed ${o.seed}. Objective per image: ${featureViz.start.map((v, i) => `${v.toPrecision(3)} -> ${featureViz.final[i].toPrecision(3)}`).join('; ')}.`,
      figures: featureViz.files.filter((f) => f.endsWith('-grid.png')).map((f) => ({ image: f })),
      html: `<p>Run record: ${link(featureViz.record)}</p>`,
    },
    {
      heading: 'Receptive field',
      text: `${layer} sees ${rf.size[0]}x${rf.size[1]} px of the ${size[1]}x${size[0]} input; neighbouring units are ${rf.stride[0]}x${rf.stride[1]} px apart.${receptiveField.box ? ` Outlined: the field of the unit's strongest position (${entries[0].y}, ${entries[0].x}) on its strongest image ${entries[0].file}.` : ''}`,
      figures: rfImage ? [{ image: rfImage, width: 224 }] : [],
    },
  ];
  if (maps) {
    sections.push({
      heading: `Maps for ${maps.maps[0]?.maps[0]?.target.label ?? 'the target'}: every method side by side`,
      text: `On the unit's ${mapImages.length} strongest image(s). Deletion AUC: lower is better; insertion AUC: higher is better (Petsiuk et al. 2018, ${o.faithfulnessSteps} steps). Sanity check (Adebayo et al. 2018, cascading randomization from the top${sanity ? ` on ${basename(mapImages[0])}` : ', not run'}): Spearman rank correlation with the trained model's map; near 1 after randomization means the map does not depend on the weights.`,
      figures: maps.files.filter((f) => f.endsWith('-grid.png')).map((f) => ({ image: f })),
      table: methodSummary(maps, sanity),
      html: `<p>Run record: ${link(maps.record)}; per-method page: ${link(maps.report!)}</p>`,
    });
    for (const a of maps.maps) {
      if (a.top5) sections.push({ heading: `Top-5 predictions: ${basename(a.image)}`, table: { columns: ['rank', 'class', 'name', 'probability'], rows: a.top5.map((e) => [e.rank, e.index, e.name, Number(e.probability.toFixed(4))]) } });
    }
  }
  if (sanity) sections.push({ heading: 'Sanity check (cascading randomization)', figures: [{ image: sanity.plot }, { image: sanity.mapsGrid }], html: `<p>Run record: ${link(sanity.record)}</p>` });
  sections.push({ heading: 'Timings', table: { columns: ['part', 'seconds'], rows: Object.entries(timings).map(([k, v]) => [k, Number(v.toFixed(2))]) } });

  const record = createRunRecord({ tool: 'deconvnet dossier', parameters: o, seed: o.seed, backend: engineInfo()?.summary, model: modelInfo(model) });
  for (const [k, v] of Object.entries(timings)) record.time(k, v * 1000);
  record.set('layer', layer);
  record.set('unit', o.unit);
  record.set('photos', photos);
  record.set('augmented', augmented);
  record.set('top', entries);
  record.set('receptiveField', receptiveField);
  record.set('featureViz', { objective: withDiversity(objective, o.diversity, o.copies), start: featureViz.start, final: featureViz.final, record: featureViz.record });
  if (maps) record.set('maps', { record: maps.record, summary: methodSummary(maps, sanity) });
  if (sanity) record.set('sanity', { record: sanity.record, steps: sanity.steps, results: sanity.results });
  const report = join(out, `${base}.html`);
  const files = [...top9.files, ...featureViz.files, ...(receptiveField.image ? [receptiveField.image] : []), ...(maps?.files ?? []), ...(sanity?.files ?? [])];
  record.set('outputs', files);
  record.finish();
  const recordPath = join(out, `${base}.json`);
  await record.save(recordPath);
  await writeHtmlPage(report, {
    title: `Unit dossier: ${model.name} ${layer} unit ${o.unit}`,
    intro: `${weightsLine(model)} Backend: ${engineInfo()?.summary ?? 'unknown'}. Run record: ${basename(recordPath)}.`,
    sections,
  });
  files.push(recordPath, report);
  return { report, record: recordPath, files, top9, featureViz, maps, sanity, receptiveField, timings, seconds: (performance.now() - started) / 1000 };
}

function targetOptions(t: Target): { class: number | string } | { layer: string; unit: number | 'strongest'; position: 'argmax' } {
  return t.classIndex !== undefined ? { class: t.classIndex } : { layer: t.layer!, unit: t.unit!, position: 'argmax' };
}
