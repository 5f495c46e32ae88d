/**
 * Teacher-forced training of a caption decoder on cached features: Adam, global-norm gradient clipping,
 * step learning-rate decay, dropout, per-epoch validation (greedy captions scored with CIDEr-D and BLEU-4),
 * early stopping, checkpoints every epoch (weights + Adam state + history) with resume.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, writeJsonAtomic } from '@convlab/core';
import type { Scalar, Tensor, Variable } from '@convlab/core';
import type { CaptionDecoder, TrainBatch } from './decoders/types.js';
import { setFeatureStats } from './decoders/common.js';
import { bucketBatches, disposeBatch, makeBatch, shuffle, type FeatureTable, type Pair } from './batches.js';
import { captionRows, scoreCaptions, type MetricScores } from './eval.js';
import { rng } from './params.js';
import { scstBatch, scstContext, type ScstContext } from './scst.js';
import type { Vocabulary } from './vocab.js';
import { loadCaptionModel, loadOptimizerState, saveCaptionModel } from './model-io.js';
import type { EncoderSpec } from './features.js';

type AdamOptimizer = ReturnType<typeof tf.train.adam>;
type NamedMap = Parameters<AdamOptimizer['applyGradients']>[0];

export interface TrainDecoderOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  /** Multiply the learning rate by this every lrDecayEvery epochs. */
  lrDecay?: number;
  lrDecayEvery?: number;
  clipNorm?: number;
  seed?: number;
  /** Stop after this many epochs without a better validation score; 0 never stops early. */
  patience?: number;
  /** Validation metric for model selection. */
  metric?: 'CIDEr-D' | 'BLEU-4';
  /** Longest caption (words) generated at validation. */
  maxLength?: number;
  /** Checkpoint folder: <outDir>/last (resume point) and <outDir>/best. Omit to train in memory only. */
  outDir?: string;
  /** Saved with checkpoints so they are complete models. */
  encoder?: EncoderSpec;
  /** Validate on at most this many images (all by default). */
  valLimit?: number;
  /**
   * 'xe': teacher-forced cross-entropy on the reference captions. 'scst': self-critical sequence training on
   * CIDEr-D (see scst.ts), normally started from an XE-trained decoder with a small learning rate; batchSize
   * then counts images, each with scstSamples sampled captions.
   */
  objective?: 'xe' | 'scst';
  scstSamples?: number;
  /** The decoder starts from trained weights (fine-tuning, SCST): keep its feature statistics. */
  pretrained?: boolean;
  /** For SCST `loss` is the mean sampled reward (CIDEr-D), which rises. */
  onBatch?: (info: { epoch: number; batch: number; batches: number; loss: number }) => void;
  /** After each epoch's checkpoint is saved (awaited: save a run record here). */
  onEpoch?: (entry: EpochLog) => unknown;
  signal?: AbortSignal;
}

export interface TrainData {
  features: FeatureTable;
  vocab: Vocabulary;
  train: { row: number; captions: number[][] }[];
  val: { row: number; references: string[] }[];
}

export interface EpochLog {
  epoch: number;
  /** XE: mean cross-entropy per word. SCST: mean CIDEr-D of the sampled captions. */
  loss: number;
  objective?: 'xe' | 'scst';
  learningRate: number;
  seconds: number;
  val?: MetricScores;
  best: boolean;
}

interface TrainState {
  epoch: number;
  bestScore: number;
  bestEpoch: number;
  history: EpochLog[];
}

function clipByGlobalNorm(grads: Record<string, Tensor>, maxNorm: number): Record<string, Tensor> {
  return tf.tidy(() => {
    const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = Math.sqrt(tf.addN(sq).dataSync()[0]);
    if (!(norm > maxNorm)) return grads;
    const scale = maxNorm / norm;
    const out: Record<string, Tensor> = {};
    for (const [k, g] of Object.entries(grads)) out[k] = tf.mul(g, scale);
    return out;
  });
}

/** Adam moments are named after tfjs's registered variable names; store them under the decoder's own. */
function optimizerState(optimizer: AdamOptimizer, decoder: CaptionDecoder): Promise<[string, Tensor][]> {
  const toLogical = new Map([...decoder.params.vars.entries()].map(([k, v]) => [v.name, k]));
  return optimizer.getWeights().then((ws: { name: string; tensor: Tensor }[]) =>
    ws.map((w) => {
      const [base, ...rest] = w.name.split('/');
      const logical = toLogical.get(base);
      return [logical ? [logical, ...rest].join('/') : w.name, w.tensor] as [string, Tensor];
    }),
  );
}

async function restoreOptimizer(optimizer: AdamOptimizer, decoder: CaptionDecoder, saved: Map<string, Tensor>): Promise<void> {
  const toRegistered = new Map([...decoder.params.vars.entries()].map(([k, v]) => [k, v.name]));
  const list = [...saved.entries()].map(([name, tensor]) => {
    const [base, ...rest] = name.split('/');
    const reg = toRegistered.get(base);
    return { name: reg ? [reg, ...rest].join('/') : name, tensor };
  });
  await optimizer.setWeights(list);
}

/** Ranges of the numeric options: a RangeError instead of a hang (batch 0) or an out-of-memory death. */
function checkOptions(o: TrainDecoderOptions): void {
  const check = (name: string, v: number | undefined, ok: (x: number) => boolean, want: string) => {
    if (v !== undefined && !(Number.isFinite(v) && ok(v))) throw new RangeError(`trainDecoder: ${name} must be ${want}, got ${v}`);
  };
  const int = (x: number) => Number.isInteger(x);
  check('epochs', o.epochs, (x) => int(x) && x >= 0, 'an integer >= 0');
  check('batchSize', o.batchSize, (x) => int(x) && x >= 1, 'an integer >= 1');
  check('learningRate', o.learningRate, (x) => x > 0, '> 0');
  check('lrDecay', o.lrDecay, (x) => x > 0 && x <= 1, 'in (0, 1]');
  check('lrDecayEvery', o.lrDecayEvery, (x) => int(x) && x >= 1, 'an integer >= 1');
  check('clipNorm', o.clipNorm, (x) => x > 0, '> 0');
  check('patience', o.patience, (x) => int(x) && x >= 0, 'an integer >= 0');
  check('maxLength', o.maxLength, (x) => int(x) && x >= 1, 'an integer >= 1');
  check('valLimit', o.valLimit, (x) => int(x) && x >= 0, 'an integer >= 0');
  check('scstSamples', o.scstSamples, (x) => int(x) && x >= 2, 'an integer >= 2 (the baseline is the mean of the other samples)');
}

export interface TrainResult {
  history: EpochLog[];
  best?: MetricScores;
  bestEpoch: number;
  stoppedEarly: boolean;
  /**
   * The signal stopped training. Every finished epoch is checkpointed (<outDir>/last, and <outDir>/best when it
   * was the best); the interrupted epoch is not, and training the same way again resumes from <outDir>/last.
   */
  interrupted: boolean;
}

export async function trainDecoder(decoder: CaptionDecoder, data: TrainData, options: TrainDecoderOptions): Promise<TrainResult> {
  checkOptions(options);
  const batchSize = options.batchSize ?? 64;
  const metric = options.metric ?? 'CIDEr-D';
  const patience = options.patience ?? 4;
  const clipNorm = options.clipNorm ?? 5;
  const seed = options.seed ?? 1;
  const maxLength = options.maxLength ?? 20;
  const baseLr = options.learningRate ?? 4e-4;
  const optimizer = tf.train.adam(baseLr);
  let state: TrainState = { epoch: 0, bestScore: -Infinity, bestEpoch: 0, history: [] };

  const lastDir = options.outDir ? join(options.outDir, 'last') : undefined;
  if (lastDir && existsSync(join(lastDir, 'train-state.json'))) {
    const loaded = loadCaptionModel(lastDir);
    const values = new Map([...loaded.decoder.params.vars.entries()].map(([k, v]) => [k, v as Tensor]));
    decoder.params.assign(values, join(lastDir, 'weights.bin'));
    loaded.decoder.params.dispose();
    const opt = loadOptimizerState(lastDir);
    if (opt) {
      // Adam creates its moment variables on first use: take one zero step, then overwrite them.
      await restoreOptimizerAfterWarmup(optimizer, decoder, opt);
      for (const t of opt.values()) t.dispose();
    }
    state = JSON.parse(readFileSync(join(lastDir, 'train-state.json'), 'utf8')) as TrainState;
  }

  if (state.epoch === 0 && !options.pretrained) setFeatureStats(decoder, data.features, data.train.map((t) => t.row));
  const objective = options.objective ?? 'xe';
  const pairs: Pair[] = data.train.flatMap((it) => it.captions.map((ids) => ({ row: it.row, ids })));
  const scst: ScstContext | undefined = objective === 'scst' ? scstContext(data.train, data.vocab) : undefined;
  const valItems = options.valLimit ? data.val.slice(0, options.valLimit) : data.val;
  const vars = decoder.params.trainable() as Variable[];
  let stoppedEarly = false;
  let best: MetricScores | undefined = state.history.find((h) => h.epoch === state.bestEpoch)?.val;

  for (let epoch = state.epoch + 1; epoch <= options.epochs; epoch++) {
    if (options.signal?.aborted) break;
    const lr = baseLr * Math.pow(options.lrDecay ?? 1, Math.floor((epoch - 1) / (options.lrDecayEvery ?? 1)));
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    const random = rng(seed * 1000 + epoch);
    const batches = scst ? imageBatches(data.train.length, batchSize, random) : bucketBatches(pairs, batchSize, random);
    const t0 = performance.now();
    let lossSum = 0;
    let lossCount = 0;
    for (let bi = 0; bi < batches.length; bi++) {
      if (options.signal?.aborted) break;
      let batch: TrainBatch;
      let reward: number | undefined;
      if (scst) {
        ({ batch, meanReward: reward } = scstBatch(decoder, data.vocab, data.features, data.train, scst, batches[bi] as number[], { samples: options.scstSamples ?? 5, maxLength, random }));
      } else {
        batch = makeBatch(data.features, batches[bi] as Pair[]);
      }
      // SCST differentiates the log-probabilities of the samples as drawn: no dropout.
      const { value, grads } = tf.variableGrads(() => decoder.loss(batch, !scst), vars);
      const clipped = clipByGlobalNorm(grads, clipNorm);
      optimizer.applyGradients(clipped as unknown as NamedMap);
      const loss = reward ?? (await value.data())[0];
      tf.dispose([value, ...Object.values(grads), ...Object.values(clipped)]);
      disposeBatch(batch);
      lossSum += loss;
      lossCount++;
      options.onBatch?.({ epoch, batch: bi + 1, batches: batches.length, loss });
    }
    if (options.signal?.aborted) break; // an interrupted epoch is not checkpointed: resume redoes it
    const seconds = (performance.now() - t0) / 1000;
    let val: MetricScores | undefined;
    if (valItems.length) {
      const caps = captionRows(
        decoder,
        data.vocab,
        data.features,
        valItems.map((v) => v.row),
        { beamSize: 1, maxLength },
      );
      val = scoreCaptions(
        caps,
        valItems.map((v) => v.references),
      );
    }
    const score = val ? val[metric] : scst ? lossSum / lossCount : -lossSum / lossCount;
    const isBest = score > state.bestScore;
    if (isBest) {
      state.bestScore = score;
      state.bestEpoch = epoch;
      best = val;
    }
    const entry: EpochLog = { epoch, loss: lossSum / lossCount, objective, learningRate: lr, seconds, val, best: isBest };
    state.history.push(entry);
    state.epoch = epoch;
    if (options.outDir && options.encoder) {
      const model = { decoder, vocab: data.vocab, encoder: options.encoder, maxLength, training: { epoch, objective, val, history: state.history.length } };
      if (isBest) await saveCaptionModel(join(options.outDir, 'best'), model);
      await saveCaptionModel(lastDir!, model, { extra: await optimizerState(optimizer, decoder) });
      await writeJsonAtomic(join(lastDir!, 'train-state.json'), state);
      await writeJsonAtomic(join(options.outDir, 'history.json'), state.history);
    }
    await options.onEpoch?.(entry);
    if (patience > 0 && epoch - state.bestEpoch >= patience) {
      stoppedEarly = true;
      break;
    }
  }
  optimizer.dispose();
  return { history: state.history, best, bestEpoch: state.bestEpoch, stoppedEarly, interrupted: !!options.signal?.aborted && !stoppedEarly && state.epoch < options.epochs };
}

/** SCST batches: shuffled training-image indices, batchSize images each. */
function imageBatches(count: number, batchSize: number, random: () => number): number[][] {
  const order = shuffle(
    Array.from({ length: count }, (_, i) => i),
    random,
  );
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

async function restoreOptimizerAfterWarmup(optimizer: AdamOptimizer, decoder: CaptionDecoder, saved: Map<string, Tensor>): Promise<void> {
  const zeroGrads: Record<string, Tensor> = {};
  for (const v of decoder.params.trainable()) zeroGrads[v.name] = tf.zerosLike(v);
  const lr = (optimizer as unknown as { learningRate: number }).learningRate;
  (optimizer as unknown as { learningRate: number }).learningRate = 0;
  optimizer.applyGradients(zeroGrads as unknown as NamedMap);
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
  tf.dispose(Object.values(zeroGrads));
  await restoreOptimizer(optimizer, decoder, saved);
}

export type { Scalar };
