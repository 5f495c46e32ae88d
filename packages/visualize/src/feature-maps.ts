/**
 * Feature-map grids: every channel of one layer for one image, each channel scaled on its own
 * (viridis, 0 .. the channel's max, so dead channels stay dark), labelled with its index and maximum.
 */
import { applyColormap, drawGrid, tf, type RgbImage, type Tensor } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { toBatch } from './attribution.js';

export interface FeatureMapsOptions {
  /** Show only the first n channels (default all). */
  maxChannels?: number;
  /** Order channels by their maximum, strongest first (default false: by index). */
  sortByMax?: boolean;
  /** Cell size in px (default: the map scaled to at least 48 px). */
  cellSize?: number;
  columns?: number;
}

export interface FeatureMapsResult {
  layer: string;
  /** [h, w, c] of the layer for this image. */
  shape: [number, number, number];
  /** Per-channel maximum and mean. */
  max: Float32Array;
  mean: Float32Array;
  /** Channels drawn, in order. */
  channels: number[];
  image: RgbImage;
}

export async function featureMaps(model: ConvNet, image: RgbImage | Tensor, layerName: string, options: FeatureMapsOptions = {}): Promise<FeatureMapsResult> {
  const layer = model.resolveLayer(layerName);
  const batch = toBatch(image);
  const act = tf.tidy(() => model.forward(model.preprocess(batch), { outputs: [layer] })[layer]);
  batch.dispose();
  if (act.rank !== 4) {
    act.dispose();
    throw new Error(`layer ${layer} has no spatial map (shape [${act.shape.join(', ')}])`);
  }
  const [, h, w, c] = act.shape;
  const values = (await act.data()) as Float32Array;
  act.dispose();
  const max = new Float32Array(c).fill(-Infinity);
  const mean = new Float32Array(c);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < c; k++) {
      const v = values[i * c + k];
      if (v > max[k]) max[k] = v;
      mean[k] += v / (h * w);
    }
  }
  let channels = Array.from({ length: c }, (_, k) => k);
  if (options.sortByMax) channels.sort((a, b) => max[b] - max[a] || a - b);
  if (options.maxChannels) channels = channels.slice(0, options.maxChannels);
  const cells = channels.map((k) => {
    const plane = new Float32Array(h * w);
    let lo = Infinity;
    for (let i = 0; i < h * w; i++) {
      plane[i] = values[i * c + k];
      if (plane[i] < lo) lo = plane[i];
    }
    const hi = max[k] > lo ? max[k] : lo + 1;
    return { image: applyColormap(plane, w, h, { colormap: 'viridis', range: [Math.min(0, lo), hi] }), label: String(k), sublabel: max[k].toPrecision(3) };
  });
  const cellSize = options.cellSize ?? Math.max(48, Math.max(h, w));
  const grid = drawGrid(cells, {
    columns: options.columns ?? Math.ceil(Math.sqrt(cells.length * 1.6)),
    cellSize,
    resample: 'nearest',
    title: `${model.name} ${layer}: ${c} channels, ${h}x${w} (label: channel, max)`,
  });
  return { layer, shape: [h, w, c], max, mean, channels, image: grid };
}
