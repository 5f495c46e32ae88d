/**
 * `train` as a library call: a decoder trained on cached features, with checkpoints every epoch
 * (<out>/last resumes, <out>/best is the best by the validation metric), `history.json`, `loss.png`,
 * `val-metrics.png` and `run-record.json` (rewritten after every epoch, so a run killed outright still has
 * one). Cross-entropy by default; `objective: 'scst'` fine-tunes an `init` model on CIDEr-D (scst.ts).
 * Before any tensor exists: the options, the inputs, the output folder, the cache's index, the saved
 * configs of `init` / the run being resumed, and the memory estimate (memory.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConvlabError, createRunRecord, isSameOrInside, linePlot, prepareOutputDir, saveImage, type Progress, type z } from '@convlab/core';
import { createDecoder, type DecoderConfig, type DecoderKind } from '../decoders/index.js';
import { encoderId, loadFeatureCache, readCacheIndex } from '../features.js';
import { checkTrainingMemory, describeTrainingMemory, estimateTrainingMemory } from '../memory.js';
import { loadCaptionModel, readCaptionModelFiles } from '../model-io.js';
import { SCST_DEFAULTS, TrainOptions } from '../options.js';
import { featureTable, prepareTrainData, trainingVocabulary } from '../pipeline.js';
import { trainDecoder, type EpochLog, type TrainResult } from '../train.js';
import { checkInputs, checkOneDataset, chooseDataset, hooksOf, loadDataset, parseGiven, refuseOverInputs, startEngine, type Input, type RunHooks } from './common.js';

/** The options with the objective-dependent defaults resolved: what the run record keeps. */
export type ResolvedTrainOptions = TrainOptions & { attention?: number };

export interface TrainRun extends TrainResult {
  out: string;
  recordPath: string;
  options: ResolvedTrainOptions;
}

/** Fill what `objective: 'scst'` changes (SCST_DEFAULTS) when the caller did not give it. */
export function resolveTrainOptions(o: TrainOptions, given: (f: keyof TrainOptions) => boolean): ResolvedTrainOptions {
  const scst = o.objective === 'scst';
  return {
    ...o,
    batch: scst && !given('batch') ? SCST_DEFAULTS.batch : o.batch,
    lr: scst && !given('lr') ? SCST_DEFAULTS.lr : o.lr,
    lrDecay: scst && !given('lrDecay') ? SCST_DEFAULTS.lrDecay : o.lrDecay,
  };
}

export async function runTrain(options: z.input<typeof TrainOptions>, hooks: RunHooks = {}): Promise<TrainRun> {
  const h = hooksOf(hooks);
  // 1. options
  checkOneDataset(options, h);
  const parsed = parseGiven(TrainOptions, options, h);
  const given = parsed.given;
  const o = resolveTrainOptions(parsed.o, given);
  const scst = o.objective === 'scst';
  if (!scst && given('samples')) throw new ConvlabError(`${h.name('samples')} applies to ${h.name('objective')} scst only`, { hint: `add ${h.name('objective')} scst ${h.name('init')} <run>/best, or leave out ${h.name('samples')}` });
  if (given('attention') && o.decoder === 'show-tell') throw new ConvlabError(`${h.name('attention')} applies to ${h.name('decoder')} show-attend-tell only`, { hint: `use ${h.name('decoder')} show-attend-tell, or leave out ${h.name('attention')}` });
  const dataset = chooseDataset(o, h, 'train');
  // 2. inputs
  const inputs: Input[] = [...dataset.inputs, { flag: h.name('features'), path: o.features, kind: 'dir' }, ...(o.init ? [{ flag: h.name('init'), path: o.init, kind: 'dir' as const }] : [])];
  checkInputs(inputs);
  // 3. output: never an input, and never a folder holding `init` (out/best and out/last are replaced)
  refuseOverInputs(o.out, h.name('out'), inputs);
  for (const sub of ['best', 'last']) {
    if (o.init && isSameOrInside(o.init, join(o.out, sub))) {
      throw new ConvlabError(`${h.name('out')} ${o.out} would replace ${join(o.out, sub)}, which holds ${h.name('init')} ${o.init}`, { hint: `give the fine-tuning run its own ${h.name('out')} folder` });
    }
  }
  const out = await prepareOutputDir(o.out, { flag: h.name('out'), inputs: inputs.map((i) => i.path) });
  // 4. small inputs: the cache's index, model configs, annotations; then the memory estimate
  const index = readCacheIndex(o.features);
  if (index.done < index.images.length) throw new ConvlabError(`feature cache ${o.features} is incomplete (${index.done}/${index.images.length} images)`, { hint: 'run `convlab-caption extract` again to resume it' });
  const lastDir = join(out, 'last');
  const resuming = existsSync(join(lastDir, 'train-state.json'));
  const init = o.init ? readCaptionModelFiles(o.init) : undefined;
  if (init?.ensemble) throw new ConvlabError(`${h.name('init')} ${o.init} is an ensemble`, { hint: 'fine-tune one model: pass one member folder or a run/best' });
  const last = resuming ? readCaptionModelFiles(lastDir) : undefined;
  if (scst && !init && !resuming) throw new ConvlabError(`${h.name('objective')} scst needs a trained decoder to start from`, { hint: `pass ${h.name('init')} <run>/best from a cross-entropy run` });
  for (const [what, cfg] of [
    [`${h.name('init')} ${o.init}`, init?.config],
    [`the run being resumed (${lastDir})`, last?.config],
  ] as const) {
    if (cfg && JSON.stringify(cfg.encoder) !== JSON.stringify(index.spec)) {
      throw new ConvlabError(`${what} was trained on other features (${encoderId(cfg.encoder)}) than ${h.name('features')} (${encoderId(index.spec)})`, { hint: 'pass the feature cache the model was trained on' });
    }
  }
  // The decoder's shape comes from `init` or the resumed run when there is one; options that contradict it are refused.
  const saved = init?.config.decoder ?? last?.config.decoder;
  const kind: DecoderKind = saved?.kind ?? o.decoder ?? 'show-tell';
  if (given('attention') && kind !== 'show-attend-tell') throw new ConvlabError(`${h.name('attention')} applies to ${h.name('decoder')} show-attend-tell only`, { hint: `add ${h.name('decoder')} show-attend-tell, or leave out ${h.name('attention')}` });
  const attentionDim = o.attention ?? o.hidden;
  if (saved) {
    const source = init ? `${h.name('init')} ${o.init}` : `the run being resumed (${lastDir})`;
    const contradictions: [keyof TrainOptions, unknown, unknown][] = [
      ['decoder', o.decoder, saved.kind],
      ['hidden', o.hidden, saved.hiddenDim],
      ['embed', o.embed, saved.embedDim],
      ['attention', attentionDim, saved.attentionDim ?? saved.hiddenDim],
      ['dropout', o.dropout, saved.dropout],
    ];
    for (const [field, value, was] of contradictions) {
      if (given(field) && value !== was) throw new ConvlabError(`${h.name(field)} ${String(value)} differs from ${source} (${String(was)})`, { hint: `leave out ${h.name(field)} (it is taken from the saved model) or use another ${h.name('out')}` });
    }
  }
  if (kind === 'show-attend-tell' && !index.withGrid) throw new ConvlabError(`feature cache ${o.features} has no spatial grid`, { hint: 'extract again with --grid for the attention decoder' });
  const ds = loadDataset(dataset, h);
  const vocab = last?.vocab ?? init?.vocab ?? trainingVocabulary(ds, o.minCount);
  const [gh, gw, gc] = index.gridShape;
  const decoderConfig: DecoderConfig = saved ?? {
    kind,
    vocabSize: vocab.size,
    featureDim: kind === 'show-attend-tell' ? gc : index.pooledDim,
    gridSize: kind === 'show-attend-tell' ? gh * gw : undefined,
    embedDim: o.embed,
    hiddenDim: o.hidden,
    attentionDim: kind === 'show-attend-tell' ? attentionDim : undefined,
    dropout: o.dropout,
    alphaReg: 1,
    normalizeFeatures: true,
  };
  const memory = estimateTrainingMemory({
    kind,
    images: index.images.length,
    pooledDim: index.pooledDim,
    gridShape: index.gridShape,
    vocabSize: decoderConfig.vocabSize,
    embedDim: decoderConfig.embedDim,
    hiddenDim: decoderConfig.hiddenDim,
    attentionDim: decoderConfig.attentionDim,
    batchSize: o.batch,
    samples: scst ? o.samples : undefined,
    maxLength: o.maxLength,
  });
  checkTrainingMemory(memory, o.objective);
  h.log(`memory estimate: ${describeTrainingMemory(memory)}`);
  // 5. work
  const engine = await startEngine(o.backend, h);
  const cache = loadFeatureCache(o.features, { grid: kind === 'show-attend-tell' });
  const table = featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled');
  const data = prepareTrainData(ds, cache, table, { minCount: o.minCount, maxLength: o.maxLength, vocab });
  if (data.skipped.length) h.log(`note: ${data.skipped.length} image(s) failed in extract and are left out (first: ${data.skipped[0].image}: ${data.skipped[0].reason})`);
  const decoder = init ? loadCaptionModel(o.init!).decoder : createDecoder(decoderConfig, o.seed);
  const resolved: ResolvedTrainOptions = { ...o, ...(kind === 'show-attend-tell' ? { attention: decoder.config.attentionDim ?? attentionDim } : {}) };
  const record = createRunRecord({ tool: 'caption-train', parameters: resolved, seed: o.seed, backend: engine, model: cache.spec });
  const trainCaptions = data.train.reduce((a, t) => a + t.captions.length, 0);
  record.set('decoder', decoder.config);
  record.set('data', { dataset: ds.name, trainCaptions, skippedImages: data.skipped.length, vocabulary: data.vocab.size, pretrained: init !== undefined });
  const recordPath = join(out, 'run-record.json');
  const logEpoch = (e: EpochLog) => record.log(e.epoch, { loss: e.loss, seconds: e.seconds, learningRate: e.learningRate, ...(e.val ? { 'BLEU-4': e.val['BLEU-4'], 'CIDEr-D': e.val['CIDEr-D'] } : {}) });
  if (resuming) {
    // A resumed run's record keeps the epochs trained before it.
    const before = (JSON.parse(readFileSync(join(lastDir, 'train-state.json'), 'utf8')) as { history?: EpochLog[] }).history ?? [];
    before.forEach(logEpoch);
    record.set('resumedAfterEpoch', before.length ? before[before.length - 1].epoch : 0);
  }
  h.log(`vocabulary ${data.vocab.size} words; ${trainCaptions} training captions; decoder ${kind} with ${decoder.params.count()} parameters`);
  let progress: Progress | undefined;
  let result: TrainResult;
  try {
    result = await trainDecoder(decoder, data, {
      epochs: o.epochs,
      batchSize: o.batch,
      learningRate: o.lr,
      lrDecay: o.lrDecay,
      lrDecayEvery: o.lrDecayEvery,
      patience: o.patience,
      valLimit: o.valLimit,
      metric: o.metric,
      maxLength: o.maxLength,
      seed: o.seed,
      objective: o.objective,
      scstSamples: o.samples,
      pretrained: init !== undefined,
      outDir: out,
      encoder: cache.spec,
      signal: h.signal,
      onBatch: ({ epoch, batch, batches, loss }) => {
        if (batch === 1) progress = h.progress(`epoch ${epoch}`, batches, 'batch');
        progress?.update(batch, scst ? { reward: loss.toFixed(3) } : { loss: loss.toFixed(3) });
        if (batch === batches) progress?.stop();
      },
      onEpoch: async (e) => {
        progress?.stop();
        logEpoch(e);
        // The record follows the checkpoints, so a run killed outright still has one for its saved epochs.
        await record.save(recordPath);
        h.log(
          `epoch ${e.epoch}: ${scst ? 'mean sample CIDEr-D' : 'loss'} ${e.loss.toFixed(3)}, ${e.seconds.toFixed(0)} s` + (e.val ? `, val BLEU-4 ${e.val['BLEU-4'].toFixed(4)} CIDEr-D ${e.val['CIDEr-D'].toFixed(4)} distinct ${e.val.distinct}/${e.val.count}` : '') + (e.best ? ' (best)' : ''),
        );
      },
    });
  } finally {
    progress?.stop();
    decoder.params.dispose();
  }
  await writeTrainingPlots(out, result.history);
  const epochsDone = result.history.length ? result.history[result.history.length - 1].epoch : 0;
  record.set('result', { bestEpoch: result.bestEpoch, best: result.best, stoppedEarly: result.stoppedEarly, interrupted: result.interrupted, epochsDone });
  record.finish();
  await record.save(recordPath);
  if (result.interrupted) {
    h.log(
      epochsDone
        ? `interrupted: epochs 1-${epochsDone} are saved (last: ${join(out, 'last')}, best: epoch ${result.bestEpoch} in ${join(out, 'best')}); the unfinished epoch is not; run the same command to resume`
        : `interrupted before the first epoch finished: nothing to keep but ${recordPath}`,
    );
  } else if (result.history.length) {
    h.log(`best epoch ${result.bestEpoch}; model in ${join(out, 'best')}`);
  }
  return { ...result, out, recordPath, options: resolved };
}

/** loss.png (training loss per epoch) and, when validated, val-metrics.png (BLEU-4 and CIDEr-D). */
export async function writeTrainingPlots(out: string, history: { epoch: number; loss: number; val?: { 'BLEU-4': number; 'CIDEr-D': number } }[]): Promise<void> {
  if (!history.length) return;
  const x = history.map((h) => h.epoch);
  const withVal = history.filter((h) => h.val);
  const loss = linePlot({ series: [{ name: 'train loss', x, values: history.map((h) => h.loss), style: 'line+points' }], title: 'training loss', xLabel: 'epoch', yLabel: 'cross-entropy / word' });
  await saveImage(loss, join(out, 'loss.png'));
  if (withVal.length) {
    const metrics = linePlot({
      series: [
        { name: 'val BLEU-4', x: withVal.map((h) => h.epoch), values: withVal.map((h) => h.val!['BLEU-4']), style: 'line+points' },
        { name: 'val CIDEr-D', x: withVal.map((h) => h.epoch), values: withVal.map((h) => h.val!['CIDEr-D']), style: 'line+points' },
      ],
      title: 'validation (greedy)',
      xLabel: 'epoch',
    });
    await saveImage(metrics, join(out, 'val-metrics.png'));
  }
}
