/**
 * Getting images into the size a network wants. Dataset images are centre-cropped to the model's
 * input aspect and resized (ImageNet-style), so patches and positions refer to that cropped image.
 */
import { stat } from 'node:fs/promises';
import { ConvlabError, cropImage, listImageFiles, loadImage, resizeImage, type RgbImage } from '@convlab/core';

export type FitMode = 'cover' | 'fill';

/** Centre-crop to the target aspect ratio ('cover') or squash ('fill'), then resize to width x height. */
export async function fitImage(image: RgbImage, width: number, height: number, fit: FitMode = 'cover'): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  if (fit === 'fill') return resizeImage(image, { width, height });
  const scale = Math.max(width / image.width, height / image.height);
  const cw = Math.min(image.width, Math.round(width / scale));
  const ch = Math.min(image.height, Math.round(height / scale));
  const cropped = cropImage(image, Math.floor((image.width - cw) / 2), Math.floor((image.height - ch) / 2), cw, ch);
  return resizeImage(cropped, { width, height });
}

/** Load an image file and fit it to [height, width]. */
export async function loadFitted(path: string, size: [number, number], fit: FitMode = 'cover'): Promise<RgbImage> {
  return fitImage(await loadImage(path), size[1], size[0], fit);
}

/**
 * The image files of a folder (or a single file), sorted. An empty or unreadable folder is a
 * ConvlabError naming it.
 */
export async function collectImageFiles(input: string, recursive = true): Promise<string[]> {
  let info;
  try {
    info = await stat(input);
  } catch {
    throw new ConvlabError(`image folder not found: ${input}`, { hint: 'check the path (give a folder of .jpg/.png images)' });
  }
  if (info.isFile()) return [input];
  const files = await listImageFiles(input, recursive);
  if (files.length === 0) {
    throw new ConvlabError(`no images in ${input}`, {
      hint: 'the folder must contain .jpg, .jpeg, .png, .webp, .gif, .tif or .avif files',
    });
  }
  return files;
}

/** Horizontal mirror (used to augment a small sample set). */
export function flipHorizontal(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = (y * width + (width - 1 - x)) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/** The image files of files and folders, in the order given (each folder's files sorted). */
export async function imageFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) files.push(...(await collectImageFiles(p)));
  return files;
}
