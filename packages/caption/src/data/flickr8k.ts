/**
 * Flickr8k / Flickr30k in their original release layout: a token file with lines
 * "<image>#<n>\t<caption>" and split files listing one image name per line
 * (Flickr_8k.trainImages.txt, .devImages.txt, .testImages.txt).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { CaptionDataset, CaptionItem, MalformedLine, Split } from './types.js';
import { listFolder, readText } from './files.js';

export interface FlickrOptions {
  /** Dataset root containing the token and split files. */
  root: string;
  /** Image folder; default <root>/images (Flickr8k_Dataset/Flicker8k_Dataset is also tried). */
  imageDir?: string;
  tokenFile?: string;
  splitFiles?: Partial<Record<'train' | 'val' | 'test', string>>;
  name?: string;
}

export function parseTokenFile(text: string): { captions: Map<string, string[]>; malformed: MalformedLine[] } {
  const captions = new Map<string, string[]>();
  const malformed: MalformedLine[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([^\s#]+)#(\d+)\s+(.*\S)\s*$/.exec(line);
    if (!m) {
      malformed.push({ where: `line ${i + 1}`, text: line.slice(0, 80), reason: 'expected "<image>#<n><TAB><caption>"' });
      return;
    }
    const list = captions.get(m[1]) ?? [];
    list.push(m[3]);
    captions.set(m[1], list);
  });
  return { captions, malformed };
}

export function parseSplitFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function defaultImageDir(root: string): string {
  for (const d of ['images', 'Flicker8k_Dataset', 'Flickr8k_Dataset', 'flickr30k-images']) {
    if (existsSync(join(root, d))) return join(root, d);
  }
  return join(root, 'images');
}

export function loadFlickr(options: FlickrOptions): CaptionDataset {
  const root = options.root;
  const tokenFile = options.tokenFile ?? (existsSync(join(root, 'Flickr8k.token.txt')) ? join(root, 'Flickr8k.token.txt') : join(root, 'results_20130124.token'));
  const { captions, malformed } = parseTokenFile(readText(tokenFile, 'caption token file'));
  const split = {
    train: options.splitFiles?.train ?? join(root, 'Flickr_8k.trainImages.txt'),
    val: options.splitFiles?.val ?? join(root, 'Flickr_8k.devImages.txt'),
    test: options.splitFiles?.test ?? join(root, 'Flickr_8k.testImages.txt'),
  };
  const imageDir = options.imageDir ?? defaultImageDir(root);
  const present = listFolder(imageDir);
  const items: CaptionItem[] = [];
  const missing: string[] = [];
  for (const [s, file] of Object.entries(split) as [Split, string][]) {
    for (const image of parseSplitFile(readText(file, `${s} split file`))) {
      const caps = captions.get(image);
      if (!caps) {
        malformed.push({ where: `${file}`, text: image, reason: 'image listed in the split has no captions in the token file' });
        continue;
      }
      if (!present.has(image)) {
        missing.push(image);
        continue;
      }
      items.push({ image, path: join(imageDir, image), split: s, captions: caps });
    }
  }
  return { name: options.name ?? 'flickr8k', imageDir, items, missing, malformed };
}
