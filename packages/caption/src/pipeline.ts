/**
 * Glue between a loaded dataset, a feature cache and the decoder: building the vocabulary and the
 * training/validation sets, and captioning a split for evaluation. CLIs and scripts call these.
 */
import type { CaptionDataset, Split } from './data/types.js';
import type { FeatureCache } from './features.js';
import type { FeatureTable } from './batches.js';
import type { TrainData } from './train.js';
import { tokenize } from './tokenizer.js';
import { buildVocabulary, Vocabulary } from './vocab.js';
import { ConvlabError } from '@convlab/core';
import type { CaptionDecoder } from './decoders/types.js';
import { captionRows, scoreCaptions, type DecodeOptions, type MetricScores } from './eval.js';

export function featureTable(cache: FeatureCache, kind: 'pooled' | 'grid'): FeatureTable {
  if (kind === 'pooled') return { shape: [cache.pooledDim], data: cache.pooled };
  if (!cache.grid) throw new ConvlabError('the feature cache was loaded without its grid', { hint: 'extract with --grid for the attention decoder' });
  const [h, w, c] = cache.gridShape;
  return { shape: [h * w, c], data: cache.grid };
}

function rowOf(cache: FeatureCache, image: string): number {
  const r = cache.row.get(image);
  if (r === undefined) throw new ConvlabError(`image ${image} is not in the feature cache`, { hint: 'extract features for this dataset again' });
  return r;
}

/** Items whose image failed in `extract` (listed in the cache's index) are left out; the rest must be cached. */
function usable<T extends { image: string }>(cache: FeatureCache, items: T[], skipped: { image: string; reason: string }[]): T[] {
  return items.filter((it) => {
    const reason = cache.failed?.get(it.image);
    if (reason === undefined) return true;
    skipped.push({ image: it.image, reason });
    return false;
  });
}

export interface PrepareOptions {
  minCount?: number;
  /** Longest training caption in words; longer ones are cut (the <end> is kept). */
  maxLength?: number;
  vocab?: Vocabulary;
  trainSplits?: Split[];
  valSplit?: Split;
}

/** The vocabulary training would build from a dataset's training captions (no features needed). */
export function trainingVocabulary(ds: CaptionDataset, minCount = 5, trainSplits: Split[] = ['train', 'restval']): Vocabulary {
  const splits = new Set(trainSplits);
  return buildVocabulary(
    ds.items.filter((it) => splits.has(it.split)).flatMap((it) => it.captions.map(tokenize)),
    minCount,
  );
}

/**
 * Training and validation sets from a dataset and its feature cache. Images the cache lists as failed
 * (unreadable in `extract`) are left out and returned in `skipped`.
 */
export function prepareTrainData(ds: CaptionDataset, cache: FeatureCache, table: FeatureTable, options: PrepareOptions = {}): TrainData & { skipped: { image: string; reason: string }[] } {
  const trainSplits = new Set(options.trainSplits ?? ['train', 'restval']);
  const skipped: { image: string; reason: string }[] = [];
  const trainItems = usable(
    cache,
    ds.items.filter((it) => trainSplits.has(it.split)),
    skipped,
  );
  if (!trainItems.length) throw new ConvlabError(`${ds.name} has no training images${skipped.length ? ` whose features could be extracted (${skipped.length} failed)` : ''}`, { hint: 'check the split files' });
  const tokenized = trainItems.map((it) => it.captions.map(tokenize));
  const vocab = options.vocab ?? buildVocabulary(tokenized.flat(), options.minCount ?? 5);
  const maxLength = options.maxLength ?? 16;
  const valItems = usable(
    cache,
    ds.items.filter((it) => it.split === (options.valSplit ?? 'val')),
    skipped,
  );
  return {
    features: table,
    vocab,
    train: trainItems.map((it, i) => ({ row: rowOf(cache, it.image), captions: tokenized[i].filter((t) => t.length > 0).map((t) => vocab.encode(t, maxLength)) })),
    val: valItems.map((it) => ({ row: rowOf(cache, it.image), references: it.captions })),
    skipped,
  };
}

export interface SplitResult {
  scores: MetricScores;
  captions: { image: string; caption: string; references: string[] }[];
  /** Images of the split whose features failed in `extract`: not captioned, not scored. */
  skipped: { image: string; reason: string }[];
  /** Images of the split that could be captioned (captions.length is fewer if interrupted). */
  total: number;
}

export function evaluateSplit(decoder: CaptionDecoder, vocab: Vocabulary, ds: CaptionDataset, cache: FeatureCache, table: FeatureTable, split: Split, options: DecodeOptions = {}): SplitResult {
  const all = ds.items.filter((it) => it.split === split);
  if (!all.length) throw new ConvlabError(`${ds.name} has no images in split "${split}"`, { hint: 'use --split train, val or test' });
  const skipped: { image: string; reason: string }[] = [];
  const items = usable(cache, all, skipped);
  if (!items.length) throw new ConvlabError(`none of the ${all.length} images of split "${split}" has features (all failed in extract)`, { hint: 'fix the images and run `convlab-caption extract` again' });
  const caps = captionRows(
    decoder,
    vocab,
    table,
    items.map((it) => rowOf(cache, it.image)),
    options,
  );
  const done = items.slice(0, caps.length);
  return {
    scores: scoreCaptions(
      caps,
      done.map((it) => it.captions),
    ),
    captions: done.map((it, i) => ({ image: it.image, caption: caps[i], references: it.captions })),
    skipped,
    total: items.length,
  };
}
