/**
 * Self-contained HTML reports: one file with every image inlined (base64 PNG, or JPEG when that
 * is much smaller, as for photos), readable CSS, and all text escaped. Open it anywhere, mail it,
 * attach it to a lab notebook.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { ConvlabError } from './errors.js';
import { encodeImage, type RgbImage } from './image.js';
import { convlabVersion } from './run-record.js';
import { escape } from 'html-escaper';

export interface HtmlFigure {
  /** An image, encoded bytes (PNG/JPEG/WebP/GIF), or a file path (relative to the page's folder). */
  image: RgbImage | Uint8Array | string;
  caption?: string;
  /** Display width in CSS px (default: natural size, shrunk to fit). */
  width?: number;
  /** Keep pixels sharp when the browser enlarges the image (feature maps, small patches). */
  pixelated?: boolean;
  alt?: string;
}

export interface HtmlTable {
  columns: string[];
  rows: (string | number)[][];
}

export interface HtmlSection {
  heading: string;
  /** Plain text; blank lines separate paragraphs. Escaped. */
  text?: string;
  figures?: HtmlFigure[];
  table?: HtmlTable;
  /** Preformatted text (escaped), e.g. a command line or JSON.stringify(runRecord, null, 2). */
  code?: string;
  /** Raw HTML inserted as is (not escaped): only pass markup you built yourself. */
  html?: string;
}

export interface HtmlPage {
  title: string;
  intro?: string;
  sections: HtmlSection[];
  /** Small print at the bottom (default: generator and date). */
  footer?: string;
}

export interface RenderHtmlOptions {
  /** Folder that figure paths are relative to (default: the current directory; writeHtmlPage uses the page's folder). */
  baseDir?: string;
  /** Link path figures instead of inlining them (the page is then not self-contained). */
  linkFiles?: boolean;
  /** Inlined RgbImages above this PNG size are tried as JPEG (default 256 KB). */
  jpegAboveBytes?: number;
}

/** Escape text for HTML element content and attribute values (html-escaper: & < > " '). */
export function escapeHtml(text: unknown): string {
  return escape(String(text ?? ''));
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
}

const MIME_BY_EXT: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif', '.svg': 'image/svg+xml' };

/** MIME type from the file signature (magic bytes). */
export function sniffImageMime(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP') return 'image/webp';
  if (bytes.length >= 6 && String.fromCharCode(...bytes.subarray(0, 3)) === 'GIF') return 'image/gif';
  return undefined;
}

function isRgbImage(x: unknown): x is RgbImage {
  return typeof x === 'object' && x !== null && 'width' in x && 'height' in x && 'data' in x;
}

function dataUri(mime: string, bytes: Uint8Array): string {
  return `data:${mime};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

/** PNG for figures (sharp text, flat colours); JPEG when it is under 60% of the PNG (photos). */
async function encodeForPage(image: RgbImage, jpegAbove: number): Promise<{ mime: string; bytes: Uint8Array }> {
  const png = await encodeImage(image, 'png');
  if (png.length > jpegAbove) {
    const jpeg = await encodeImage(image, 'jpeg', 90);
    if (jpeg.length < png.length * 0.6) return { mime: 'image/jpeg', bytes: jpeg };
  }
  return { mime: 'image/png', bytes: png };
}

async function figureSrc(figure: HtmlFigure, options: RenderHtmlOptions): Promise<string> {
  const { image } = figure;
  if (typeof image === 'string') {
    const mime = MIME_BY_EXT[extname(image).toLowerCase()];
    if (options.linkFiles) return escapeHtml(image.split('/').map(encodeURIComponent).join('/'));
    const path = isAbsolute(image) ? image : resolve(options.baseDir ?? process.cwd(), image);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      throw new ConvlabError(`report figure not found: ${path}`, { hint: 'figure paths are relative to the page folder; check the file exists' });
    }
    const type = sniffImageMime(bytes) ?? mime;
    if (!type) throw new ConvlabError(`report figure ${path} is not a PNG, JPEG, WebP, GIF or SVG image`);
    return dataUri(type, bytes);
  }
  if (isRgbImage(image)) {
    const { mime, bytes } = await encodeForPage(image, options.jpegAboveBytes ?? 256 * 1024);
    return dataUri(mime, bytes);
  }
  if (image instanceof Uint8Array) {
    const mime = sniffImageMime(image);
    if (!mime) throw new ConvlabError('report figure bytes are not a PNG, JPEG, WebP or GIF image', { hint: 'pass an RgbImage or encoded image bytes' });
    return dataUri(mime, image);
  }
  throw new ConvlabError('report figure must be an RgbImage, encoded image bytes or a file path');
}

function formatCell(v: string | number): { text: string; numeric: boolean } {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { text: String(v), numeric: true };
    const a = Math.abs(v);
    const text = Number.isInteger(v) ? v.toLocaleString('en-US') : a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : Number.parseFloat(v.toPrecision(4)).toString();
    return { text, numeric: true };
  }
  return { text: v, numeric: false };
}

function renderTable(table: HtmlTable): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = table.rows
    .map((row) => {
      const cells = row.map((v) => {
        const { text, numeric } = formatCell(v);
        return `<td${numeric ? ' class="num"' : ''}>${escapeHtml(text)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

const CSS = `
:root { color-scheme: light; --text: #1f2328; --muted: #656d76; --line: #d8dee4; --bg: #f6f7f9; --card: #ffffff; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 32px 24px 48px; }
header h1 { font-size: 28px; line-height: 1.25; margin: 0 0 8px; letter-spacing: -0.01em; }
header .intro { color: var(--muted); max-width: 72ch; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; margin: 24px 0; }
section h2 { font-size: 19px; margin: 0 0 10px; }
section p { max-width: 80ch; margin: 0 0 10px; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; margin-top: 12px; }
figure { margin: 0; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; border-radius: 4px; background: #fff; }
figure img.pixelated { image-rendering: pixelated; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 60ch; }
.table-wrap { overflow-x: auto; margin-top: 12px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; background: #f0f2f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; max-height: 480px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 32px; }
`;

/** Render a report to one HTML string. Every text field is escaped; `section.html` is the only raw input. */
export async function renderHtmlPage(page: HtmlPage, options: RenderHtmlOptions = {}): Promise<string> {
  if (!page?.title) throw new ConvlabError('renderHtmlPage: the page needs a title');
  const sections: string[] = [];
  for (const section of page.sections ?? []) {
    const parts = [`<h2>${escapeHtml(section.heading)}</h2>`];
    if (section.text) parts.push(paragraphs(section.text));
    if (section.figures?.length) {
      const figs: string[] = [];
      for (const fig of section.figures) {
        const src = await figureSrc(fig, options);
        const width = fig.width ? ` width="${Math.round(fig.width)}"` : isRgbImage(fig.image) ? ` width="${fig.image.width}" height="${fig.image.height}"` : '';
        const cls = fig.pixelated ? ' class="pixelated"' : '';
        const alt = escapeHtml(fig.alt ?? fig.caption ?? section.heading);
        const caption = fig.caption ? `<figcaption>${escapeHtml(fig.caption)}</figcaption>` : '';
        figs.push(`<figure><img src="${src}" alt="${alt}"${width}${cls} loading="lazy">${caption}</figure>`);
      }
      parts.push(`<div class="figures">\n${figs.join('\n')}\n</div>`);
    }
    if (section.table) parts.push(renderTable(section.table));
    if (section.code) parts.push(`<pre><code>${escapeHtml(section.code)}</code></pre>`);
    if (section.html) parts.push(section.html);
    sections.push(`<section>\n${parts.join('\n')}\n</section>`);
  }
  const footer = page.footer ?? `Generated by convlab ${convlabVersion()} on ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="convlab ${escapeHtml(convlabVersion())}">
<title>${escapeHtml(page.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(page.title)}</h1>
${page.intro ? `<div class="intro">${paragraphs(page.intro)}</div>` : ''}
</header>
${sections.join('\n')}
<footer>${escapeHtml(footer)}</footer>
</main>
</body>
</html>
`;
}

/** Render and write atomically; figure paths resolve against the page's folder. */
export async function writeHtmlPage(path: string, page: HtmlPage, options: RenderHtmlOptions = {}): Promise<void> {
  const html = await renderHtmlPage(page, { baseDir: dirname(resolve(path)), ...options });
  await writeFileAtomic(path, html);
}
