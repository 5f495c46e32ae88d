/**
 * Line plots (loss curves, correlation checks) and bar charts, drawn in a light "whitegrid" style:
 * white background, faint grid, dark left/bottom axes, tab10 colours, a legend placed in the
 * emptiest corner.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import type { RgbImage } from '../image.js';
import { ConvlabError } from '../errors.js';
import { font } from './fonts.js';
import { canvasToImage, ellipsize, lineMetrics, newCanvas, THEME, wrapText } from './surface.js';
import { formatPowerOfTen, formatTick, integerTicks, logTicks, niceStep, niceTicks } from './ticks.js';

export interface PlotSeries {
  name: string;
  values: number[];
  /** x coordinates (default 0, 1, 2, ...; or `xStart`, `xStart + 1`, ...). */
  x?: number[];
  color?: string;
  /** 'line' (default), 'points' (scatter), or both. */
  style?: 'line' | 'points' | 'line+points';
  dashed?: boolean;
}

export interface LinePlotOptions {
  series: PlotSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  logX?: boolean;
  /** Fixed axis limits (default: the data, with a 4% margin). */
  xRange?: [number, number];
  yRange?: [number, number];
  /** First x when a series has no x (default 0; use 1 for iteration counts). */
  xStart?: number;
  /** Exponential moving average weight in [0, 1) (TensorBoard-style): draws the raw curve faint and the smoothed one on top. */
  smooth?: number;
  /** Legend corner, or 'none' (default 'auto': the corner with the least data under it; hidden for one unnamed series). */
  legend?: 'auto' | 'none' | 'top-right' | 'top-left' | 'bottom-right' | 'bottom-left';
  width?: number;
  height?: number;
  /** Dashed horizontal reference lines, e.g. y = 0. */
  hLines?: { y: number; label?: string; color?: string }[];
}

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
}

function toAxis(v: number, axis: Axis): number {
  return axis.log ? Math.log10(v) : v;
}

function axisRange(values: number[], log: boolean, fixed: [number, number] | undefined, pad: number, name: string): Axis {
  if (fixed) {
    if (log && (fixed[0] <= 0 || fixed[1] <= 0)) throw new ConvlabError(`linePlot: ${name} range must be positive on a log axis`);
    if (!(fixed[1] > fixed[0])) throw new ConvlabError(`linePlot: ${name} range [${fixed.join(', ')}] is empty`);
    return { lo: log ? Math.log10(fixed[0]) : fixed[0], hi: log ? Math.log10(fixed[1]) : fixed[1], log };
  }
  const t = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map((v) => (log ? Math.log10(v) : v));
  if (t.length === 0) {
    throw new ConvlabError(`linePlot: no ${log ? 'positive ' : ''}finite ${name} values to plot`, log ? { hint: 'turn off the log axis for data with zeros or negatives' } : undefined);
  }
  let lo = Math.min(...t);
  let hi = Math.max(...t);
  if (lo === hi) {
    const d = log ? 0.5 : Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  } else {
    const d = (hi - lo) * pad;
    lo -= d;
    hi += d;
  }
  return { lo, hi, log };
}

/** Tick positions (in data units) and labels for an axis. */
function axisTicks(axis: Axis, target: number, integer = false): { value: number; label: string }[] {
  if (axis.log) {
    const lo = 10 ** axis.lo;
    const hi = 10 ** axis.hi;
    const decades = logTicks(lo, hi);
    if (decades.length >= 2) {
      const plain = decades.every((v) => v >= 1 && v <= 1000);
      return decades.map((v) => ({ value: v, label: formatPowerOfTen(v, plain) }));
    }
    // Less than two decades visible: linear-style ticks read better.
    const step = niceStep((hi - lo) / target);
    return niceTicks(lo, hi, target)
      .filter((v) => v > 0)
      .map((v) => ({ value: v, label: formatTick(v, step) }));
  }
  const step = niceStep((axis.hi - axis.lo) / target);
  if (integer) return integerTicks(axis.lo, axis.hi, target).map((v) => ({ value: v, label: formatTick(v, 1) }));
  return niceTicks(axis.lo, axis.hi, target).map((v) => ({ value: v, label: formatTick(v, step) }));
}

function ema(values: number[], weight: number): number[] {
  const out: number[] = [];
  // Starts at the first value, so the curve is not pulled towards zero at the start.
  let acc = NaN;
  let count = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    acc = count === 0 ? v : acc * weight + v * (1 - weight);
    count++;
    out.push(acc);
  }
  return out;
}

/** Semi-transparent version of a #rrggbb colour. */
function fade(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export function linePlot(options: LinePlotOptions): RgbImage {
  const series = options.series ?? [];
  if (series.length === 0) throw new ConvlabError('linePlot: no series to plot');
  const xStart = options.xStart ?? 0;
  const xs = series.map((s) => {
    if (s.x && s.x.length !== s.values.length) throw new ConvlabError(`linePlot: series "${s.name}" has ${s.values.length} values but ${s.x.length} x coordinates`);
    return s.x ?? s.values.map((_, i) => xStart + i);
  });
  const width = Math.max(200, Math.round(options.width ?? 720));
  const height = Math.max(150, Math.round(options.height ?? 440));
  const xAxis = axisRange(xs.flat(), Boolean(options.logX), options.xRange, 0.02, 'x');
  const yAxis = axisRange(series.flatMap((s) => s.values), Boolean(options.logY), options.yRange, 0.05, 'y');
  const xTicks = axisTicks(xAxis, Math.max(3, Math.round(width / 110)), !options.logX && xs.every((x) => x.every((v) => Number.isInteger(v))));
  const yTicks = axisTicks(yAxis, Math.max(3, Math.round(height / 70)));

  const tickSize = 12;
  const labelSize = 13;
  const titleSize = 16;
  const { ctx: m } = newCanvas(1, 1);
  m.font = font(tickSize);
  const yTickW = Math.max(0, ...yTicks.map((t) => m.measureText(t.label).width));
  m.font = font(titleSize, 'bold');
  const titleLines = options.title ? wrapText(m, options.title, width - 40) : [];
  const tl = lineMetrics(titleSize);
  const ll = lineMetrics(labelSize);
  const tk = lineMetrics(tickSize);

  const left = 14 + (options.yLabel ? ll.lineHeight + 4 : 0) + Math.ceil(yTickW) + 10;
  const top = 14 + (titleLines.length ? titleLines.length * tl.lineHeight + 6 : 4);
  const right = 20;
  const bottom = 12 + tk.lineHeight + 6 + (options.xLabel ? ll.lineHeight + 4 : 0);
  const pw = width - left - right;
  const ph = height - top - bottom;
  if (pw < 40 || ph < 40) throw new ConvlabError(`linePlot: ${width}x${height} leaves no room for the plot area`, { hint: 'use a larger width/height' });

  const px = (v: number): number => left + ((toAxis(v, xAxis) - xAxis.lo) / (xAxis.hi - xAxis.lo)) * pw;
  const py = (v: number): number => top + ph - ((toAxis(v, yAxis) - yAxis.lo) / (yAxis.hi - yAxis.lo)) * ph;

  const { canvas, ctx } = newCanvas(width, height);
  if (titleLines.length) {
    ctx.font = font(titleSize, 'bold');
    ctx.fillStyle = THEME.text;
    ctx.textAlign = 'center';
    titleLines.forEach((t, i) => ctx.fillText(t, left + pw / 2, 14 + tl.ascent + i * tl.lineHeight));
  }

  // Grid and tick labels; on a log y axis spanning a few decades, faint minor lines at 2..9 x 10^k.
  ctx.lineWidth = 1;
  if (yAxis.log && yAxis.hi - yAxis.lo >= 1 && yAxis.hi - yAxis.lo <= 6) {
    ctx.strokeStyle = '#f2f2f2';
    for (let e = Math.floor(yAxis.lo); e <= Math.ceil(yAxis.hi); e++) {
      for (let k = 2; k <= 9; k++) {
        const y = Math.round(py(k * 10 ** e)) + 0.5;
        if (y < top || y > top + ph) continue;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + pw, y);
        ctx.stroke();
      }
    }
  }
  ctx.font = font(tickSize);
  ctx.fillStyle = THEME.mutedText;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of yTicks) {
    const y = Math.round(py(t.value)) + 0.5;
    if (y < top - 1 || y > top + ph + 1) continue;
    ctx.strokeStyle = THEME.gridLine;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + pw, y);
    ctx.stroke();
    ctx.fillText(t.label, left - 8, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of xTicks) {
    const x = Math.round(px(t.value)) + 0.5;
    if (x < left - 1 || x > left + pw + 1) continue;
    ctx.strokeStyle = THEME.gridLine;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + ph);
    ctx.stroke();
    ctx.fillText(t.label, x, top + ph + 6);
  }
  ctx.textBaseline = 'alphabetic';

  // Axis titles.
  ctx.fillStyle = THEME.text;
  ctx.font = font(labelSize);
  if (options.xLabel) {
    ctx.textAlign = 'center';
    ctx.fillText(ellipsize(ctx, options.xLabel, pw), left + pw / 2, height - 12);
  }
  if (options.yLabel) {
    ctx.save();
    ctx.translate(14 + ll.ascent, top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText(ellipsize(ctx, options.yLabel, ph), 0, 0);
    ctx.restore();
  }

  // Reference lines.
  for (const h of options.hLines ?? []) {
    if (options.logY && h.y <= 0) continue;
    const y = py(h.y);
    if (y < top || y > top + ph) continue;
    ctx.save();
    ctx.strokeStyle = h.color ?? THEME.mutedText;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + pw, y);
    ctx.stroke();
    ctx.restore();
    if (h.label) {
      ctx.font = font(11);
      ctx.fillStyle = h.color ?? THEME.mutedText;
      ctx.textAlign = 'left';
      ctx.fillText(h.label, left + 6, y - 4);
    }
  }

  // Data, clipped to the plot area.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, pw, ph);
  ctx.clip();
  const colors = series.map((s, i) => s.color ?? THEME.palette[i % THEME.palette.length]);
  const smooth = options.smooth ?? 0;
  if (!(smooth >= 0 && smooth < 1)) throw new ConvlabError(`linePlot: smooth must be in [0, 1), got ${smooth}`);
  series.forEach((s, i) => {
    const style = s.style ?? 'line';
    const valid = (k: number): boolean => Number.isFinite(s.values[k]) && Number.isFinite(xs[i][k]) && (!options.logY || s.values[k] > 0) && (!options.logX || xs[i][k] > 0);
    const strokeLine = (values: number[], color: string, lineWidth: number): void => {
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.lineJoin = 'round';
      ctx.lineCap = 'round';
      ctx.setLineDash(s.dashed ? [7, 5] : []);
      ctx.beginPath();
      let pen = false;
      values.forEach((v, k) => {
        if (!valid(k) || !Number.isFinite(v) || (options.logY && v <= 0)) {
          pen = false;
          return;
        }
        const x = px(xs[i][k]);
        const y = py(v);
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    };
    if (style !== 'points') {
      if (smooth > 0) {
        strokeLine(s.values, fade(colors[i], 0.25), 1.25);
        strokeLine(ema(s.values, smooth), colors[i], 2);
      } else {
        strokeLine(s.values, colors[i], 2);
      }
    }
    if (style !== 'line') {
      ctx.fillStyle = style === 'points' ? fade(colors[i], 0.75) : colors[i];
      const r = style === 'points' ? 3.5 : 2.75;
      s.values.forEach((v, k) => {
        if (!valid(k)) return;
        ctx.beginPath();
        ctx.arc(px(xs[i][k]), py(v), r, 0, Math.PI * 2);
        ctx.fill();
      });
    }
  });
  ctx.setLineDash([]);
  ctx.restore();

  // Axes (left and bottom spines).
  ctx.strokeStyle = THEME.axis;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left + 0.5, top);
  ctx.lineTo(left + 0.5, top + ph + 0.5);
  ctx.lineTo(left + pw, top + ph + 0.5);
  ctx.stroke();

  const showLegend = options.legend !== 'none' && (series.length > 1 || (options.legend !== undefined && options.legend !== 'auto'));
  if (showLegend) {
    drawLegend(ctx, series.map((s, i) => ({ name: s.name, color: colors[i], style: s.style ?? 'line', dashed: Boolean(s.dashed) })), { left, top, pw, ph }, options.legend ?? 'auto', (corner) => {
      // Count data points under a candidate legend box.
      let count = 0;
      series.forEach((s, i) =>
        s.values.forEach((v, k) => {
          if (!Number.isFinite(v) || (options.logY && v <= 0)) return;
          const x = px(xs[i][k]);
          const y = py(v);
          if (x >= corner.x && x <= corner.x + corner.w && y >= corner.y && y <= corner.y + corner.h) count++;
        }),
      );
      return count;
    });
  }
  return canvasToImage(canvas);
}

interface LegendEntry {
  name: string;
  color: string;
  style: 'line' | 'points' | 'line+points';
  dashed: boolean;
}

type Rect = { x: number; y: number; w: number; h: number };

function drawLegend(
  ctx: SKRSContext2D,
  entries: LegendEntry[],
  area: { left: number; top: number; pw: number; ph: number },
  where: NonNullable<LinePlotOptions['legend']>,
  occupancy: (r: Rect) => number,
): void {
  const size = 12;
  ctx.font = font(size);
  const rowH = lineMetrics(size).lineHeight + 2;
  const swatch = 22;
  const names = entries.map((e) => ellipsize(ctx, e.name, Math.max(60, area.pw * 0.45)));
  const w = 12 + swatch + 8 + Math.max(...names.map((n) => ctx.measureText(n).width)) + 12;
  const h = 8 + entries.length * rowH + 4;
  const inset = 10;
  const corners: Record<string, Rect> = {
    'top-right': { x: area.left + area.pw - w - inset, y: area.top + inset, w, h },
    'top-left': { x: area.left + inset, y: area.top + inset, w, h },
    'bottom-right': { x: area.left + area.pw - w - inset, y: area.top + area.ph - h - inset, w, h },
    'bottom-left': { x: area.left + inset, y: area.top + area.ph - h - inset, w, h },
  };
  let rect = corners[where === 'auto' ? 'top-right' : where] ?? corners['top-right'];
  if (where === 'auto') {
    let best = Infinity;
    for (const key of ['top-right', 'top-left', 'bottom-left', 'bottom-right']) {
      const c = occupancy(corners[key]);
      if (c < best) {
        best = c;
        rect = corners[key];
      }
    }
  }
  ctx.fillStyle = 'rgba(255,255,255,0.9)';
  ctx.strokeStyle = '#d4d4d4';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.roundRect(Math.round(rect.x) + 0.5, Math.round(rect.y) + 0.5, Math.round(rect.w), Math.round(rect.h), 4);
  ctx.fill();
  ctx.stroke();
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  entries.forEach((e, i) => {
    const cy = rect.y + 8 + i * rowH + rowH / 2 - 1;
    const sx = rect.x + 12;
    if (e.style !== 'points') {
      ctx.strokeStyle = e.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(e.dashed ? [6, 4] : []);
      ctx.beginPath();
      ctx.moveTo(sx, cy);
      ctx.lineTo(sx + swatch, cy);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (e.style !== 'line') {
      ctx.fillStyle = e.color;
      ctx.beginPath();
      ctx.arc(sx + swatch / 2, cy, 3.5, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.fillStyle = THEME.text;
    ctx.fillText(names[i], sx + swatch + 8, cy);
  });
  ctx.textBaseline = 'alphabetic';
}
