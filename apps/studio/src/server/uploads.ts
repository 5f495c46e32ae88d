/**
 * Uploaded images: the type is sniffed from the bytes (sharp reads the header; the client's file name and
 * declared type are ignored), the byte and pixel limits are checked, and the file is stored under a name
 * the server makes: `<runs>/uploads/<id>.<ext>` plus `<id>.json` with what was learned about it. The id is
 * the first 32 hex digits of the bytes' SHA-256, so the same image uploaded twice is one upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { HttpError } from './errors.js';

/** Formats accepted, by sharp's name, with the extension and MIME type the server gives them. */
export const UPLOAD_FORMATS: Record<string, { ext: string; mime: string }> = {
  jpeg: { ext: 'jpg', mime: 'image/jpeg' },
  png: { ext: 'png', mime: 'image/png' },
  webp: { ext: 'webp', mime: 'image/webp' },
  gif: { ext: 'gif', mime: 'image/gif' },
  tiff: { ext: 'tif', mime: 'image/tiff' },
};

export const UPLOAD_ID = /^[a-f0-9]{32}$/;

export interface UploadLimits {
  /** Largest upload in bytes (default 20 MB). */
  maxBytes: number;
  /** Largest image in pixels, width × height × frames (default 40 MP). */
  maxPixels: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 };

export interface UploadInfo {
  id: string;
  ref: string;
  url: string;
  width: number;
  height: number;
  format: string;
  mime: string;
  bytes: number;
  createdAt: string;
}

export class UploadStore {
  constructor(
    readonly dir: string,
    readonly limits: UploadLimits,
  ) {}

  /** Check and store one upload's bytes. Throws HttpError 400/413/415. */
  async save(bytes: Buffer): Promise<UploadInfo> {
    if (bytes.length === 0) throw new HttpError(400, 'the uploaded file is empty', { field: 'file', hint: 'choose a JPEG, PNG, WebP, GIF or TIFF image' });
    if (bytes.length > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes);
    let meta: sharp.Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch {
      throw notAnImage();
    }
    const format = meta.format && UPLOAD_FORMATS[meta.format];
    if (!format || !meta.width || !meta.height) throw notAnImage(meta.format);
    const frames = meta.pages ?? 1;
    const pixels = meta.width * meta.height * frames;
    if (pixels > this.limits.maxPixels) {
      throw new HttpError(413, `the image is ${meta.width}×${meta.height}${frames > 1 ? `×${frames} frames` : ''} = ${(pixels / 1e6).toFixed(1)} MP, over the studio's limit of ${(this.limits.maxPixels / 1e6).toFixed(1)} MP`, {
        field: 'file',
        hint: 'downscale the image first (a few megapixels is plenty for every pipeline)',
      });
    }
    const id = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
    const info: UploadInfo = {
      id,
      ref: `upload:${id}`,
      url: `/api/uploads/${id}`,
      width: meta.width,
      height: meta.height,
      format: meta.format!,
      mime: format.mime,
      bytes: bytes.length,
      createdAt: new Date().toISOString(),
    };
    const existing = await this.get(id);
    if (existing) return existing;
    // The image first, its record last: an upload exists once its record does.
    await writeAtomically(join(this.dir, `${id}.${format.ext}`), bytes);
    await writeAtomically(join(this.dir, `${id}.json`), JSON.stringify(info, null, 2) + '\n');
    return info;
  }

  /** An upload's record, or undefined for an id that is malformed or unknown. */
  async get(id: string): Promise<UploadInfo | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    try {
      const info = JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as UploadInfo;
      await stat(this.pathOf(info));
      return info;
    } catch {
      return undefined;
    }
  }

  /** The absolute path of an upload's bytes. */
  pathOf(info: Pick<UploadInfo, 'id' | 'format'>): string {
    const format = UPLOAD_FORMATS[info.format];
    if (!format || !UPLOAD_ID.test(info.id)) throw new Error(`bad upload record ${info.id}`);
    return join(this.dir, `${info.id}.${format.ext}`);
  }
}

export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `the upload is over the studio's limit of ${formatBytes(maxBytes)}`, { field: 'file', hint: 'downscale or recompress the image first' });
}

function notAnImage(format?: string): HttpError {
  return new HttpError(415, format ? `the upload is ${format === 'svg' ? 'an SVG' : `a ${format.toUpperCase()} file`}, which the studio does not take` : 'the upload is not an image the studio can read (checked from its bytes, not its name)', {
    field: 'file',
    hint: 'upload a JPEG, PNG, WebP, GIF or TIFF image',
  });
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0)} MB` : n >= 1024 ? `${Math.round(n / 1024)} kB` : `${n} bytes`;
}

/** Temp file in the same folder, then rename: a reader sees all of the file or none of it. */
async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
