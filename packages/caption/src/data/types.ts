/** One in-memory form for every caption dataset format. */
export type Split = 'train' | 'val' | 'test' | 'restval' | 'unused';

export interface CaptionItem {
  /** Image file name as the dataset names it (unique key). */
  image: string;
  /** Absolute or dataset-relative path to the image file. */
  path: string;
  split: Split;
  /** Raw captions as written in the dataset. */
  captions: string[];
}

export interface MalformedLine {
  /** 1-based line number in a text file, or the JSON path of the entry. */
  where: string;
  text: string;
  reason: string;
}

export interface CaptionDataset {
  name: string;
  imageDir: string;
  items: CaptionItem[];
  /** Images named by the annotations but absent from the image folder: skipped. */
  missing: string[];
  malformed: MalformedLine[];
}

export function splitItems(ds: CaptionDataset, split: Split): CaptionItem[] {
  return ds.items.filter((it) => it.split === split);
}

/** A one-line summary a CLI can print after loading. */
export function describeDataset(ds: CaptionDataset): string {
  const counts = new Map<string, number>();
  for (const it of ds.items) counts.set(it.split, (counts.get(it.split) ?? 0) + 1);
  const splits = [...counts.entries()].map(([s, c]) => `${s} ${c}`).join(', ');
  const caps = ds.items.reduce((a, it) => a + it.captions.length, 0);
  let line = `${ds.name}: ${ds.items.length} images (${splits}), ${caps} captions`;
  if (ds.missing.length) line += `; ${ds.missing.length} missing images skipped (${ds.missing.slice(0, 3).join(', ')}${ds.missing.length > 3 ? ', ...' : ''})`;
  if (ds.malformed.length) line += `; ${ds.malformed.length} malformed entries (first: ${ds.malformed[0].where}: ${ds.malformed[0].reason})`;
  return line;
}
