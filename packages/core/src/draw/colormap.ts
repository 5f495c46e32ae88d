/**
 * Colormaps as 256-entry lookup tables, applied like matplotlib: a value is normalised to [0, 1]
 * by the range and mapped to entry floor(t * 256) (clipped to 255).
 */
import { ConvlabError } from '../errors.js';
import type { RgbImage } from '../image.js';
import { CIVIDIS_HEX, INFERNO_HEX, MAGMA_HEX, PLASMA_HEX, TURBO_HEX, VIRIDIS_HEX } from './colormap-data.js';

export type ColormapName = 'viridis' | 'magma' | 'inferno' | 'plasma' | 'cividis' | 'turbo' | 'gray' | 'rdbu' | 'rdbu_r';

export const COLORMAP_NAMES: readonly ColormapName[] = ['viridis', 'magma', 'inferno', 'plasma', 'cividis', 'turbo', 'gray', 'rdbu', 'rdbu_r'];

/** Diverging maps are centred on zero by default (range [-m, m] with m the largest |value|). */
export const DIVERGING_COLORMAPS: ReadonlySet<ColormapName> = new Set(['rdbu', 'rdbu_r']);

/** ColorBrewer's 11-class RdBu, red (low) to blue (high), as matplotlib's 'RdBu' uses it. */
const RDBU_ANCHORS = ['67001f', 'b2182b', 'd6604d', 'f4a582', 'fddbc7', 'f7f7f7', 'd1e5f0', '92c5de', '4393c3', '2166ac', '053061'];

function lutFromHex(hex: string): Uint8Array {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 768; i++) lut[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return lut;
}

/** Piecewise-linear interpolation between evenly spaced anchors (matplotlib's LinearSegmentedColormap). */
function lutFromAnchors(anchors: string[]): Uint8Array {
  const lut = new Uint8Array(768);
  const rgb = anchors.map((h) => [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16)));
  const segments = anchors.length - 1;
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(x));
    const f = x - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f);
  }
  return lut;
}

const cache = new Map<ColormapName, Uint8Array>();

/** The 256x3 lookup table of a colormap (shared; do not modify). */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = cache.get(name);
  if (lut) return lut;
  switch (name) {
    case 'viridis':
      lut = lutFromHex(VIRIDIS_HEX);
      break;
    case 'magma':
      lut = lutFromHex(MAGMA_HEX);
      break;
    case 'inferno':
      lut = lutFromHex(INFERNO_HEX);
      break;
    case 'plasma':
      lut = lutFromHex(PLASMA_HEX);
      break;
    case 'cividis':
      lut = lutFromHex(CIVIDIS_HEX);
      break;
    case 'turbo':
      lut = lutFromHex(TURBO_HEX);
      break;
    case 'gray':
      lut = new Uint8Array(768);
      for (let i = 0; i < 256; i++) lut[i * 3] = lut[i * 3 + 1] = lut[i * 3 + 2] = i;
      break;
    case 'rdbu':
      lut = lutFromAnchors(RDBU_ANCHORS);
      break;
    case 'rdbu_r':
      lut = lutFromAnchors([...RDBU_ANCHORS].reverse());
      break;
    default:
      throw new ConvlabError(`unknown colormap "${String(name)}"`, { hint: `use one of: ${COLORMAP_NAMES.join(', ')}` });
  }
  cache.set(name, lut);
  return lut;
}

/** Entry index for t in [0, 1] (matplotlib: floor(t * N), clipped; NaN maps to 0). */
function lutIndex(t: number): number {
  if (!(t > 0)) return 0;
  return t >= 1 ? 255 : Math.min(255, Math.floor(t * 256));
}

/** Colour of t in [0, 1] as [r, g, b] bytes. */
export function colormapColor(name: ColormapName, t: number): [number, number, number] {
  const lut = colormapLut(name);
  const i = lutIndex(t) * 3;
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/** Colour of t in [0, 1] as a CSS hex string. */
export function colormapHex(name: ColormapName, t: number): string {
  return '#' + colormapColor(name, t).map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** The value range used to normalise: the given one, else min..max (symmetric about 0 for diverging maps). */
export function resolveRange(values: ArrayLike<number>, colormap: ColormapName, range?: [number, number]): [number, number] {
  if (range) {
    if (!(Number.isFinite(range[0]) && Number.isFinite(range[1]))) throw new ConvlabError(`colormap range must be finite, got [${range.join(', ')}]`);
    return range;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (DIVERGING_COLORMAPS.has(colormap)) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return [-m, m];
  }
  return [lo, hi];
}

export interface ApplyColormapOptions {
  colormap?: ColormapName;
  /** Values at or below range[0] get the first colour, at or above range[1] the last. */
  range?: [number, number];
}

/** Map a width x height scalar field (row-major) to colours. Non-finite values get the first colour. */
export function applyColormap(values: ArrayLike<number>, width: number, height: number, options: ApplyColormapOptions = {}): RgbImage {
  const n = width * height;
  if (values.length < n) throw new ConvlabError(`applyColormap: ${values.length} values for a ${width}x${height} map (need ${n})`);
  const colormap = options.colormap ?? 'viridis';
  const lut = colormapLut(colormap);
  const [lo, hi] = resolveRange(values, colormap, options.range);
  const span = hi - lo;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    // A constant map (span 0) shows the middle colour rather than dividing by zero.
    const t = span === 0 ? 0.5 : (values[i] - lo) / span;
    const k = lutIndex(t) * 3;
    data[i * 3] = lut[k];
    data[i * 3 + 1] = lut[k + 1];
    data[i * 3 + 2] = lut[k + 2];
  }
  return { width, height, data };
}
