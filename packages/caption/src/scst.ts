/**
 * Self-critical sequence training (Rennie et al. 2017) with the multi-sample baseline of Luo (2020,
 * "A Better Variant of Self-Critical Sequence Training"): for each image, K captions are sampled from the
 * model, each is rewarded with its CIDEr-D against the image's references, and the baseline of a sample is
 * the mean reward of the image's other K-1 samples. The loss is -sum_t (r - b) log p(w_t), computed by
 * teacher-forcing the decoder on its own samples with per-token weights r - b, so any CaptionDecoder that
 * honours TrainBatch.weights trains this way without change.
 */
import type { CaptionDecoder, TrainBatch } from './decoders/types.js';
import { decoderModel, sampleDecode } from './beam-search.js';
import { featureRows, makeBatch, type FeatureTable, type Pair } from './batches.js';
import { CiderDScorer, type NgramVector } from './metrics/cider.js';
import { END_ID, type Vocabulary } from './vocab.js';

export interface ScstContext {
  scorer: CiderDScorer;
  /** Per training image, its references prepared for the scorer. */
  references: NgramVector[][];
}

/**
 * CIDEr-D document frequencies from the training references (coco-caption's "corpus" df mode), in the same
 * word ids the decoder sees (rare words are <unk> on both sides).
 */
export function scstContext(train: { captions: number[][] }[], vocab: Vocabulary): ScstContext {
  const refs = train.map((it) => it.captions.map((ids) => vocab.decode(ids)));
  const scorer = new CiderDScorer(refs);
  return { scorer, references: refs.map((r) => scorer.prepare(r)) };
}

export interface ScstBatch {
  batch: TrainBatch;
  /** Mean CIDEr-D of the samples (what the training maximizes). */
  meanReward: number;
}

/**
 * Sample `samples` captions for each of the given training images and build the weighted teacher-forcing
 * batch. `items` index into `train` (and `context.references`).
 */
export function scstBatch(
  decoder: CaptionDecoder,
  vocab: Vocabulary,
  table: FeatureTable,
  train: { row: number }[],
  context: ScstContext,
  items: number[],
  options: { samples: number; maxLength: number; random: () => number },
): ScstBatch {
  const k = options.samples;
  if (k < 2) throw new RangeError('self-critical training needs at least 2 samples per image for its baseline');
  const owner = items.flatMap((i) => new Array<number>(k).fill(i));
  const feats = featureRows(
    table,
    owner.map((i) => train[i].row),
  );
  const state = decoder.init(feats);
  feats.dispose();
  const { tokens, ended } = sampleDecode(decoderModel(decoder), state, owner.length, { maxLength: options.maxLength, random: options.random });
  const rewards = tokens.map((t, j) => context.scorer.score(vocab.decode(t), context.references[owner[j]]));
  const advantages = rewards.map((r, j) => {
    const first = j - (j % k);
    let others = 0;
    for (let s = first; s < first + k; s++) if (s !== j) others += rewards[s];
    return r - others / (k - 1);
  });
  const pairs: Pair[] = tokens.map((t, j) => ({ row: train[owner[j]].row, ids: ended[j] ? [...t, END_ID] : t }));
  const batch = makeBatch(table, pairs);
  const width = batch.inputs.shape[1];
  const weights = new Float32Array(pairs.length * width);
  pairs.forEach((p, j) => weights.fill(advantages[j], j * width, j * width + p.ids.length));
  batch.weights = weights;
  return { batch, meanReward: rewards.reduce((a, b) => a + b, 0) / rewards.length };
}
