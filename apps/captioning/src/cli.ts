/**
 * convlab-caption: extract | train | eval | predict | synth | export. Flags are parsed here; the work is
 * done by the library (features.ts, train.ts, pipeline.ts, predict.ts).
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, relative, basename, extname } from 'node:path';
import {
  ConvlabError,
  createProgress,
  createRunRecord,
  initEngine,
  linePlot,
  runCli,
  saveImage,
  writeJsonAtomic,
} from '@convlab/core';
import { describeDataset, loadCocoCaptions, loadFlickr, loadKarpathyJson, type CaptionDataset, type Split } from './data/index.js';
import { createExtractor, DEFAULT_ENCODER, encoderId, extractToCache, loadFeatureCache, type EncoderSpec } from './features.js';
import { createDecoder, type DecoderKind } from './decoders/index.js';
import { trainDecoder } from './train.js';
import { evaluateSplit, featureTable, prepareTrainData } from './pipeline.js';
import { formatScores } from './eval.js';
import { loadCaptionModel, saveCaptionEnsemble, saveCaptionModel } from './model-io.js';
import { captionImages, DEFAULT_MODEL, resolveModelDir, SHIPPED_MODELS } from './predict.js';
import { generateScenes } from './synthetic.js';
import { Vocabulary } from './vocab.js';

const USAGE = `usage: convlab-caption <command> [options]

commands:
  predict <image...>     caption images with a shipped model (--model ${Object.keys(SHIPPED_MODELS).join('|')}, default
                         ${DEFAULT_MODEL}) or a trained one (--model <dir>)
                         [--beam 3] [--attention-maps <out dir>] [--json] [--max-length 20]
  extract                encode a dataset's images once into a feature cache
                         --data <dataset> --features <cache dir> [--grid] [--model mobilenet_v2|inception_v3|random-conv]
                         [--layer out_relu] [--pooled-layers mixed6,mixed7 (concatenated)] [--pool mean|mean+max]
                         [--size 224] [--batch 8] [--grid-pool 2 (average-pool the stored grid, e.g. 17x17 -> 9x9)]
  train                  train a decoder on cached features
                         --data <dataset> --features <cache dir> --out <run dir>
                         [--decoder show-tell|show-attend-tell] [--epochs 10] [--batch 64] [--lr 2e-3]
                         [--lr-decay 0.8] [--hidden 256] [--embed 256] [--dropout 0.3] [--min-count 5]
                         [--patience 3] [--val-limit 500] [--metric CIDEr-D|BLEU-4] [--seed 1]
                         self-critical fine-tuning on CIDEr-D: --objective scst --init <run>/best [--samples 5]
                         [--lr 5e-5] [--batch 32 (images)]
  eval                   score a model on a split: --model <name|dir> --data <dataset> --features <cache dir>
                         [--split test] [--beam 3] [--out results.json]
  export                 copy a trained model as float16: --from <run>/best --to <dir>
                         (--from a/best,b/best writes an ensemble: per-step probabilities averaged)
                         [--length-penalty A: stored as the model's default for predict and eval]
  synth                  write a synthetic shapes dataset (Karpathy JSON + images): --out <dir> [--count 1000]

datasets (--data): a Flickr8k/30k folder (token + split files), or --karpathy <dataset_*.json> --images <dir>,
or --coco <captions.json> --images <dir>.
common: --backend auto|native|wasm|cpu, --verbose`;

const options = {
  data: { type: 'string' },
  karpathy: { type: 'string' },
  coco: { type: 'string' },
  images: { type: 'string' },
  features: { type: 'string' },
  grid: { type: 'boolean' },
  model: { type: 'string' },
  layer: { type: 'string' },
  'pooled-layers': { type: 'string' },
  pool: { type: 'string' },
  'grid-pool': { type: 'string' },
  size: { type: 'string' },
  batch: { type: 'string' },
  out: { type: 'string' },
  decoder: { type: 'string' },
  objective: { type: 'string' },
  init: { type: 'string' },
  samples: { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  'lr-decay': { type: 'string' },
  'lr-decay-every': { type: 'string' },
  hidden: { type: 'string' },
  embed: { type: 'string' },
  attention: { type: 'string' },
  dropout: { type: 'string' },
  'min-count': { type: 'string' },
  'max-length': { type: 'string' },
  patience: { type: 'string' },
  'val-limit': { type: 'string' },
  metric: { type: 'string' },
  seed: { type: 'string' },
  split: { type: 'string' },
  beam: { type: 'string' },
  'length-penalty': { type: 'string' },
  'block-trigrams': { type: 'boolean' },
  'attention-maps': { type: 'string' },
  json: { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  count: { type: 'string' },
  backend: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function num(flags: Flags, name: keyof Flags, fallback: number, integer = false): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new ConvlabError(`--${String(name)} must be a${integer ? 'n integer' : ' number'}, got "${String(raw)}"`, { hint: `e.g. --${String(name)} ${fallback}` });
  }
  return v;
}

function need(flags: Flags, name: keyof Flags, what: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v === '') throw new ConvlabError(`missing --${String(name)} (${what})`, { hint: 'run convlab-caption --help' });
  return v;
}

function loadDataset(flags: Flags): CaptionDataset {
  let ds: CaptionDataset;
  if (flags.karpathy) ds = loadKarpathyJson(flags.karpathy, need(flags, 'images', 'the image folder'));
  else if (flags.coco) ds = loadCocoCaptions(flags.coco, need(flags, 'images', 'the image folder'), (flags.split as Split) ?? 'train');
  else ds = loadFlickr({ root: need(flags, 'data', 'dataset folder with the Flickr token and split files'), imageDir: flags.images });
  process.stderr.write(describeDataset(ds) + '\n');
  return ds;
}

async function cmdExtract(flags: Flags, signal: AbortSignal): Promise<void> {
  const engine = await initEngine({ backend: flags.backend });
  const ds = loadDataset(flags);
  const out = need(flags, 'features', 'feature cache folder to write');
  const size = num(flags, 'size', DEFAULT_ENCODER.inputSize[0], true);
  // 'random-conv' is the fixed seeded encoder for synthetic scenes (tests, quick demos).
  const spec: EncoderSpec =
    flags.model === 'random-conv'
      ? { type: 'random-conv', layer: 'conv2', inputSize: [size, size], pool: 'flatten', seed: num(flags, 'seed', 7, true), preprocessing: `RGB squashed to ${size}x${size}, scaled to [-1, 1]` }
      : { ...DEFAULT_ENCODER, model: flags.model ?? DEFAULT_ENCODER.model, layer: flags.layer ?? DEFAULT_ENCODER.layer, inputSize: [size, size] };
  if (flags.pool && spec.type === 'convnet') {
    if (flags.pool !== 'mean' && flags.pool !== 'mean+max') throw new ConvlabError(`unknown --pool ${flags.pool}`, { hint: 'use mean or mean+max' });
    spec.pool = flags.pool;
  }
  if (flags['grid-pool'] && spec.type === 'convnet') spec.gridPool = num(flags, 'grid-pool', 1, true);
  if (flags['pooled-layers'] && spec.type === 'convnet') spec.pooledLayers = flags['pooled-layers'].split(',').map((l) => l.trim()).filter(Boolean);
  if (spec.type === 'convnet' && (spec.model !== 'mobilenet_v2' || size !== 224)) spec.preprocessing = `RGB squashed to ${size}x${size}, the model's own preprocessing`;
  const extractor = await createExtractor(spec);
  const progress = createProgress({ total: ds.items.length, label: 'extract', unit: 'img' });
  const r = await extractToCache(
    out,
    extractor,
    ds.items.map((i) => i.image),
    ds.items.map((i) => i.path),
    { withGrid: flags.grid ?? false, batchSize: num(flags, 'batch', 8, true), signal, onProgress: (d) => progress.update(d) },
  );
  progress.stop();
  process.stderr.write(`${r.done}/${ds.items.length} images, ${r.imagesPerSecond.toFixed(2)} images/s this run (${engine.backend})\n`);
}

async function cmdTrain(flags: Flags, signal: AbortSignal): Promise<void> {
  const engine = await initEngine({ backend: flags.backend });
  const ds = loadDataset(flags);
  const kind = (flags.decoder ?? 'show-tell') as DecoderKind;
  if (kind !== 'show-tell' && kind !== 'show-attend-tell') throw new ConvlabError(`unknown --decoder ${kind}`, { hint: 'use show-tell or show-attend-tell' });
  const cache = loadFeatureCache(need(flags, 'features', 'feature cache from `extract`'), { grid: kind === 'show-attend-tell' });
  const table = featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled');
  const out = need(flags, 'out', 'run folder for checkpoints and logs');
  mkdirSync(out, { recursive: true });
  const maxLength = num(flags, 'max-length', 16, true);
  const objective = (flags.objective ?? 'xe') as 'xe' | 'scst';
  if (objective !== 'xe' && objective !== 'scst') throw new ConvlabError(`unknown --objective ${objective}`, { hint: 'use xe (cross-entropy) or scst (self-critical, CIDEr-D)' });
  // Fine-tuning (--init) and resumed runs keep their vocabulary; --init also brings the decoder's weights.
  const init = flags.init ? loadCaptionModel(flags.init) : undefined;
  if (init && JSON.stringify(init.config.encoder) !== JSON.stringify(cache.spec)) {
    throw new ConvlabError(`--init ${flags.init} was trained on other features (${encoderId(init.config.encoder)}) than --features (${encoderId(cache.spec)})`, { hint: 'pass the feature cache the model was trained on' });
  }
  if (objective === 'scst' && !init && !existsSync(join(out, 'last', 'train-state.json'))) {
    throw new ConvlabError('--objective scst needs a trained decoder to start from', { hint: 'pass --init <run>/best from a cross-entropy run' });
  }
  const lastVocab = join(out, 'last', 'vocab.json');
  const vocab = existsSync(lastVocab) ? Vocabulary.fromJSON(JSON.parse(readFileSync(lastVocab, 'utf8')), lastVocab) : init?.vocab;
  const data = prepareTrainData(ds, cache, table, { minCount: num(flags, 'min-count', 5, true), maxLength, vocab });
  const hidden = num(flags, 'hidden', 256, true);
  const decoder =
    init?.decoder ??
    createDecoder(
      {
        kind,
        vocabSize: data.vocab.size,
        featureDim: table.shape[table.shape.length - 1],
        gridSize: kind === 'show-attend-tell' ? table.shape[0] : undefined,
        embedDim: num(flags, 'embed', 256, true),
        hiddenDim: hidden,
        attentionDim: num(flags, 'attention', hidden, true),
        dropout: num(flags, 'dropout', 0.3),
        alphaReg: 1,
        normalizeFeatures: true,
      },
      num(flags, 'seed', 1, true),
    );
  if (decoder.config.kind !== kind) throw new ConvlabError(`--init ${flags.init} is a ${decoder.config.kind} decoder, not ${kind}`, { hint: `pass --decoder ${decoder.config.kind}` });
  const params = {
    decoder: decoder.config,
    encoder: cache.spec,
    epochs: num(flags, 'epochs', 10, true),
    batchSize: num(flags, 'batch', objective === 'scst' ? 32 : 64, true),
    learningRate: num(flags, 'lr', objective === 'scst' ? 5e-5 : 2e-3),
    lrDecay: num(flags, 'lr-decay', objective === 'scst' ? 1 : 0.8),
    lrDecayEvery: num(flags, 'lr-decay-every', 1, true),
    patience: num(flags, 'patience', 3, true),
    valLimit: num(flags, 'val-limit', 500, true),
    metric: (flags.metric ?? 'CIDEr-D') as 'CIDEr-D' | 'BLEU-4',
    maxLength,
    seed: num(flags, 'seed', 1, true),
    objective,
    scstSamples: num(flags, 'samples', 5, true),
    init: flags.init,
    pretrained: init !== undefined,
    trainCaptions: data.train.reduce((a, t) => a + t.captions.length, 0),
  };
  const record = createRunRecord({ tool: 'caption-train', parameters: params, seed: params.seed, backend: engine, model: cache.spec });
  process.stderr.write(`vocabulary ${data.vocab.size} words; ${params.trainCaptions} training captions; decoder ${kind} with ${decoder.params.count()} parameters\n`);
  let progress: ReturnType<typeof createProgress> | undefined;
  const result = await trainDecoder(decoder, data, {
    ...params,
    outDir: out,
    encoder: cache.spec,
    signal,
    onBatch: ({ epoch, batch, batches, loss }) => {
      if (batch === 1) progress = createProgress({ total: batches, label: `epoch ${epoch}`, unit: 'batch' });
      progress?.update(batch, objective === 'scst' ? { reward: loss.toFixed(3) } : { loss: loss.toFixed(3) });
      if (batch === batches) progress?.stop();
    },
    onEpoch: (e) => {
      progress?.stop();
      record.log(e.epoch, { loss: e.loss, seconds: e.seconds, learningRate: e.learningRate, ...(e.val ? { 'BLEU-4': e.val['BLEU-4'], 'CIDEr-D': e.val['CIDEr-D'] } : {}) });
      process.stderr.write(
        `epoch ${e.epoch}: ${objective === 'scst' ? 'mean sample CIDEr-D' : 'loss'} ${e.loss.toFixed(3)}, ${e.seconds.toFixed(0)} s` + (e.val ? `, val BLEU-4 ${e.val['BLEU-4'].toFixed(4)} CIDEr-D ${e.val['CIDEr-D'].toFixed(4)} distinct ${e.val.distinct}/${e.val.count}` : '') + (e.best ? ' (best)' : '') + '\n',
      );
    },
  });
  await writeTrainingPlot(out, result.history);
  record.set('result', { bestEpoch: result.bestEpoch, best: result.best, stoppedEarly: result.stoppedEarly });
  record.finish();
  await record.save(join(out, 'run-record.json'));
  process.stderr.write(`best epoch ${result.bestEpoch}; model in ${join(out, 'best')}\n`);
}

async function writeTrainingPlot(out: string, history: { epoch: number; loss: number; val?: { 'BLEU-4': number; 'CIDEr-D': number } }[]): Promise<void> {
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

async function cmdEval(flags: Flags, signal: AbortSignal): Promise<void> {
  const engine = await initEngine({ backend: flags.backend });
  const ds = loadDataset(flags);
  const model = loadCaptionModel(resolveModelDir(flags.model));
  const kind = model.config.decoder.kind;
  const cache = loadFeatureCache(need(flags, 'features', 'feature cache from `extract`'), { grid: kind === 'show-attend-tell' });
  if (JSON.stringify({ ...cache.spec, preprocessing: undefined }) !== JSON.stringify({ ...model.config.encoder, preprocessing: undefined })) {
    throw new ConvlabError('the feature cache was made with a different encoder than the model was trained on', { hint: `model encoder: ${JSON.stringify(model.config.encoder)}` });
  }
  const split = (flags.split ?? 'test') as Split;
  const beam = num(flags, 'beam', 3, true);
  const progress = createProgress({ total: ds.items.filter((i) => i.split === split).length, label: `eval ${split}`, unit: 'img' });
  const t0 = performance.now();
  const lengthPenalty = num(flags, 'length-penalty', model.config.decoding?.lengthPenalty ?? 0);
  const result = evaluateSplit(model.decoder, model.vocab, ds, cache, featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled'), split, {
    beamSize: beam,
    maxLength: num(flags, 'max-length', 20, true),
    lengthPenalty,
    blockRepeatedTrigrams: flags['block-trigrams'],
    signal,
    onProgress: (d) => progress.update(d),
  });
  progress.stop();
  const msPerCaption = (performance.now() - t0) / result.captions.length;
  console.log(`${ds.name} ${split}, ${kind}, beam ${beam}, length penalty ${lengthPenalty}, ${result.captions.length} images`);
  console.log(formatScores(result.scores));
  if (flags.out) {
    await writeJsonAtomic(flags.out, { dataset: ds.name, split, beam, lengthPenalty, model: model.dir, backend: engine.backend, msPerCaption, scores: result.scores, captions: result.captions });
    process.stderr.write(`wrote ${flags.out}\n`);
  }
}

async function cmdPredict(flags: Flags, positionals: string[]): Promise<void> {
  if (!positionals.length) throw new ConvlabError('no images given', { hint: 'convlab-caption predict photo.jpg [more.jpg ...]' });
  const engine = await initEngine({ backend: flags.backend, log: !flags.json });
  const mapsDir = flags['attention-maps'];
  const results = await captionImages({
    images: positionals,
    model: flags.model,
    beam: num(flags, 'beam', 3, true),
    maxLength: num(flags, 'max-length', 20, true),
    lengthPenalty: flags['length-penalty'] === undefined ? undefined : num(flags, 'length-penalty', 0),
    blockRepeatedTrigrams: flags['block-trigrams'],
    attentionMaps: !!mapsDir,
    strips: !!mapsDir,
  });
  if (mapsDir) {
    mkdirSync(mapsDir, { recursive: true });
    if (!results.some((r) => r.strip)) process.stderr.write('note: this model has no attention (Show and Tell); no attention maps written\n');
    for (const r of results) {
      if (!r.strip) continue;
      const file = join(mapsDir, `${basename(r.path, extname(r.path))}-attention.png`);
      await saveImage(r.strip, file);
      process.stderr.write(`wrote ${file}\n`);
    }
    await writeJsonAtomic(join(mapsDir, 'run-record.json'), {
      tool: 'caption-predict',
      backend: engine.backend,
      // The shipped model's name, or the folder as given (no absolute paths of this machine in the record).
      model: flags.model ?? DEFAULT_MODEL,
      modelDir: relative(process.cwd(), resolveModelDir(flags.model)) || '.',
      results: results.map((r) => ({ path: r.path, caption: r.caption, logprob: r.logprob })),
    });
  }
  if (flags.json) console.log(JSON.stringify(results.map((r) => ({ path: r.path, caption: r.caption, logprob: r.logprob })), null, 2));
  else for (const r of results) console.log(`${r.path}\t${r.caption}`);
}

async function cmdExport(flags: Flags): Promise<void> {
  const from = need(flags, 'from', 'trained model folder, e.g. runs/x/best (several, comma-separated, for an ensemble)');
  const to = need(flags, 'to', 'destination folder');
  await initEngine({ backend: flags.backend ?? 'cpu', log: false });
  const dirs = from.split(',').filter(Boolean);
  const models = dirs.map((d) => loadCaptionModel(d));
  // --length-penalty records the value chosen on dev as the model's decoding default.
  const decoding = flags['length-penalty'] === undefined ? models[0].config.decoding : { lengthPenalty: num(flags, 'length-penalty', 0) };
  if (models.length > 1) {
    await saveCaptionEnsemble(resolve(to), models, { dtype: 'float16', decoding });
    process.stderr.write(`wrote ${to}: ensemble of ${models.length} (float16)\n`);
    return;
  }
  const [m] = models;
  await saveCaptionModel(resolve(to), { decoder: m.decoder, vocab: m.vocab, encoder: m.config.encoder, maxLength: m.config.maxLength, training: m.config.training, decoding }, { dtype: 'float16' });
  process.stderr.write(`wrote ${to} (float16)\n`);
}

async function cmdSynth(flags: Flags): Promise<void> {
  const out = need(flags, 'out', 'output folder');
  const count = num(flags, 'count', 1000, true);
  const scenes = generateScenes(count, { seed: num(flags, 'seed', 1, true), size: num(flags, 'size', 64, true) });
  mkdirSync(join(out, 'images'), { recursive: true });
  const images = [];
  for (let i = 0; i < scenes.length; i++) {
    const filename = `scene_${String(i).padStart(5, '0')}.png`;
    await saveImage(scenes[i].image, join(out, 'images', filename));
    const split = i < count * 0.8 ? 'train' : i < count * 0.9 ? 'val' : 'test';
    images.push({ filename, split, sentences: scenes[i].captions.map((raw) => ({ raw, tokens: raw.split(' ') })) });
  }
  await writeJsonAtomic(join(out, 'dataset_synthetic.json'), { dataset: 'synthetic-shapes', images });
  process.stderr.write(`wrote ${count} scenes to ${out} (use --karpathy ${join(out, 'dataset_synthetic.json')} --images ${join(out, 'images')})\n`);
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'run convlab-caption --help' });
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'extract':
      return cmdExtract(flags, signal);
    case 'train':
      return cmdTrain(flags, signal);
    case 'eval':
      return cmdEval(flags, signal);
    case 'predict':
      return cmdPredict(flags, positionals);
    case 'export':
      return cmdExport(flags);
    case 'synth':
      return cmdSynth(flags);
    default:
      throw new ConvlabError(`unknown command "${command}"`, { hint: 'commands: predict, extract, train, eval, export, synth' });
  }
}

if (process.argv[1] && /(cli\.(ts|js)|convlab-caption(\.js)?)$/.test(process.argv[1])) await runCli(main);
