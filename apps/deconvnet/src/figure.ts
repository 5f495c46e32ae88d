/**
 * The one-call demo: a Zeiler & Fergus Fig. 2-style figure for a few units of two layers of the
 * default backbone, from a small folder of photos. With only a handful of photos (the 7 bundled
 * samples) there are fewer images than top-9 slots, so each photo is augmented: its centre crop,
 * the mirror image, and two 1.6x zooms (upper-left and lower-right). Flips and zooms of one photo can
 * therefore share a unit's top-9, which the figure title says.
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { cropImage, saveImage, writeJsonAtomic, type RgbImage } from '@convlab/core';
import { loadModel, type ConvNet, type ReluBackward } from '@convlab/models';
import { collectImageFiles, fitImage, flipHorizontal, loadFitted } from './images.js';
import { runTop9, type Top9Result, type UnitSelection } from './top9/run.js';

export interface ZeilerFergusFigureOptions {
  /** Registry name or a loaded model (default 'mobilenet_v2'). */
  model?: string | ConvNet;
  /** Layers (default: an early and a middle layer of the model). */
  layers?: string[];
  /** Units per layer (same for all layers), or the n strongest (default: the 4 strongest). */
  units?: UnitSelection;
  /** Folder of photos (default assets/content). */
  images?: string;
  outDir: string;
  /** Projection rules (default deconvnet and guided backprop side by side). */
  relus?: ReluBackward[];
  /** Augment the photos with flips and zooms (default: when fewer than 18 photos). */
  augment?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

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

/** Default layers per model: one early, one middle (receptive fields ~ 20-50 px and ~ 100-200 px). */
export const DEFAULT_FIGURE_LAYERS: Record<string, string[]> = {
  mobilenet_v2: ['block_3_expand_relu', 'block_10_expand_relu'],
  inception_v3: ['activation_4', 'mixed2'],
  vgg16: ['block2_conv2', 'block4_conv3'],
  vgg19: ['block2_conv2', 'block4_conv4'],
};

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

export async function zeilerFergusFigure(options: ZeilerFergusFigureOptions): Promise<ZeilerFergusFigureResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const model = typeof options.model === 'object' ? options.model : await loadModel(options.model ?? 'mobilenet_v2');
  const layers = options.layers ?? DEFAULT_FIGURE_LAYERS[model.name] ?? [];
  if (layers.length === 0) throw new Error(`no default layers for model ${model.name}: pass layers`);
  const source = options.images ?? 'assets/content';
  const photos = await collectImageFiles(source);
  const augmented = options.augment ?? photos.length < 18;
  const [h, w] = model.inputSize;
  const samples = join(options.outDir, 'samples');
  await mkdir(samples, { recursive: true });
  let count = 0;
  for (const file of photos) {
    const stem = basename(file, extname(file));
    if (augmented) {
      const { loadImage } = await import('@convlab/core');
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
    if (options.signal?.aborted) break;
    const r = await runTop9({
      model,
      images: samples,
      layer,
      units: options.units ?? { strongest: 4 },
      outDir: options.outDir,
      cacheDir: join(options.outDir, 'cache'),
      signal: options.signal,
      unitImages: false,
      relus: options.relus ?? ['deconvnet', 'guided'],
    });
    log(`deconvnet figure: ${layer}: units ${r.units.join(', ')}; scan ${r.imagesPerSecond.toFixed(1)} images/s, render ${r.renderSeconds.toFixed(1)} s`);
    results.push(r);
  }
  const figures = results.flatMap((r) => r.files.filter((f) => f.endsWith('.png')));
  const record = join(options.outDir, 'zeiler-fergus-figure.json');
  const seconds = (performance.now() - started) / 1000;
  await writeJsonAtomic(record, {
    tool: 'deconvnet zeilerFergusFigure',
    model: model.name,
    weights: model.weights,
    layers: results.map((r) => ({ layer: r.layer, units: r.units, figure: r.files.find((f) => f.endsWith('.png')), record: r.files.find((f) => f.endsWith('.json')) })),
    images: count,
    augmented,
    seconds,
  });
  if (typeof options.model !== 'object') model.dispose();
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
  const outDir = join(ctx.outDir, 'deconvnet');
  const model = 'mobilenet_v2';
  const layers = ctx.quick ? DEFAULT_FIGURE_LAYERS[model].slice(0, 1) : DEFAULT_FIGURE_LAYERS[model];
  const r = await zeilerFergusFigure({
    model,
    layers,
    units: { strongest: ctx.quick ? 2 : 4 },
    images: join(ctx.root, 'assets/content'),
    outDir,
    signal: ctx.signal,
    log: ctx.log,
  });
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
