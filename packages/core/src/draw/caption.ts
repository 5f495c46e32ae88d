/** Text under an image: generated captions, file names, settings. */
import type { RgbImage } from '../image.js';
import { font } from './fonts.js';
import { canvasToImage, checkImage, drawImageInto, lineMetrics, newCanvas, THEME, wrapText } from './surface.js';

export interface CaptionOptions {
  /** Font size in px (default 15). */
  fontSize?: number;
  /** Widest a text line may be (default: the image width minus padding). */
  maxWidth?: number;
  /** Narrowest the output may be; a narrow image is centred on a wider strip (default 160). */
  minWidth?: number;
  /** Padding around the text (default 10). */
  padding?: number;
  align?: 'left' | 'center';
  /** Draw the first line (paragraph) in bold, e.g. the best caption above alternatives. */
  boldFirstLine?: boolean;
  background?: string;
  color?: string;
}

/** The image with a wrapped caption strip below it. `text` may hold several paragraphs (newlines or an array). */
export function captionImage(image: RgbImage, text: string | string[], options: CaptionOptions = {}): RgbImage {
  checkImage(image, 'captionImage');
  const size = options.fontSize ?? 15;
  const pad = options.padding ?? 10;
  const width = Math.max(image.width, options.minWidth ?? 160);
  const textWidth = Math.max(20, Math.min(options.maxWidth ?? Infinity, width - 2 * pad));
  const paragraphs = (Array.isArray(text) ? text : text.split(/\r?\n/)).map((p) => p.trim());
  const { ctx: m } = newCanvas(1, 1);
  const lines: { text: string; bold: boolean }[] = [];
  // Empty text adds no strip.
  if (paragraphs.every((p) => !p)) paragraphs.length = 0;
  paragraphs.forEach((p, i) => {
    const bold = Boolean(options.boldFirstLine) && i === 0;
    m.font = font(size, bold ? 'bold' : 'normal');
    for (const line of wrapText(m, p, textWidth)) lines.push({ text: line, bold });
  });
  const { ascent, lineHeight } = lineMetrics(size);
  const stripH = lines.length ? pad * 2 + lines.length * lineHeight - (lineHeight - Math.round(size * 1.15)) : 0;
  const { canvas, ctx } = newCanvas(width, image.height + stripH, options.background ?? THEME.background);
  drawImageInto(ctx, image, Math.floor((width - image.width) / 2), 0, image.width, image.height);
  ctx.fillStyle = options.color ?? THEME.text;
  const center = (options.align ?? 'center') === 'center';
  ctx.textAlign = center ? 'center' : 'left';
  const x = center ? width / 2 : Math.floor((width - textWidth) / 2);
  lines.forEach((line, i) => {
    ctx.font = font(size, line.bold ? 'bold' : 'normal');
    ctx.fillText(line.text, x, image.height + pad + ascent + i * lineHeight);
  });
  return canvasToImage(canvas);
}
