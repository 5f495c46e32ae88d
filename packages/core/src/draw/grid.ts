/**
 * Labelled image grids: Zeiler & Fergus top-9 patches, method comparisons, feature-map mosaics of
 * 64+ channels, style-transfer galleries, per-word attention maps.
 */
import type { RgbImage } from '../image.js';
import { ConvlabError } from '../errors.js';
import { font } from './fonts.js';
import { canvasToImage, checkImage, drawImageInto, ellipsize, fitInside, lineMetrics, newCanvas, THEME, wrapText, type Resample } from './surface.js';

export interface GridCell {
  image: RgbImage;
  /** First line under the image (e.g. a layer name or a word). */
  label?: string;
  /** Second, smaller grey line (e.g. a score). */
  sublabel?: string;
  /** CSS colour of a 3 px frame drawn around the image, outside its pixels (to highlight a cell). */
  border?: string;
}

export interface GridOptions {
  /** Default: ceil(sqrt(n)). */
  columns?: number;
  /** Longest side of each image box in pixels; images are scaled to fit and letterboxed. Default: the largest image side. */
  cellSize?: number;
  /** Space between cells (default 10, or 4 when cells are 48 px or smaller). */
  gap?: number;
  /** Outer margin (default 16). */
  margin?: number;
  title?: string;
  /** Bold labels above each column (e.g. method names). */
  columnLabels?: string[];
  /** Labels left of each row (e.g. layer names). */
  rowLabels?: string[];
  /** Background colour (default white). */
  background?: string;
  /** Label font size in px (default scales with the cell, 10-14). */
  fontSize?: number;
  /** How images are scaled into their box (default 'auto': nearest for 2x+ enlargement, smooth otherwise). */
  resample?: Resample;
}

export function drawGrid(cells: GridCell[], options: GridOptions = {}): RgbImage {
  if (cells.length === 0) throw new ConvlabError('drawGrid: no cells to draw', { hint: 'pass at least one image' });
  cells.forEach((c, i) => checkImage(c.image, `drawGrid cell ${i}`));
  const n = cells.length;
  const columns = Math.max(1, Math.min(n, Math.floor(options.columns ?? Math.ceil(Math.sqrt(n)))));
  const rows = Math.ceil(n / columns);
  const cellSize = Math.max(1, Math.round(options.cellSize ?? Math.max(...cells.map((c) => Math.max(c.image.width, c.image.height)))));

  // Columns are as wide as the widest scaled image; each row as tall as its tallest one, so a
  // portrait image in one row does not leave empty bands in the others.
  const sizes = cells.map((c) => fitInside(c.image.width, c.image.height, cellSize, cellSize));
  const boxW = Math.max(...sizes.map((s) => s.width));
  const rowBoxH = Array.from({ length: rows }, (_, r) => Math.max(...sizes.slice(r * columns, (r + 1) * columns).map((s) => s.height)));
  const gap = options.gap ?? (cellSize <= 48 ? 4 : 10);
  const margin = options.margin ?? 16;
  const labelSize = options.fontSize ?? Math.max(10, Math.min(14, Math.round(boxW / 9)));
  const subSize = Math.max(9, labelSize - 2);
  const hasLabel = cells.some((c) => c.label);
  const hasSub = cells.some((c) => c.sublabel);
  const labelLine = lineMetrics(labelSize);
  const subLine = lineMetrics(subSize);
  const labelBlock = (hasLabel ? labelLine.lineHeight : 0) + (hasSub ? subLine.lineHeight : 0) + (hasLabel || hasSub ? 4 : 0);
  const rowTop: number[] = [];
  let acc = 0;
  for (let r = 0; r < rows; r++) {
    rowTop.push(acc);
    acc += rowBoxH[r] + labelBlock + gap;
  }

  // Measure the text blocks with a scratch context.
  const { ctx: m } = newCanvas(1, 1);
  const headSize = Math.max(11, Math.min(14, labelSize + 1));
  m.font = font(headSize, 'bold');
  const rowLabels = options.rowLabels ?? [];
  const rowLabelW = rowLabels.length ? Math.ceil(Math.min(220, Math.max(...rowLabels.map((t) => m.measureText(t).width)))) + 12 : 0;
  const colLabelH = options.columnLabels?.length ? lineMetrics(headSize).lineHeight + 4 : 0;
  const gridW = rowLabelW + columns * boxW + (columns - 1) * gap;
  const gridH = colLabelH + acc - gap;

  const titleSize = 17;
  m.font = font(titleSize, 'bold');
  const titleWidthWanted = options.title ? m.measureText(options.title).width : 0;
  const contentW = Math.ceil(Math.max(gridW, Math.min(titleWidthWanted, Math.max(gridW, 480))));
  const titleLines = options.title ? wrapText(m, options.title, contentW) : [];
  const titleLine = lineMetrics(titleSize);
  const titleH = titleLines.length ? titleLines.length * titleLine.lineHeight + 8 : 0;

  const width = margin * 2 + contentW;
  const height = margin * 2 + titleH + gridH;
  const { canvas, ctx } = newCanvas(width, height, options.background ?? THEME.background);

  if (titleLines.length) {
    ctx.font = font(titleSize, 'bold');
    ctx.fillStyle = THEME.text;
    ctx.textAlign = 'center';
    titleLines.forEach((line, i) => ctx.fillText(line, width / 2, margin + titleLine.ascent + i * titleLine.lineHeight));
  }
  const x0 = margin + Math.floor((contentW - gridW) / 2);
  const y0 = margin + titleH;

  if (options.columnLabels?.length) {
    ctx.font = font(headSize, 'bold');
    ctx.fillStyle = THEME.text;
    ctx.textAlign = 'center';
    options.columnLabels.slice(0, columns).forEach((text, c) => {
      const cx = x0 + rowLabelW + c * (boxW + gap) + boxW / 2;
      ctx.fillText(ellipsize(ctx, text, boxW + gap - 2), cx, y0 + lineMetrics(headSize).ascent);
    });
  }
  if (rowLabels.length) {
    ctx.font = font(headSize, 'bold');
    ctx.fillStyle = THEME.text;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    rowLabels.slice(0, rows).forEach((text, r) => {
      const cy = y0 + colLabelH + rowTop[r] + rowBoxH[r] / 2;
      ctx.fillText(ellipsize(ctx, text, rowLabelW - 12), x0 + rowLabelW - 12, cy);
    });
    ctx.textBaseline = 'alphabetic';
  }

  ctx.textAlign = 'center';
  cells.forEach((cell, i) => {
    const r = Math.floor(i / columns);
    const c = i % columns;
    const bx = x0 + rowLabelW + c * (boxW + gap);
    const by = y0 + colLabelH + rowTop[r];
    const boxH = rowBoxH[r];
    const { width: dw, height: dh } = sizes[i];
    const ix = bx + Math.floor((boxW - dw) / 2);
    const iy = by + Math.floor((boxH - dh) / 2);
    drawImageInto(ctx, cell.image, ix, iy, dw, dh, options.resample);
    if (cell.border) {
      ctx.strokeStyle = cell.border;
      ctx.lineWidth = 3;
      ctx.strokeRect(ix - 1.5, iy - 1.5, dw + 3, dh + 3);
    }
    let ty = by + boxH + 4;
    if (hasLabel) {
      if (cell.label) {
        ctx.font = font(labelSize);
        ctx.fillStyle = THEME.text;
        ctx.fillText(ellipsize(ctx, cell.label, boxW + gap - 2), bx + boxW / 2, ty + labelLine.ascent);
      }
      ty += labelLine.lineHeight;
    }
    if (cell.sublabel) {
      ctx.font = font(subSize);
      ctx.fillStyle = THEME.mutedText;
      ctx.fillText(ellipsize(ctx, cell.sublabel, boxW + gap - 2), bx + boxW / 2, ty + subLine.ascent);
    }
  });
  return canvasToImage(canvas);
}
