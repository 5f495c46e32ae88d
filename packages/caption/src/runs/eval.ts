/**
 * `eval` as a library call: caption a split of a dataset from its feature cache with a model, score the
 * captions with coco-caption's BLEU-1..4, ROUGE-L and CIDEr-D, and (with `out`) write a run record holding
 * the scores and every caption. Interrupted, it scores and writes what was captioned, marked incomplete.
 */
import { ConvlabError, createRunRecord, prepareOutputFile, type z } from '@convlab/core';
import { encoderId, loadFeatureCache, readCacheIndex } from '../features.js';
import { loadCaptionModel, readCaptionModelFiles } from '../model-io.js';
import { EvalOptions } from '../options.js';
import { evaluateSplit, featureTable, type SplitResult } from '../pipeline.js';
import { checkInputs, checkOneDataset, chooseDataset, chooseModel, hooksOf, loadDataset, parseGiven, startEngine, type Input, type RunHooks } from './common.js';

export interface EvalRun extends SplitResult {
  /** The options, parsed (as in the run record). */
  options: EvalOptions;
  dataset: string;
  split: EvalOptions['split'];
  decoder: string;
  /** The length penalty used: the option, else the model's stored default, else 0. */
  lengthPenalty: number;
  /** Every image of the split that has features was captioned (false when interrupted). */
  complete: boolean;
  msPerCaption: number;
  /** The written run record, when `out` was given. */
  out?: string;
}

export async function runEval(options: z.input<typeof EvalOptions>, hooks: RunHooks = {}): Promise<EvalRun> {
  const h = hooksOf(hooks);
  // 1. options
  checkOneDataset(options, h);
  const { o } = parseGiven(EvalOptions, options, h);
  const model = chooseModel(o.model, h);
  const dataset = chooseDataset(o, h, 'eval');
  // 2. inputs
  const inputs: Input[] = [...dataset.inputs, { flag: h.name('features'), path: o.features, kind: 'dir' }, model.input];
  checkInputs(inputs);
  // 3. output
  const outFile = o.out === undefined ? undefined : await prepareOutputFile(o.out, { flag: h.name('out'), inputs: inputs.map((i) => i.path), extensions: ['.json'] });
  // 4. small inputs
  const saved = readCaptionModelFiles(model.dir);
  const kind = saved.config.decoder.kind;
  const index = readCacheIndex(o.features);
  if (JSON.stringify({ ...index.spec, preprocessing: undefined }) !== JSON.stringify({ ...saved.config.encoder, preprocessing: undefined })) {
    throw new ConvlabError('the feature cache was made with a different encoder than the model was trained on', { hint: `model encoder: ${encoderId(saved.config.encoder)}; cache: ${encoderId(index.spec)}` });
  }
  const ds = loadDataset(dataset, h);
  // 5. work
  const engine = await startEngine(o.backend, h);
  const record = createRunRecord({ tool: 'caption-eval', parameters: o, backend: engine, model: { name: model.name, encoder: saved.config.encoder, decoder: saved.config.decoder } });
  const loaded = loadCaptionModel(model.dir);
  const lengthPenalty = o.lengthPenalty ?? loaded.config.decoding?.lengthPenalty ?? 0;
  let result: SplitResult;
  const t0 = performance.now();
  try {
    const cache = loadFeatureCache(o.features, { grid: kind === 'show-attend-tell' });
    const total = ds.items.filter((i) => i.split === o.split).length;
    const progress = h.progress(`eval ${o.split}`, total, 'img');
    try {
      result = evaluateSplit(loaded.decoder, loaded.vocab, ds, cache, featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled'), o.split, {
        beamSize: o.beam,
        maxLength: o.maxLength,
        lengthPenalty,
        blockRepeatedTrigrams: o.blockTrigrams,
        signal: h.signal,
        onProgress: (d) => progress.update(d),
      });
    } finally {
      progress.stop();
    }
  } finally {
    loaded.decoder.params.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  record.time('caption', seconds * 1000);
  if (result.skipped.length) h.log(`note: ${result.skipped.length} image(s) of ${o.split} failed in extract and are not scored (first: ${result.skipped[0].image}: ${result.skipped[0].reason})`);
  const complete = result.captions.length === result.total;
  const msPerCaption = result.captions.length ? (seconds * 1000) / result.captions.length : 0;
  const run: EvalRun = { ...result, options: o, dataset: ds.name, split: o.split, decoder: kind, lengthPenalty, complete, msPerCaption };
  if (!result.captions.length) {
    h.log('interrupted before any image was captioned: nothing to score');
    return run;
  }
  if (outFile) {
    record.set('dataset', ds.name);
    record.set('split', o.split);
    record.set('lengthPenalty', lengthPenalty);
    record.set('complete', complete);
    record.set('msPerCaption', msPerCaption);
    record.set('scores', result.scores);
    record.set('skipped', result.skipped);
    record.set('captions', result.captions);
    record.finish();
    await record.save(outFile);
    h.log(`wrote ${o.out}${complete ? '' : ` (partial: ${result.captions.length} of ${result.total} images, marked "complete": false)`}`);
    run.out = outFile;
  }
  if (!complete) h.log(`interrupted: the scores cover the ${result.captions.length} images captioned`);
  return run;
}
