/**
 * Canvas <-> RgbImage plumbing and the small text helpers every figure uses (wrapping,
 * ellipsis). Figures are drawn on @napi-rs/canvas (Skia: anti-aliased lines and text) and
 * returned as RgbImage so they compose with the rest of the image pipeline.
 */
import { createCanvas, ImageData, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { RgbImage } from '../image.js';
import { ConvlabError } from '../errors.js';
import { ensureFonts } from './fonts.js';

/** The shared look: colours used across figures. */
export const THEME = {
  background: '#ffffff',
  panel: '#f4f4f5',
  text: '#222222',
  mutedText: '#666666',
  axis: '#444444',
  gridLine: '#e5e5e5',
  /** matplotlib's tab10, the familiar categorical palette. */
  palette: ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'],
} as const;

/** Largest canvas side we allow: Skia refuses huge surfaces, and a figure this big is a mistake. */
const MAX_SIDE = 32_767;

export function newCanvas(width: number, height: number, background: string = THEME.background): { canvas: Canvas; ctx: SKRSContext2D } {
  const w = Math.max(1, Math.ceil(width));
  const h = Math.max(1, Math.ceil(height));
  if (w > MAX_SIDE || h > MAX_SIDE) {
    throw new ConvlabError(`figure would be ${w}x${h} pixels, above the ${MAX_SIDE} px limit`, { hint: 'use fewer cells, more columns or a smaller cellSize' });
  }
  ensureFonts();
  const canvas = createCanvas(w, h);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, w, h);
  ctx.textBaseline = 'alphabetic';
  return { canvas, ctx };
}

export function checkImage(image: RgbImage, what: string): void {
  if (!image || !Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width <= 0 || image.height <= 0) {
    throw new ConvlabError(`${what}: not an image (width/height missing or zero)`);
  }
  if (!image.data || image.data.length < image.width * image.height * 3) {
    throw new ConvlabError(`${what}: image data has ${image.data?.length ?? 0} bytes, expected ${image.width * image.height * 3} for ${image.width}x${image.height} RGB`);
  }
}

/** RgbImage -> ImageData (opaque RGBA). */
export function toImageData(image: RgbImage): ImageData {
  const n = image.width * image.height;
  const rgba = new Uint8ClampedArray(n * 4);
  const src = image.data;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const k = i * 4;
    rgba[k] = src[j];
    rgba[k + 1] = src[j + 1];
    rgba[k + 2] = src[j + 2];
    rgba[k + 3] = 255;
  }
  return new ImageData(rgba, image.width, image.height);
}

/** Canvas -> RgbImage (the canvas is opaque: every figure paints its background first). */
export function canvasToImage(canvas: Canvas): RgbImage {
  const { width, height } = canvas;
  const rgba = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const k = i * 4;
    data[j] = rgba[k];
    data[j + 1] = rgba[k + 1];
    data[j + 2] = rgba[k + 2];
  }
  return { width, height, data };
}

export type Resample = 'auto' | 'smooth' | 'nearest';

/**
 * Draw an image into the box (x, y, w, h). 1:1 copies are exact (putImageData). 'auto' upsamples
 * by 2x or more with nearest neighbour, so small feature maps show their real cells instead of
 * blur, and uses high-quality smoothing otherwise.
 */
export function drawImageInto(ctx: SKRSContext2D, image: RgbImage, x: number, y: number, w: number, h: number, resample: Resample = 'auto'): void {
  const dx = Math.round(x);
  const dy = Math.round(y);
  const dw = Math.round(w);
  const dh = Math.round(h);
  if (dw === image.width && dh === image.height) {
    ctx.putImageData(toImageData(image), dx, dy);
    return;
  }
  const tmp = createCanvas(image.width, image.height);
  tmp.getContext('2d').putImageData(toImageData(image), 0, 0);
  const scale = Math.min(dw / image.width, dh / image.height);
  const nearest = resample === 'nearest' || (resample === 'auto' && scale >= 2);
  ctx.save();
  ctx.imageSmoothingEnabled = !nearest;
  if (!nearest) ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(tmp, dx, dy, dw, dh);
  ctx.restore();
}

/** Fit (w, h) inside a box of side `box` keeping aspect; returns the drawn size. */
export function fitInside(w: number, h: number, boxW: number, boxH: number): { width: number; height: number } {
  const s = Math.min(boxW / w, boxH / h);
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** Shorten text with an ellipsis so it fits maxWidth in the context's current font. */
export function ellipsize(ctx: SKRSContext2D, text: string, maxWidth: number): string {
  if (ctx.measureText(text).width <= maxWidth) return text;
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(chars.slice(0, mid).join('') + '…').width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : chars.slice(0, lo).join('').trimEnd() + '…';
}

/** Greedy word wrap in the context's current font; explicit newlines start new lines; over-long words are split. */
export function wrapText(ctx: SKRSContext2D, text: string, maxWidth: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\r?\n/)) {
    const words = paragraph.split(/\s+/).filter(Boolean);
    if (words.length === 0) {
      lines.push('');
      continue;
    }
    let line = '';
    for (const word of words) {
      const candidate = line ? `${line} ${word}` : word;
      if (ctx.measureText(candidate).width <= maxWidth) {
        line = candidate;
        continue;
      }
      if (line) lines.push(line);
      // A single word wider than the line: break it by characters.
      let rest = word;
      while (ctx.measureText(rest).width > maxWidth && rest.length > 1) {
        const chars = [...rest];
        let k = chars.length - 1;
        while (k > 1 && ctx.measureText(chars.slice(0, k).join('')).width > maxWidth) k--;
        lines.push(chars.slice(0, k).join(''));
        rest = chars.slice(k).join('');
      }
      line = rest;
    }
    lines.push(line);
  }
  return lines;
}

/** Typical line metrics for a font size (ascent above the baseline, line height). */
export function lineMetrics(sizePx: number): { ascent: number; lineHeight: number } {
  return { ascent: Math.round(sizePx * 0.93), lineHeight: Math.round(sizePx * 1.35) };
}
