/**
 * Karpathy's split files (dataset_flickr8k.json, dataset_flickr30k.json, dataset_coco.json):
 * {"dataset": "...", "images": [{"filename", "filepath"?, "split", "sentences": [{"raw", "tokens"}]}]}.
 */
import { join } from 'node:path';
import type { CaptionDataset, CaptionItem, MalformedLine, Split } from './types.js';
import { listFolder, readJson } from './files.js';
import { ConvlabError } from '@convlab/core';

const SPLITS = new Set(['train', 'val', 'test', 'restval']);

export function loadKarpathyJson(file: string, imageDir: string): CaptionDataset {
  const json = readJson(file, 'Karpathy split JSON') as { dataset?: string; images?: unknown };
  if (!json || !Array.isArray(json.images)) {
    throw new ConvlabError(`${file} has no "images" array`, { hint: 'expected the dataset_*.json layout of Karpathy & Fei-Fei' });
  }
  const present = listFolder(imageDir);
  const checkedDirs = new Map<string, Set<string>>([['', present]]);
  const items: CaptionItem[] = [];
  const missing: string[] = [];
  const malformed: MalformedLine[] = [];
  (json.images as unknown[]).forEach((entry, i) => {
    const e = entry as { filename?: unknown; filepath?: unknown; split?: unknown; sentences?: unknown };
    const where = `images[${i}]`;
    if (typeof e?.filename !== 'string' || !Array.isArray(e.sentences) || typeof e.split !== 'string') {
      malformed.push({ where, text: JSON.stringify(entry).slice(0, 80), reason: 'needs "filename", "split" and "sentences"' });
      return;
    }
    if (!SPLITS.has(e.split)) {
      malformed.push({ where, text: String(e.split), reason: `unknown split (use ${[...SPLITS].join(', ')})` });
      return;
    }
    const captions: string[] = [];
    for (const s of e.sentences as { raw?: unknown; tokens?: unknown }[]) {
      if (typeof s?.raw === 'string') captions.push(s.raw);
      else if (Array.isArray(s?.tokens)) captions.push((s.tokens as string[]).join(' '));
    }
    if (!captions.length) {
      malformed.push({ where, text: e.filename, reason: 'no sentence has "raw" or "tokens"' });
      return;
    }
    const sub = typeof e.filepath === 'string' ? e.filepath : '';
    let files = checkedDirs.get(sub);
    if (!files) {
      try {
        files = listFolder(join(imageDir, sub));
      } catch {
        files = new Set();
      }
      checkedDirs.set(sub, files);
    }
    const key = sub ? `${sub}/${e.filename}` : e.filename;
    if (!files.has(e.filename)) {
      missing.push(key);
      return;
    }
    items.push({ image: key, path: join(imageDir, sub, e.filename), split: e.split as Split, captions });
  });
  return { name: json.dataset ?? 'karpathy', imageDir, items, missing, malformed };
}
