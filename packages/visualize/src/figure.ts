/**
 * The one-call demo: a Zeiler & Fergus Fig. 2-style figure for a few units of two layers of the
 * default backbone, from a small folder of photos. With only a handful of photos (the 7 bundled
 * samples) there are fewer images than top-9 slots, so each photo is augmented: its centre crop,
 * the mirror image, and two 1.6x zooms (upper-left and lower-right). Flips and zooms of one photo can
 * therefore share a unit's top-9, which the figure title says.
 *
 * Default layers: the model's early layer (`layerForRole('early')`, receptive field about 20-50 px) and
 * its mid layer (`layerForRole('mid')`, about 100-200 px); for MobileNetV2, whose mid layer
 * block_6_expand_relu sees only 59 px, block_10_expand_relu (171 px) instead.
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { cropImage, createRunRecord, engineInfo, loadImage, parseOptions, saveImage, type RgbImage } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import { checkUnitSelection, layerChannels } from './checks.js';
import { collectImageFiles, fitImage, flipHorizontal, loadFitted } from './images.js';
import { FigureOptions, type FigureParameters } from './options.js';
import { runTop9, type Top9Result } from './top9/run.js';

export interface ZeilerFergusFigureResult {
  model: string;
  layers: Top9Result[];
  /** The layer figures, in order. */
  figures: string[];
  images: number;
  augmented: boolean;
  seconds: number;
  record: string;
}

/** Where the mid role's receptive field is too small for the figure's middle layer (see the header). */
const MIDDLE_LAYER: Record<string, string> = { mobilenet_v2: 'block_10_expand_relu' };

/** The figure's default layers: one early, one middle (receptive fields ~ 20-50 px and ~ 100-200 px). */
export function defaultFigureLayers(model: ConvNet): string[] {
  return [model.layerForRole('early'), MIDDLE_LAYER[model.name] ?? model.layerForRole('mid')];
}

/** The augmented copies of one photo at size x size. */
export async function augmentPhoto(image: RgbImage, size: number): Promise<{ suffix: string; image: RgbImage }[]> {
  const base = await fitImage(image, size, size, 'cover');
  const zoom = (x: number, y: number) => fitImage(cropImage(base, x, y, Math.round(size / 1.6), Math.round(size / 1.6)), size, size, 'fill');
  const far = size - Math.round(size / 1.6);
  return [
    { suffix: '', image: base },
    { suffix: '-flip', image: flipHorizontal(base) },
    { suffix: '-zoom-tl', image: await zoom(0, 0) },
    { suffix: '-zoom-br', image: await zoom(far, far) },
  ];
}

/**
 * The Zeiler & Fergus figure for a model (a loaded one, or a registry name loaded and disposed here):
 * top-9 of a few units of each layer over a folder of photos, augmented when it is small.
 */
export async function zeilerFergusFigure(
  modelOrName: ConvNet | string,
  options: FigureOptions = {},
  hooks: { signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<ZeilerFergusFigureResult> {
  const started = performance.now();
  const o = parseOptions(FigureOptions, options, 'code');
  const log = hooks.log ?? (() => undefined);
  const model = typeof modelOrName === 'object' ? modelOrName : await loadModel(modelOrName);
  try {
    return await figureFor(model, o, hooks.signal, log, started);
  } finally {
    if (typeof modelOrName !== 'object') model.dispose();
  }
}

async function figureFor(model: ConvNet, o: FigureParameters, signal: AbortSignal | undefined, log: (line: string) => void, started: number): Promise<ZeilerFergusFigureResult> {
  const layers = (o.layer ?? defaultFigureLayers(model)).map((l) => model.resolveLayer(l));
  if (o.units) for (const layer of layers) checkUnitSelection(o.units, layerChannels(model, layer, model.inputSize), layer);
  const photos = await collectImageFiles(o.images);
  const augmented = o.augment ?? photos.length < 18;
  const [h, w] = model.inputSize;
  const samples = join(o.out, 'samples');
  await mkdir(samples, { recursive: true });
  let count = 0;
  for (const file of photos) {
    const stem = basename(file, extname(file));
    if (augmented) {
      for (const a of await augmentPhoto(await loadImage(file), Math.min(h, w))) {
        await saveImage(a.image, join(samples, `${stem}${a.suffix}.png`));
        count++;
      }
    } else {
      await saveImage(await loadFitted(file, [h, w]), join(samples, `${stem}.png`));
      count++;
    }
  }
  log(`deconvnet figure: ${count} images (${photos.length} photos${augmented ? ', with flips and zooms' : ''}), model ${model.name}, layers ${layers.join(', ')}`);
  const results: Top9Result[] = [];
  for (const layer of layers) {
    if (signal?.aborted) break;
    const r = await runTop9(model, { images: samples, layer, units: o.units ?? { strongest: 4 }, out: o.out, cache: join(o.out, 'cache'), unitImages: false, rules: o.rules }, { signal });
    log(`deconvnet figure: ${layer}: units ${r.units.join(', ')}; scan ${r.imagesPerSecond.toFixed(1)} images/s, render ${r.renderSeconds.toFixed(1)} s`);
    results.push(r);
  }
  const figures = results.flatMap((r) => r.files.filter((f) => f.endsWith('.png')));
  const record = join(o.out, 'zeiler-fergus-figure.json');
  const run = createRunRecord({ tool: 'deconvnet figure', parameters: o, backend: engineInfo()?.summary, model: { name: model.name, weights: model.weights } });
  run.set('layers', results.map((r) => ({ layer: r.layer, units: r.units, figure: r.files.find((f) => f.endsWith('.png')), record: r.files.find((f) => f.endsWith('.json')) })));
  run.set('images', count);
  run.set('augmented', augmented);
  run.finish();
  await run.save(record);
  const seconds = (performance.now() - started) / 1000;
  return { model: model.name, layers: results, figures, images: count, augmented, seconds, record };
}

/** What the `npm start` demo page shows for this app (same shape as apps/studio's DemoSectionResult). */
export interface DeconvDemoResult {
  heading: string;
  text: string;
  figures: { image: string; caption?: string }[];
  seconds: number;
  files: string[];
}

/**
 * The demo section: zeilerFergusFigure on the bundled photos into <outDir>/deconvnet, returned with
 * figure paths relative to outDir (the demo page's folder). `quick` renders one layer, two units.
 */
export async function deconvnetDemo(ctx: { outDir: string; root: string; quick?: boolean; signal?: AbortSignal; log?: (line: string) => void }): Promise<DeconvDemoResult> {
  return deconvnetDemoOn(ctx);
}

async function deconvnetDemoOn(ctx: { outDir: string; root: string; quick?: boolean; signal?: AbortSignal; log?: (line: string) => void }): Promise<DeconvDemoResult> {
  const r = await zeilerFergusFigure(
    'mobilenet_v2',
    {
      // quick: the early layer only (block_3_expand_relu), as before.
      layer: ctx.quick ? ['@early'] : undefined,
      units: { strongest: ctx.quick ? 2 : 4 },
      images: join(ctx.root, 'assets/content'),
      out: join(ctx.outDir, 'deconvnet'),
    },
    { signal: ctx.signal, log: ctx.log },
  );
  const rel = (p: string) => relative(ctx.outDir, p).split('\\').join('/');
  return {
    heading: 'Deconvnet: what units respond to (Zeiler & Fergus 2013, Fig. 2)',
    text:
      `For ${r.layers.map((l) => `${l.layer} (units ${l.units.join(', ')})`).join(' and ')} of ${r.model}, the nine strongest activations over ${r.images} images ` +
      (r.augmented ? `(the ${r.images / 4} photos with mirror images and two zooms each, since a top-9 needs more images than there are photos): ` : ': ') +
      'left, the deconvnet projection of each activation back to pixels, cropped to the unit\'s receptive field; middle, guided backpropagation; right, the image patches. ' +
      'MobileNetV2 has no max-pooling, so the deconvnet projection carries no switch information and looks alike for all nine; guided backprop shows the image structure.',
    figures: r.figures.map((f, i) => ({ image: rel(f), caption: `${r.layers[i]?.layer}: top-9 per unit` })),
    seconds: r.seconds,
    files: [...r.figures, r.record].map(rel),
  };
}
