/**
 * First-layer filters as colour images (Zeiler & Fergus Fig. 5/6, AlexNet Fig. 3). All filters share
 * one symmetric scale (grey = 0), so their relative strengths stay visible; channels are shown in RGB
 * order whatever the model's input order (VGG's caffe preprocessing feeds BGR).
 */
import { ConvlabError, drawGrid, tf, type RgbImage } from '@convlab/core';
import type { ConvNet } from '@convlab/models';

export interface FiltersResult {
  layer: string;
  /** [kh, kw, 3, count] */
  shape: number[];
  image: RgbImage;
  /** Each filter as an image (before enlargement). */
  filters: RgbImage[];
}

/** Which input channel of the network each RGB colour lands in (handles RGB->BGR preprocessing). */
export function inputChannelOrder(model: ConvNet): [number, number, number] {
  return tf.tidy(() => {
    const probe = tf.tensor4d([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0], [4, 1, 1, 3]);
    const out = model.preprocess(probe).arraySync() as number[][][][];
    const base = out[3][0][0];
    const order = [0, 1, 2].map((c) => {
      const diff = out[c][0][0].map((v, k) => Math.abs(v - base[k]));
      return diff.indexOf(Math.max(...diff));
    });
    return order as [number, number, number];
  });
}

export function firstLayerFilters(model: ConvNet, options: { layer?: string; scale?: number } = {}): FiltersResult {
  const convs = model.layers.filter((l) => l.kind === 'conv');
  const name = options.layer ? model.resolveLayer(options.layer) : convs[0]?.name;
  if (!name) throw new ConvlabError(`model ${model.name} has no convolution layer`);
  const weights = model.model.getLayer(name).getWeights();
  const kernel = weights[0];
  if (!kernel || kernel.rank !== 4 || kernel.shape[2] !== 3) {
    throw new ConvlabError(`layer ${name} does not take 3 colour channels (kernel shape [${kernel?.shape.join(', ')}])`, {
      hint: `filters can be drawn as images only for the first convolution, ${convs[0]?.name}`,
    });
  }
  const [kh, kw, , count] = kernel.shape;
  const values = kernel.dataSync();
  let maxAbs = 0;
  for (const v of values) maxAbs = Math.max(maxAbs, Math.abs(v));
  const order = inputChannelOrder(model);
  const filters: RgbImage[] = [];
  for (let f = 0; f < count; f++) {
    const data = new Uint8Array(kh * kw * 3);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let c = 0; c < 3; c++) {
          const v = values[((y * kw + x) * 3 + order[c]) * count + f];
          data[(y * kw + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, 0.5 + (0.5 * v) / (maxAbs || 1))) * 255);
        }
      }
    }
    filters.push({ width: kw, height: kh, data });
  }
  const scale = options.scale ?? Math.max(4, Math.ceil(36 / Math.max(kh, kw)));
  const image = drawGrid(
    filters.map((image, i) => ({ image, label: String(i) })),
    { cellSize: Math.max(kh, kw) * scale, resample: 'nearest', columns: Math.ceil(Math.sqrt(count * 2)), title: `${model.name} ${name}: ${count} filters ${kh}x${kw}x3 (grey = 0)` },
  );
  return { layer: name, shape: kernel.shape, image, filters };
}
