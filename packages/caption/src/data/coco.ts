/**
 * COCO captions annotations (captions_train2014.json, ...):
 * {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}. All images get the given split.
 */
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core';
import type { CaptionDataset, CaptionItem, MalformedLine, Split } from './types.js';
import { listFolder, readJson } from './files.js';

export function loadCocoCaptions(file: string, imageDir: string, split: Split = 'train'): CaptionDataset {
  const json = readJson(file, 'COCO captions JSON') as { images?: unknown; annotations?: unknown };
  if (!json || !Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new ConvlabError(`${file} needs "images" and "annotations" arrays`, { hint: 'expected a COCO captions_*.json file' });
  }
  const malformed: MalformedLine[] = [];
  const byId = new Map<number, { file: string; captions: string[] }>();
  (json.images as { id?: unknown; file_name?: unknown }[]).forEach((im, i) => {
    if (typeof im?.id !== 'number' || typeof im.file_name !== 'string') {
      malformed.push({ where: `images[${i}]`, text: JSON.stringify(im).slice(0, 80), reason: 'needs numeric "id" and "file_name"' });
      return;
    }
    byId.set(im.id, { file: im.file_name, captions: [] });
  });
  (json.annotations as { image_id?: unknown; caption?: unknown }[]).forEach((a, i) => {
    const target = typeof a?.image_id === 'number' ? byId.get(a.image_id) : undefined;
    if (!target || typeof a.caption !== 'string') {
      malformed.push({ where: `annotations[${i}]`, text: JSON.stringify(a).slice(0, 80), reason: target ? 'needs a "caption" string' : 'image_id not in "images"' });
      return;
    }
    target.captions.push(a.caption);
  });
  const present = listFolder(imageDir);
  const items: CaptionItem[] = [];
  const missing: string[] = [];
  for (const { file: f, captions } of byId.values()) {
    if (!captions.length) continue;
    if (!present.has(f)) {
      missing.push(f);
      continue;
    }
    items.push({ image: f, path: join(imageDir, f), split, captions });
  }
  return { name: 'coco', imageDir, items, missing, malformed };
}
