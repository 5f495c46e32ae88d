/**
 * Heatmaps: a scalar map (activation, saliency, attention) over an image, or on its own, with a
 * colorbar whose ticks give the values.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import type { RgbImage } from '../image.js';
import { ConvlabError } from '../errors.js';
import { applyColormap, colormapLut, resolveRange, type ColormapName } from './colormap.js';
import { font } from './fonts.js';
import { canvasToImage, checkImage, drawImageInto, lineMetrics, newCanvas, THEME, type Resample } from './surface.js';
import { formatTick, niceStep, niceTicks } from './ticks.js';

export interface ScalarMap {
  values: ArrayLike<number>;
  width: number;
  height: number;
}

function checkMap(map: ScalarMap, what: string): void {
  if (!map || !(map.width > 0) || !(map.height > 0) || !Number.isInteger(map.width) || !Number.isInteger(map.height)) {
    throw new ConvlabError(`${what}: map needs positive integer width and height`);
  }
  if (map.values.length < map.width * map.height) {
    throw new ConvlabError(`${what}: map has ${map.values.length} values, expected ${map.width * map.height} for ${map.width}x${map.height}`);
  }
}

/**
 * Bilinear resampling with pixel centres aligned (as OpenCV/PIL/tf.image.resizeBilinear with
 * halfPixelCenters): each source cell covers an equal area of the output.
 */
export function resizeMapBilinear(map: ScalarMap, width: number, height: number): Float32Array {
  checkMap(map, 'resizeMapBilinear');
  const { values, width: w, height: h } = map;
  const out = new Float32Array(width * height);
  const sx = w / width;
  const sy = h / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const tx = fx - x0;
      const top = values[y0 * w + x0] * (1 - tx) + values[y0 * w + x1] * tx;
      const bottom = values[y1 * w + x0] * (1 - tx) + values[y1 * w + x1] * tx;
      out[y * width + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

export interface ColorbarOptions {
  colormap: ColormapName;
  range: [number, number];
  label?: string;
  fontSize?: number;
}

const BAR_WIDTH = 14;
const BAR_GAP = 12;
const TICK = 4;

function colorbarTicks(range: [number, number]): { ticks: number[]; step: number } {
  const [lo, hi] = range;
  if (hi === lo) return { ticks: [lo], step: 0 };
  return { ticks: niceTicks(lo, hi, 5), step: niceStep((hi - lo) / 5) };
}

/** Width a colorbar panel needs (gap, bar, ticks, labels, rotated title). */
export function colorbarWidth(ctx: SKRSContext2D, options: ColorbarOptions): number {
  const size = options.fontSize ?? 12;
  ctx.font = font(size);
  const { ticks, step } = colorbarTicks(options.range);
  const labelW = Math.max(0, ...ticks.map((t) => ctx.measureText(formatTick(t, step)).width));
  return BAR_GAP + BAR_WIDTH + TICK + 4 + Math.ceil(labelW) + (options.label ? 8 + lineMetrics(size).lineHeight : 0) + 8;
}

/** Draw a vertical colorbar (high values at the top) whose bar occupies (x + gap, y, 14, height). */
export function drawColorbar(ctx: SKRSContext2D, x: number, y: number, height: number, options: ColorbarOptions): void {
  const size = options.fontSize ?? 12;
  const lut = colormapLut(options.colormap);
  const bx = Math.round(x + BAR_GAP);
  const by = Math.round(y);
  const bh = Math.max(2, Math.round(height));
  // The bar: one row per pixel, sampled from the LUT (value at the row centre).
  for (let r = 0; r < bh; r++) {
    const t = 1 - (r + 0.5) / bh;
    const k = Math.min(255, Math.floor(t * 256)) * 3;
    ctx.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
    ctx.fillRect(bx, by + r, BAR_WIDTH, 1);
  }
  ctx.strokeStyle = THEME.axis;
  ctx.lineWidth = 1;
  ctx.strokeRect(bx - 0.5, by - 0.5, BAR_WIDTH + 1, bh + 1);

  const [lo, hi] = options.range;
  const { ticks, step } = colorbarTicks(options.range);
  ctx.font = font(size);
  ctx.fillStyle = THEME.text;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  let labelRight = bx + BAR_WIDTH + TICK + 4;
  for (const t of ticks) {
    const ty = hi === lo ? by + bh / 2 : by + bh - ((t - lo) / (hi - lo)) * bh;
    const yy = Math.round(ty) + 0.5;
    ctx.beginPath();
    ctx.moveTo(bx + BAR_WIDTH, yy);
    ctx.lineTo(bx + BAR_WIDTH + TICK, yy);
    ctx.stroke();
    const text = formatTick(t, step);
    ctx.fillText(text, bx + BAR_WIDTH + TICK + 4, Math.min(by + bh - size * 0.4, Math.max(by + size * 0.4, ty)));
    labelRight = Math.max(labelRight, bx + BAR_WIDTH + TICK + 4 + ctx.measureText(text).width);
  }
  if (options.label) {
    ctx.save();
    ctx.translate(labelRight + 8 + lineMetrics(size).ascent, by + bh / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = THEME.mutedText;
    ctx.fillText(options.label, 0, 0);
    ctx.restore();
  }
  ctx.textBaseline = 'alphabetic';
}

export interface OverlayOptions {
  /** Weight of the heatmap colour (0 returns the image unchanged, 1 shows only the map). Default 0.5. */
  alpha?: number;
  /**
   * Scale the weight by each pixel's normalised value, so low values leave the image as it is and
   * only high ones are coloured (reads well for sparse attention and saliency). Default false.
   */
  alphaByValue?: boolean;
  colormap?: ColormapName;
  range?: [number, number];
  /** Add a colorbar panel to the right. */
  colorbar?: boolean;
  colorbarLabel?: string;
}

/** Blend a scalar map, upsampled bilinearly to the image size, over the image. */
export async function overlayHeatmap(image: RgbImage, map: ScalarMap, options: OverlayOptions = {}): Promise<RgbImage> {
  checkImage(image, 'overlayHeatmap');
  checkMap(map, 'overlayHeatmap');
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new ConvlabError(`overlayHeatmap: alpha must be in [0, 1], got ${alpha}`);
  const colormap = options.colormap ?? 'viridis';
  const range = resolveRange(map.values, colormap, options.range);
  const up = map.width === image.width && map.height === image.height ? map.values : resizeMapBilinear(map, image.width, image.height);
  const colors = applyColormap(up, image.width, image.height, { colormap, range });
  const blended = new Uint8Array(image.width * image.height * 3);
  const span = range[1] - range[0];
  for (let p = 0; p < image.width * image.height; p++) {
    let a = alpha;
    if (options.alphaByValue) {
      const t = span === 0 ? 1 : (up[p] - range[0]) / span;
      a = alpha * (t > 0 ? (t < 1 ? t : 1) : 0);
    }
    for (let c = p * 3; c < p * 3 + 3; c++) blended[c] = Math.round(image.data[c] * (1 - a) + colors.data[c] * a);
  }
  const out: RgbImage = { width: image.width, height: image.height, data: blended };
  return options.colorbar ? withColorbar(out, { colormap, range, label: options.colorbarLabel }) : out;
}

/** Append a colorbar panel to the right of an image (the image's pixels are unchanged). */
export function withColorbar(image: RgbImage, options: ColorbarOptions): RgbImage {
  const { ctx: m } = newCanvas(1, 1);
  const panel = colorbarWidth(m, options);
  const pad = Math.min(10, Math.round(image.height * 0.04));
  const { canvas, ctx } = newCanvas(image.width + panel, Math.max(image.height, 60));
  drawImageInto(ctx, image, 0, 0, image.width, image.height);
  drawColorbar(ctx, image.width, pad, Math.max(image.height, 60) - 2 * pad, options);
  return canvasToImage(canvas);
}

export interface HeatmapOptions {
  colormap?: ColormapName;
  range?: [number, number];
  /** Longest side of the drawn map in px (default: the map scaled up to at least 256). */
  size?: number;
  /** 'nearest' (default) shows the map's cells; 'smooth' interpolates bilinearly. */
  resample?: Exclude<Resample, 'auto'>;
  title?: string;
  colorbarLabel?: string;
  /** Set false to leave out the colorbar. */
  colorbar?: boolean;
}

