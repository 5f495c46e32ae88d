/**
 * The Zeiler & Fergus Fig. 2 layout for units of one layer: for each unit, its top-9 activations
 * across the dataset as a 3x3 grid of deconvnet projections cropped to the unit's receptive field,
 * next to a 3x3 grid of the matching image patches.
 */
import { join } from 'node:path';
import { drawGrid, tf, type GridCell, type RgbImage } from '@convlab/core';
import type { ConvNet, ReluBackward } from '@convlab/models';
import { projectUnitBatch } from '../methods/deconvnet.js';
import { cropPadded, cropPixels, fitBox, projectionToImage, type Box, type ProjectionNormalization } from '../render.js';
import { loadFitted, type FitMode } from '../images.js';
import type { UnitTop } from './scan.js';

export interface UnitFigure {
  unit: number;
  /** The 3x3 grids side by side: one per projection rule, then the image patches. */
  image: RgbImage;
  /** Projections per rule (same order as options.relus), nine each. */
  projections: Record<string, RgbImage[]>;
  patches: RgbImage[];
  boxes: Box[];
}

export interface RenderTopOptions {
  model: ConvNet;
  layer: string;
  /** Folder the top entries' file keys are relative to. */
  root: string;
  inputSize: [number, number];
  fit?: FitMode;
  /** Receptive-field box in image pixels of the unit at feature-map position (y, x). */
  boxFor: (y: number, x: number) => Box;
  /**
   * Projection rules, one 3x3 grid each (default ['deconvnet'], as in the paper). Adding 'guided'
   * helps on networks without max-pooling (MobileNetV2), where the deconvnet projection carries no
   * switch information and hardly depends on the image.
   */
  relus?: ReluBackward[];
  normalization?: ProjectionNormalization;
  /** Cell size in the figure (default: the box size scaled to at least 96 px). */
  cellSize?: number;
  load?: (file: string) => Promise<RgbImage>;
  signal?: AbortSignal;
  onUnit?: (done: number, total: number) => void;
}

const RULE_LABELS: Record<ReluBackward, string> = {
  deconvnet: 'deconvnet projections',
  guided: 'guided backprop',
  normal: 'gradient',
};

export async function renderTopUnits(tops: UnitTop[], options: RenderTopOptions): Promise<UnitFigure[]> {
  const { model, layer, inputSize } = options;
  const load = options.load ?? ((file: string) => loadFitted(join(options.root, file), inputSize, options.fit ?? 'cover'));
  const cache = new Map<string, RgbImage>();
  const getImage = async (file: string) => {
    let img = cache.get(file);
    if (!img) {
      img = await load(file);
      cache.set(file, img);
    }
    return img;
  };
  const figures: UnitFigure[] = [];
  for (const [k, top] of tops.entries()) {
    if (options.signal?.aborted) break;
    if (top.entries.length === 0) continue;
    const images = await Promise.all(top.entries.map((e) => getImage(e.file)));
    const [h, w] = [images[0].height, images[0].width];
    const batch = tf.tidy(() => {
      const buf = new Float32Array(images.length * h * w * 3);
      images.forEach((img, i) => buf.set(img.data, i * h * w * 3));
      return tf.tensor4d(buf, [images.length, h, w, 3]);
    });
    const relus = options.relus ?? ['deconvnet'];
    const positions = top.entries.map((e) => [e.y, e.x] as [number, number]);
    const boxes = top.entries.map((e) => fitBox(options.boxFor(e.y, e.x), w, h));
    const projections: Record<string, RgbImage[]> = {};
    for (const relu of relus) {
      const grads = projectUnitBatch(model, batch, layer, top.unit, positions, relu);
      projections[relu] = boxes.map((box, i) => {
        const crop = cropPixels(grads.subarray(i * h * w * 3, (i + 1) * h * w * 3), w, h, box);
        return projectionToImage(crop.pixels, crop.width, crop.height, options.normalization);
      });
    }
    batch.dispose();
    const patches = boxes.map((box, i) => cropPadded(images[i], box));
    const side = Math.max(boxes[0].width, boxes[0].height);
    const cellSize = options.cellSize ?? Math.max(96, side);
    const grid = (cells: RgbImage[]) => drawGrid(cells.map((image) => ({ image })), { columns: 3, cellSize, gap: 3, margin: 4 });
    const image = drawGrid(
      [
        ...relus.map((r) => ({ image: grid(projections[r]), label: RULE_LABELS[r] })),
        { image: grid(patches), label: 'image patches' },
      ] satisfies GridCell[],
      { columns: relus.length + 1, gap: 8, margin: 6, title: `${layer} unit ${top.unit}` },
    );
    figures.push({ unit: top.unit, image, projections, patches, boxes });
    options.onUnit?.(k + 1, tops.length);
    await new Promise((r) => setImmediate(r));
  }
  return figures;
}

/** All units of a layer in one picture (units in rows of `columns`). */
export function layerFigure(figures: UnitFigure[], title: string, columns = 2): RgbImage {
  return drawGrid(
    figures.map((f) => ({ image: f.image })),
    { columns: Math.min(columns, figures.length), gap: 12, margin: 12, title },
  );
}
