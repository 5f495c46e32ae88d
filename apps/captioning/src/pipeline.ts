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

export interface PrepareOptions {
  minCount?: number;
  /** Longest training caption in words; longer ones are cut (the <end> is kept). */
  maxLength?: number;
  vocab?: Vocabulary;
  trainSplits?: Split[];
  valSplit?: Split;
}

export function prepareTrainData(ds: CaptionDataset, cache: FeatureCache, table: FeatureTable, options: PrepareOptions = {}): TrainData {
  const trainSplits = new Set(options.trainSplits ?? ['train', 'restval']);
  const trainItems = ds.items.filter((it) => trainSplits.has(it.split));
  if (!trainItems.length) throw new ConvlabError(`${ds.name} has no training images`, { hint: 'check the split files' });
  const tokenized = trainItems.map((it) => it.captions.map(tokenize));
  const vocab = options.vocab ?? buildVocabulary(tokenized.flat(), options.minCount ?? 5);
  const maxLength = options.maxLength ?? 16;
  return {
    features: table,
    vocab,
    train: trainItems.map((it, i) => ({ row: rowOf(cache, it.image), captions: tokenized[i].filter((t) => t.length > 0).map((t) => vocab.encode(t, maxLength)) })),
    val: ds.items.filter((it) => it.split === (options.valSplit ?? 'val')).map((it) => ({ row: rowOf(cache, it.image), references: it.captions })),
  };
}

export interface SplitResult {
  scores: MetricScores;
  captions: { image: string; caption: string; references: string[] }[];
}

export function evaluateSplit(decoder: CaptionDecoder, vocab: Vocabulary, ds: CaptionDataset, cache: FeatureCache, table: FeatureTable, split: Split, options: DecodeOptions = {}): SplitResult {
  const items = ds.items.filter((it) => it.split === split);
  if (!items.length) throw new ConvlabError(`${ds.name} has no images in split "${split}"`, { hint: 'use --split train, val or test' });
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
  };
}
