/**
 * Turning attribution maps into pictures.
 *
 * Image-space projections (deconvnet, guided backprop, gradients) are shown as Zeiler & Fergus and the
 * common tools do: each map is contrast-stretched on its own, centred at grey, so zero is grey and
 * the sign shows as colour. 'robust' (default): grey + 0.5 * v / q, clipped, where q is the 99th
 * percentile of |v| over the non-zero values (a few extreme pixels do not wash out the rest, and a
 * projection confined to a small receptive field still gets the full range). 'std' is the
 * Keras/"visualize what convnets learn" rule: grey + 0.1 * (v - mean) / std, clipped to [0, 1].
 * 'symmetric' maps +-max|v| to the ends; 'minmax' stretches min..max to 0..255 (grey is then not zero).
 * Heat maps (Grad-CAM, saliency magnitude, occlusion) use viridis.
 */
import { applyColormap, cropImage, overlayHeatmap, type RgbImage } from '@convlab/core';
import type { AttributionMap } from './attribution.js';
import type { ProjectionNormalization } from './names.js';

export { NORMALIZATIONS, type ProjectionNormalization } from './names.js';

/**
 * The scale a map is stretched by on its own: for 'robust' the 99th percentile of |v| over the non-zero
 * values, for 'symmetric' max |v| (other modes have no single scale; 0 is returned).
 */
export function projectionScale(pixels: ArrayLike<number>, mode: ProjectionNormalization = 'robust'): number {
  const n = pixels.length;
  if (mode === 'symmetric') {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(pixels[i]));
    return m;
  }
  if (mode !== 'robust') return 0;
  const abs = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) if (pixels[i] !== 0) abs[k++] = Math.abs(pixels[i]);
  const nz = abs.subarray(0, k).sort();
  return k ? nz[Math.min(k - 1, Math.floor(0.99 * (k - 1)))] : 0;
}

/**
 * `scale` (robust and symmetric modes) replaces the map's own scale: maps drawn with one scale can be
 * compared by brightness (sharedScales), instead of each being stretched to its own range.
 */
export function projectionToImage(pixels: ArrayLike<number>, width: number, height: number, mode: ProjectionNormalization = 'robust', scale?: number): RgbImage {
  const n = width * height * 3;
  const data = new Uint8Array(n);
  let mean = 0;
  let lo = Infinity;
  let hi = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const v = pixels[i];
    mean += v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
  }
  mean /= n;
  let std = 0;
  for (let i = 0; i < n; i++) std += (pixels[i] - mean) ** 2;
  std = Math.sqrt(std / n);
  let q = 0;
  if (mode === 'robust') q = scale ?? projectionScale(pixels, mode);
  if (mode === 'symmetric' && scale !== undefined) maxAbs = scale;
  for (let i = 0; i < n; i++) {
    const v = pixels[i];
    let t: number;
    if (mode === 'robust') t = q > 0 ? 0.5 + (0.5 * v) / q : 0.5;
    else if (mode === 'std') t = std > 0 ? 0.5 + (0.1 * (v - mean)) / std : 0.5;
    else if (mode === 'symmetric') t = maxAbs > 0 ? 0.5 + (0.5 * v) / maxAbs : 0.5;
    else t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    data[i] = Math.round(Math.min(1, Math.max(0, t)) * 255);
  }
  return { width, height, data };
}

/** A rectangle of an [h, w, 3] float array; parts outside the array are zero. */
export function cropPixels(pixels: ArrayLike<number>, width: number, height: number, box: Box): { pixels: Float32Array; width: number; height: number } {
  const w = Math.max(1, Math.round(box.width));
  const h = Math.max(1, Math.round(box.height));
  const bx = Math.round(box.x);
  const by = Math.round(box.y);
  const out = new Float32Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const y = by + r;
    if (y < 0 || y >= height) continue;
    for (let c = 0; c < w; c++) {
      const x = bx + c;
      if (x < 0 || x >= width) continue;
      const s = (y * width + x) * 3;
      const d = (r * w + c) * 3;
      out[d] = pixels[s];
      out[d + 1] = pixels[s + 1];
      out[d + 2] = pixels[s + 2];
    }
  }
  return { pixels: out, width: w, height: h };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Shrink a box to at most the image size and slide it inside the image (keeps crops equal-sized). */
export function fitBox(box: Box, width: number, height: number): Box {
  const w = Math.min(Math.round(box.width), width);
  const h = Math.min(Math.round(box.height), height);
  const x = Math.min(Math.max(0, Math.round(box.x)), width - w);
  const y = Math.min(Math.max(0, Math.round(box.y)), height - h);
  return { x, y, width: w, height: h };
}

/** The scale a map is drawn with on its own (attributionImage): the projection's for pixel maps, max heat for overlays. */
export function mapScale(map: AttributionMap, options: { normalization?: ProjectionNormalization; overlay?: boolean } = {}): number {
  if (map.pixels && !options.overlay) return projectionScale(map.pixels, options.normalization);
  let m = 0;
  for (const v of map.heat) m = Math.max(m, v);
  return m;
}

/**
 * One scale per method over a set of maps (the largest of their own scales), so maps of one method for
 * several images or targets are drawn comparably: a map 5x weaker than another looks 5x fainter.
 */
export function sharedScales(maps: readonly AttributionMap[], options: { normalization?: ProjectionNormalization; overlay?: boolean } = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) out.set(m.method, Math.max(out.get(m.method) ?? 0, mapScale(m, options)));
  return out;
}

/**
 * The picture for one attribution map: the projection for pixel methods, a viridis overlay for CAMs.
 * `scale` (sharedScales) replaces the map's own scale (heat overlays then span 0..scale).
 */
export async function attributionImage(
  map: AttributionMap,
  image: RgbImage,
  options: { normalization?: ProjectionNormalization; overlay?: boolean; scale?: number } = {},
): Promise<RgbImage> {
  const scale = options.scale !== undefined && options.scale > 0 ? options.scale : undefined;
  if (map.pixels && !options.overlay) return projectionToImage(map.pixels, map.width, map.height, options.normalization, scale);
  return overlayHeatmap(image, { values: map.heat, width: map.width, height: map.height }, { alpha: 0.55, ...(scale ? { range: [0, scale] as [number, number] } : {}) });
}

/** A heat map alone (viridis, min..max). */
export function heatImage(values: ArrayLike<number>, width: number, height: number): RgbImage {
  return applyColormap(values, width, height, { colormap: 'viridis' });
}

/** Crop an image to a box, padding areas outside the image with grey so every crop has the box's size. */
export function cropPadded(image: RgbImage, box: Box, grey = 128): RgbImage {
  const w = Math.max(1, Math.round(box.width));
  const h = Math.max(1, Math.round(box.height));
  const x = Math.round(box.x);
  const y = Math.round(box.y);
  const inside = cropImage(image, x, y, w, h);
  if (inside.width === w && inside.height === h) return inside;
  const out = new Uint8Array(w * h * 3).fill(grey);
  const ox = Math.max(0, -x);
  const oy = Math.max(0, -y);
  for (let r = 0; r < inside.height; r++) {
    out.set(inside.data.subarray(r * inside.width * 3, (r + 1) * inside.width * 3), ((oy + r) * w + ox) * 3);
  }
  return { width: w, height: h, data: out };
}
