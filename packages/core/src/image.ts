/**
 * Image I/O on sharp. Images travel as RgbImage (8-bit RGB, row-major HWC) between I/O, drawing and
 * tensors: EXIF orientation is applied and alpha is flattened onto white at load, so nothing later
 * has to think about either.
 */
import { access } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { ConvlabError } from './errors.js';
import { writeFileAtomic } from './atomic.js';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB bytes, row-major, length width * height * 3. */
  data: Uint8Array;
}

/** Default refusal limit: 64 megapixels, about 0.8 GB as float32 RGB before any network sees it. */
export const DEFAULT_MAX_PIXELS = 64_000_000;

export interface LoadImageOptions {
  /** Resize (keeping aspect) so the longer side is at most this many pixels (never enlarges unless `enlarge`). */
  maxSide?: number;
  /** With maxSide: also enlarge smaller images so the longer side equals maxSide (default false). */
  enlarge?: boolean;
  /** Resize to exactly this size (ignores aspect), e.g. a network's fixed input. */
  size?: { width: number; height: number };
  /** Refuse images with more pixels than this (before resizing). */
  maxPixels?: number;
}

export const SUPPORTED_IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

/** '64 MP', '1.2 MP', or a pixel count for small limits (tests, thumbnails). */
function megapixels(pixels: number): string {
  return pixels >= 100_000 ? `${Number((pixels / 1e6).toFixed(1))} MP` : `${pixels} pixels`;
}

async function decode(input: string | Uint8Array, label: string, options: LoadImageOptions): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ConvlabError(`cannot read image ${label}: ${(err as Error).message}`, {
      hint: 'check that the file is a JPEG, PNG, WebP, GIF, TIFF or AVIF image and is not truncated',
      cause: err,
    });
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ConvlabError(`image ${label} is ${w}x${h} (${megapixels(w * h)}), above the limit of ${megapixels(maxPixels)}`, {
      hint: 'downscale it first, or raise the limit with maxPixels',
    });
  }
  try {
    // pages: 1 keeps the first frame of animated GIF/WebP; rotate() applies EXIF orientation.
    let pipeline = sharp(input, { pages: 1, limitInputPixels: false }).rotate().flatten({ background: '#ffffff' }).toColourspace('srgb');
    if (options.size) {
      pipeline = pipeline.resize(options.size.width, options.size.height, { fit: 'fill' });
    } else if (options.maxSide) {
      pipeline = pipeline.resize(options.maxSide, options.maxSide, { fit: 'inside', withoutEnlargement: !options.enlarge });
    }
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw new ConvlabError(`cannot decode image ${label}: ${(err as Error).message}`, {
      hint: 'the file may be corrupt; re-export it as PNG or JPEG',
      cause: err,
    });
  }
}

/** Load an image file as RGB. Missing, unreadable and oversized files raise a ConvlabError. */
export async function loadImage(path: string, options: LoadImageOptions = {}): Promise<RgbImage> {
  try {
    await access(path);
  } catch {
    throw new ConvlabError(`image not found: ${path}`, { hint: 'check the path' });
  }
  return decode(path, path, options);
}

/** Decode an in-memory encoded image (any format sharp reads). */
export async function decodeImage(bytes: Uint8Array, options: LoadImageOptions = {}, label = '<buffer>'): Promise<RgbImage> {
  return decode(bytes, label, options);
}

/** Resize to an exact size (fit: fill) or so the longer side equals maxSide. */
export async function resizeImage(
  image: RgbImage,
  target: { width: number; height: number } | { maxSide: number },
  kernel: 'lanczos3' | 'cubic' | 'nearest' | 'linear' = 'lanczos3',
): Promise<RgbImage> {
  let width: number;
  let height: number;
  if ('maxSide' in target) {
    const scale = target.maxSide / Math.max(image.width, image.height);
    width = Math.max(1, Math.round(image.width * scale));
    height = Math.max(1, Math.round(image.height * scale));
  } else {
    ({ width, height } = target);
  }
  if (width === image.width && height === image.height) return image;
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Crop a rectangle (clamped to the image). */
export function cropImage(image: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(image.width, Math.floor(x + width));
  const y1 = Math.min(image.height, Math.floor(y + height));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const src = ((y0 + r) * image.width + x0) * 3;
    out.set(image.data.subarray(src, src + w * 3), r * w * 3);
  }
  return { width: w, height: h, data: out };
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export function formatFromPath(path: string): ImageFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.webp') return 'webp';
  throw new ConvlabError(`cannot write image ${path}: unsupported extension "${ext}"`, { hint: 'use .png, .jpg or .webp' });
}

/** Encode to PNG/JPEG/WebP bytes. */
export async function encodeImage(image: RgbImage, format: ImageFormat = 'png', quality = 92): Promise<Buffer> {
  const s = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (format === 'png') return s.png({ compressionLevel: 6 }).toBuffer();
  if (format === 'jpeg') return s.jpeg({ quality, mozjpeg: true }).toBuffer();
  return s.webp({ quality }).toBuffer();
}

/** Save atomically; the format follows the extension. */
export async function saveImage(image: RgbImage, path: string, options: { quality?: number } = {}): Promise<void> {
  const bytes = await encodeImage(image, formatFromPath(path), options.quality);
  await writeFileAtomic(path, bytes);
}

/** RgbImage -> float32 tensor [h, w, 3] with values 0..255 (models' preprocess takes it from here). */
export function imageToTensor(image: RgbImage): tf.Tensor3D {
  return tf.tidy(() => tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, 3]));
}

/** Several same-size images -> [n, h, w, 3] float32 0..255. */
export function imagesToBatch(images: RgbImage[]): tf.Tensor4D {
  if (images.length === 0) throw new ConvlabError('imagesToBatch needs at least one image');
  const { width, height } = images[0];
  const buf = new Float32Array(images.length * width * height * 3);
  images.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new ConvlabError(`imagesToBatch: image ${i} is ${img.width}x${img.height}, expected ${width}x${height}`);
    }
    buf.set(img.data, i * width * height * 3);
  });
  return tf.tensor4d(buf, [images.length, height, width, 3]);
}

/** Float tensor [h, w, 3] or [1, h, w, 3] with values 0..255 -> RgbImage (clipped, rounded). */
export async function tensorToImage(t: tf.Tensor): Promise<RgbImage> {
  const shape = t.shape;
  const [h, w, c] = shape.length === 4 ? shape.slice(1) : shape;
  if ((shape.length === 4 && shape[0] !== 1) || (shape.length !== 3 && shape.length !== 4) || c !== 3) {
    throw new ConvlabError(`tensorToImage expects [h, w, 3] or [1, h, w, 3], got [${shape.join(', ')}]`);
  }
  const values = await t.data();
  const data = new Uint8Array(h * w * 3);
  for (let i = 0; i < data.length; i++) {
    const v = values[i];
    data[i] = v <= 0 || Number.isNaN(v) ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width: w, height: h, data };
}

/** Grayscale float map (any range) to an RgbImage, min-max normalised. */
export function mapToGray(values: ArrayLike<number>, width: number, height: number): RgbImage {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < width * height; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const span = hi - lo || 1;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const g = Math.round(((values[i] - lo) / span) * 255);
    data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = g;
  }
  return { width, height, data };
}

/**
 * List image files (by extension) in a folder, sorted, non-recursive unless asked. Symbolic links are
 * followed (a folder of links to a dataset is a common layout); broken links are left out.
 */
export async function listImageFiles(dir: string, recursive = false): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (folder: string, top: boolean): Promise<void> => {
    const { realpath } = await import('node:fs/promises');
    let real: string;
    try {
      real = await realpath(folder);
    } catch {
      if (top) throw new ConvlabError(`image folder not found or unreadable: ${dir}`, { hint: 'check the path' });
      return;
    }
    if (seen.has(real)) return; // a link cycle
    seen.add(real);
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      if (top) throw new ConvlabError(`image folder not found or unreadable: ${dir}`, { hint: 'check the path' });
      return;
    }
    for (const e of entries) {
      const path = join(folder, e.name);
      let isFile = e.isFile();
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          const st = await stat(path);
          isFile = st.isFile();
          isDir = st.isDirectory();
        } catch {
          continue; // broken link
        }
      }
      if (isFile && SUPPORTED_IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(path);
      else if (isDir && recursive) await walk(path, false);
    }
  };
  await walk(dir, true);
  return out.sort();
}
