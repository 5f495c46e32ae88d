/**
 * convlab-caption: extract | train | eval | predict | synth | export. Flags are parsed and checked here; the
 * work is done by the library (features.ts, train.ts, pipeline.ts, predict.ts).
 *
 * Every command runs in the same order: (1) every flag is checked (only the command's own flags, numbers
 * in their ranges, words among their choices) before anything is read; (2) the input paths must exist;
 * (3) output paths are checked and probed (prepareOutputDir / prepareOutputFile: no pseudo file systems,
 * never an input); (4) small inputs are read (dataset annotations, the feature cache's index, model
 * configs) and memory is estimated; only then (5) the engine starts and the heavy work begins.
 */
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve, relative, basename, extname, sep } from 'node:path';
import {
  BatchFailures,
  ConvlabError,
  choiceFlag,
  createProgress,
  createRunRecord,
  initEngine,
  linePlot,
  listImageFiles,
  numberFlag,
  prepareOutputDir,
  prepareOutputFile,
  runCli,
  saveImage,
  writeJsonAtomic,
  type NumberRange,
} from '@convlab/core';
import { describeDataset, loadCocoCaptions, loadFlickr, loadKarpathyJson, type CaptionDataset, type Split } from './data/index.js';
import { createExtractor, DEFAULT_ENCODER, encoderId, extractToCache, loadFeatureCache, readCacheIndex, type EncoderSpec } from './features.js';
import { createDecoder, type DecoderConfig, type DecoderKind } from './decoders/index.js';
import { trainDecoder, type EpochLog } from './train.js';
import { evaluateSplit, featureTable, prepareTrainData, trainingVocabulary } from './pipeline.js';
import { formatScores } from './eval.js';
import { isCaptionModelDir, loadCaptionModel, readCaptionModelFiles, saveCaptionEnsemble, saveCaptionModel } from './model-io.js';
import { captionImages, DEFAULT_MODEL, resolveModelDir, SHIPPED_MODELS } from './predict.js';
import { writeSyntheticDataset } from './synthetic.js';
import { checkTrainingMemory, describeTrainingMemory, estimateTrainingMemory } from './memory.js';

const USAGE = `usage: convlab-caption <command> [options]

commands:
  predict <image|folder...>  caption images with a shipped model (--model ${Object.keys(SHIPPED_MODELS).join('|')}, default
                         ${DEFAULT_MODEL}) or a trained one (--model <dir>); folders are read for their images
                         (links followed); an unreadable image is reported and skipped (exit code 3)
                         [--beam 3 (1-50)] [--attention-maps <out dir>] [--json] [--max-length 20 (1-100)]
                         [--length-penalty A (0-5)] [--block-trigrams]
  extract                encode a dataset's images once into a feature cache (resumable; unreadable images are
                         reported, recorded in the cache and left out of training; exit code 3)
                         --data <dataset> --features <cache dir> [--grid]
                         [--model mobilenet_v2|inception_v3|vgg16|vgg19|random-conv] [--layer out_relu]
                         [--pooled-layers mixed6,mixed7 (concatenated)] [--pool mean|mean+max]
                         [--size 224 (the model's minimum-2048)] [--batch 8 (1-256)]
                         [--grid-pool 2 (average-pool the stored grid, e.g. 17x17 -> 9x9)] [--seed 7 (random-conv)]
  train                  train a decoder on cached features
                         --data <dataset> --features <cache dir> --out <run dir>
                         [--decoder show-tell|show-attend-tell] [--epochs 10] [--batch 64] [--lr 2e-3 (> 0)]
                         [--lr-decay 0.8 (0-1]] [--lr-decay-every 1] [--hidden 256] [--embed 256]
                         [--attention 256 (show-attend-tell)] [--dropout 0.3 (0-0.95)] [--min-count 5]
                         [--max-length 16 (1-100)] [--patience 3 (0: never stop early)] [--val-limit 500]
                         [--metric CIDEr-D|BLEU-4] [--seed 1]
                         self-critical fine-tuning on CIDEr-D: --objective scst --init <run>/best [--samples 5 (2-64)]
                         [--lr 5e-5] [--batch 32 (images)]
                         Ctrl-C / SIGTERM: finished epochs stay checkpointed in <run>/last and <run>/best;
                         the same command resumes
  eval                   score a model on a split: --model <name|dir> --data <dataset> --features <cache dir>
                         [--split test|val|train|restval] [--beam 3] [--max-length 20] [--length-penalty A]
                         [--block-trigrams] [--out results.json]
  export                 copy a trained model as float16: --from <run>/best --to <dir>
                         (--from a/best,b/best writes an ensemble: per-step probabilities averaged)
                         [--length-penalty A: stored as the model's default for predict and eval]
  synth                  write a synthetic shapes dataset (Karpathy JSON + images): --out <dir> [--count 1000]
                         [--size 64 (16-1024)] [--seed 1] [--format png|jpg]

datasets (--data): a Flickr8k/30k folder (token + split files), or --karpathy <dataset_*.json> --images <dir>,
or --coco <captions.json> --images <dir> [--split train].
common: --backend auto|tensorflow|native|wasm|cpu, --verbose
exit codes: 0 done, 1 refused (the error line says which flag or path), 3 some images skipped (listed),
130 / 143 stopped by Ctrl-C / SIGTERM after saving finished results`;

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
  format: { type: 'string' },
  backend: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];
type FlagName = keyof typeof options;
type Command = 'predict' | 'extract' | 'train' | 'eval' | 'export' | 'synth';

const COMMON: FlagName[] = ['backend', 'verbose', 'help'];
const DATASET: FlagName[] = ['data', 'karpathy', 'coco', 'images', 'split'];
const DECODING: FlagName[] = ['beam', 'max-length', 'length-penalty', 'block-trigrams'];
/** The flags each command takes; any other is refused rather than silently ignored. */
const FLAGS: Record<Command, FlagName[]> = {
  predict: ['model', ...DECODING, 'attention-maps', 'json'],
  extract: [...DATASET, 'features', 'grid', 'model', 'layer', 'pooled-layers', 'pool', 'grid-pool', 'size', 'batch', 'seed'],
  train: [
    ...DATASET,
    'features',
    'out',
    'decoder',
    'objective',
    'init',
    'samples',
    'epochs',
    'batch',
    'lr',
    'lr-decay',
    'lr-decay-every',
    'hidden',
    'embed',
    'attention',
    'dropout',
    'min-count',
    'max-length',
    'patience',
    'val-limit',
    'metric',
    'seed',
  ],
  eval: [...DATASET, 'model', 'features', ...DECODING, 'out'],
  export: ['from', 'to', 'length-penalty'],
  synth: ['out', 'count', 'seed', 'size', 'format'],
};

const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
const DECODERS = ['show-tell', 'show-attend-tell'] as const;
const SPLITS = ['train', 'val', 'test', 'restval'] as const;
/** Encoders `extract` can use, with the smallest input side each accepts. */
const ENCODER_MIN_SIZE = { mobilenet_v2: 32, inception_v3: 75, vgg16: 32, vgg19: 32, 'random-conv': 16 } as const;
type EncoderName = keyof typeof ENCODER_MIN_SIZE;

/** Ranges shared by several commands. */
const R = {
  beam: { integer: true, min: 1, max: 50 },
  maxLength: { integer: true, min: 1, max: 100 },
  lengthPenalty: { min: 0, max: 5 },
  seed: { integer: true, min: 0, max: 2 ** 31 - 1 },
  units: { integer: true, min: 1, max: 4096 },
} satisfies Record<string, NumberRange>;

function num(flags: Flags, name: FlagName, fallback: number, range: NumberRange): number {
  return numberFlag(flags[name] as string | undefined, `--${name}`, fallback, range);
}

function need(flags: Flags, name: FlagName, what: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new ConvlabError(`missing --${name} (${what})`, { hint: 'run convlab-caption --help' });
  return v;
}

/** Refuse flags that belong to other commands (they would be silently ignored) and stray arguments. */
function checkFlags(command: Command, flags: Flags, positionals: string[]): void {
  const allowed = new Set<string>([...COMMON, ...FLAGS[command]]);
  for (const name of Object.keys(flags)) {
    if (!allowed.has(name)) {
      const users = (Object.keys(FLAGS) as Command[]).filter((c) => FLAGS[c].includes(name as FlagName));
      throw new ConvlabError(`--${name} is not an option of ${command}${users.length ? ` (it belongs to ${users.join(', ')})` : ''}`, { hint: 'run convlab-caption --help' });
    }
  }
  if (command !== 'predict' && positionals.length) {
    throw new ConvlabError(`unexpected argument "${positionals[0]}" for ${command}`, { hint: 'every input of this command is a flag: run convlab-caption --help' });
  }
}

// ---------------------------------------------------------------------------------------------- paths

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function samePath(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}

/** Whether `child` is `parent` or inside it (after resolving links of the existing parts). */
function within(child: string, parent: string): boolean {
  const c = realOrResolved(child);
  const p = realOrResolved(parent);
  return c === p || c.startsWith(p.endsWith(sep) ? p : p + sep);
}

interface Input {
  flag: string;
  path: string;
  kind: 'file' | 'dir';
}

/** Inputs must exist (and be a file or a folder as expected) before anything is created or read. */
function checkInputs(inputs: Input[]): void {
  for (const i of inputs) {
    if (!existsSync(i.path)) throw new ConvlabError(`${i.flag} ${i.path} not found`, { hint: `check the path given to ${i.flag}` });
    const isDir = statSync(i.path).isDirectory();
    if (i.kind === 'dir' && !isDir) throw new ConvlabError(`${i.flag} ${i.path} is not a folder`, { hint: `give ${i.flag} a folder` });
    if (i.kind === 'file' && isDir) throw new ConvlabError(`${i.flag} ${i.path} is a folder, not a file`, { hint: `give ${i.flag} a file` });
  }
}

/** An output folder must not be one of the inputs (or hold one that would be replaced). */
function refuseOverInputs(out: string, flag: string, inputs: Input[]): void {
  for (const i of inputs) {
    if (samePath(out, i.path)) {
      throw new ConvlabError(`${flag} ${out} is the ${i.flag} input: convlab never writes over an input`, { hint: `choose another ${flag}` });
    }
  }
}

// -------------------------------------------------------------------------------------------- datasets

interface DatasetArgs {
  kind: 'flickr' | 'karpathy' | 'coco';
  inputs: Input[];
  load: () => CaptionDataset;
}

/** Which dataset the flags name (no file is touched yet). `splitFlag`: --split is the split of --coco's images. */
function datasetArgs(flags: Flags, command: Command): DatasetArgs {
  const given = (['data', 'karpathy', 'coco'] as const).filter((f) => flags[f] !== undefined);
  if (given.length > 1) throw new ConvlabError(`--${given[0]} and --${given[1]} both name a dataset`, { hint: 'give one of --data, --karpathy, --coco' });
  const split = flags.split === undefined ? undefined : choiceFlag(flags.split, '--split', SPLITS, 'test');
  if (split && command !== 'eval' && !flags.coco) throw new ConvlabError(`--split applies to --coco datasets (the split their images belong to) for ${command}`, { hint: 'the Flickr and Karpathy files list their own splits' });
  if (flags.karpathy) {
    const file = need(flags, 'karpathy', 'Karpathy dataset_*.json');
    const images = need(flags, 'images', 'the image folder of --karpathy');
    return {
      kind: 'karpathy',
      inputs: [
        { flag: '--karpathy', path: file, kind: 'file' },
        { flag: '--images', path: images, kind: 'dir' },
      ],
      load: () => loadKarpathyJson(file, images),
    };
  }
  if (flags.coco) {
    const file = need(flags, 'coco', 'COCO captions_*.json');
    const images = need(flags, 'images', 'the image folder of --coco');
    return {
      kind: 'coco',
      inputs: [
        { flag: '--coco', path: file, kind: 'file' },
        { flag: '--images', path: images, kind: 'dir' },
      ],
      load: () => loadCocoCaptions(file, images, split ?? 'train'),
    };
  }
  const root = need(flags, 'data', 'dataset folder with the Flickr token and split files, or --karpathy/--coco');
  return {
    kind: 'flickr',
    inputs: [{ flag: '--data', path: root, kind: 'dir' }, ...(flags.images ? [{ flag: '--images', path: flags.images, kind: 'dir' as const }] : [])],
    load: () => loadFlickr({ root, imageDir: flags.images }),
  };
}

function loadDataset(args: DatasetArgs): CaptionDataset {
  const ds = args.load();
  process.stderr.write(describeDataset(ds) + '\n');
  return ds;
}

/** A shipped model name or a model folder; anything else is refused with the choices. */
function modelArg(flags: Flags): { name: string; dir: string; input: Input } {
  const name = flags.model ?? DEFAULT_MODEL;
  const dir = resolveModelDir(name);
  if (!(name in SHIPPED_MODELS) && !existsSync(dir)) {
    throw new ConvlabError(`--model ${name} is neither a shipped model nor a model folder`, { hint: `use one of: ${Object.keys(SHIPPED_MODELS).join(', ')}, or a folder written by train/export` });
  }
  return { name, dir, input: { flag: '--model', path: dir, kind: 'dir' } };
}

// ---------------------------------------------------------------------------------------------- extract

async function cmdExtract(flags: Flags, signal: AbortSignal, backend?: string): Promise<void> {
  // 1. flags
  const model = choiceFlag(flags.model, '--model', Object.keys(ENCODER_MIN_SIZE) as EncoderName[], DEFAULT_ENCODER.model as EncoderName);
  const random = model === 'random-conv';
  for (const f of ['layer', 'pool', 'pooled-layers', 'grid-pool'] as const) {
    if (random && flags[f] !== undefined) throw new ConvlabError(`--${f} does not apply to --model random-conv`, { hint: `leave out --${f}, or use a convnet encoder (${Object.keys(ENCODER_MIN_SIZE).filter((m) => m !== 'random-conv').join(', ')})` });
  }
  if (!random && flags.seed !== undefined) throw new ConvlabError(`--seed applies to --model random-conv only (the convnet encoders have trained weights)`, { hint: 'leave out --seed' });
  const size = num(flags, 'size', DEFAULT_ENCODER.inputSize[0], { integer: true, min: ENCODER_MIN_SIZE[model], max: 2048 });
  const batch = num(flags, 'batch', 8, { integer: true, min: 1, max: 256 });
  const gridPool = num(flags, 'grid-pool', 1, { integer: true, min: 1, max: 64, example: 2 });
  const pool = choiceFlag(flags.pool, '--pool', ['mean', 'mean+max'] as const, 'mean');
  const seed = num(flags, 'seed', 7, R.seed);
  const pooledLayers = flags['pooled-layers']?.split(',').map((l) => l.trim());
  if (pooledLayers && (pooledLayers.length === 0 || pooledLayers.some((l) => !l))) throw new ConvlabError(`--pooled-layers "${flags['pooled-layers']}" has an empty layer name`, { hint: 'e.g. --pooled-layers mixed6,mixed7' });
  if (flags.layer !== undefined && !flags.layer.trim()) throw new ConvlabError('--layer is empty', { hint: `e.g. --layer ${DEFAULT_ENCODER.layer}` });
  const dataset = datasetArgs(flags, 'extract');
  const featuresDir = need(flags, 'features', 'feature cache folder to write');
  // 'random-conv' is the fixed seeded encoder for synthetic scenes (tests, quick demos).
  const spec: EncoderSpec = random
    ? { type: 'random-conv', layer: 'conv2', inputSize: [size, size], pool: 'flatten', seed, preprocessing: `RGB squashed to ${size}x${size}, scaled to [-1, 1]` }
    : { ...DEFAULT_ENCODER, model, layer: flags.layer ?? DEFAULT_ENCODER.layer, inputSize: [size, size] };
  if (spec.type === 'convnet') {
    if (flags.pool) spec.pool = pool;
    if (flags['grid-pool']) spec.gridPool = gridPool;
    if (pooledLayers) spec.pooledLayers = pooledLayers;
    if (spec.model !== 'mobilenet_v2' || size !== 224) spec.preprocessing = `RGB squashed to ${size}x${size}, the model's own preprocessing`;
  }
  // 2. inputs, 3. output
  checkInputs(dataset.inputs);
  refuseOverInputs(featuresDir, '--features', dataset.inputs);
  const out = await prepareOutputDir(featuresDir, { flag: '--features', inputs: dataset.inputs.map((i) => i.path) });
  // 4. annotations, and the cache already there (resumed, or refused if it was made otherwise: never silently lost)
  const ds = loadDataset(dataset);
  if (!ds.items.length) throw new ConvlabError(`the dataset has no images to extract`, { hint: 'check --images and the annotation files' });
  if (existsSync(join(out, 'index.json'))) {
    const old = readCacheIndex(out);
    const withGrid = flags.grid ?? false;
    const why =
      JSON.stringify(old.spec) !== JSON.stringify(spec)
        ? `encoder ${encoderId(old.spec)}, not ${encoderId(spec)}`
        : old.withGrid !== withGrid
          ? old.withGrid
            ? 'with the grid (--grid)'
            : 'without the grid'
          : old.images.length !== ds.items.length || old.images.some((x, i) => x !== ds.items[i].image)
            ? `another image list (${old.images.length} images, this dataset has ${ds.items.length})`
            : undefined;
    if (why) throw new ConvlabError(`--features ${featuresDir} holds a feature cache made otherwise (${why})`, { hint: 'give --features a new folder, or delete that one to replace it' });
  }
  // 5. work
  const engine = await initEngine({ backend });
  const extractor = await createExtractor(spec);
  const failures = new BatchFailures('image');
  const progress = createProgress({ total: ds.items.length, label: 'extract', unit: 'img' });
  let r;
  try {
    r = await extractToCache(
      out,
      extractor,
      ds.items.map((i) => i.image),
      ds.items.map((i) => i.path),
      { withGrid: flags.grid ?? false, batchSize: batch, signal, onProgress: (d) => progress.update(d), onFailure: (_image, path, err) => failures.add(path, err) },
    );
  } finally {
    progress.stop();
    extractor.dispose();
  }
  if (r.recovered.length) process.stderr.write(`${r.recovered.length} image(s) that failed before were read this time\n`);
  process.stderr.write(`${r.done}/${ds.items.length} images in ${featuresDir} (${encoderId(spec)}), ${r.imagesPerSecond > 0 ? `${r.imagesPerSecond.toFixed(2)} images/s this run` : 'nothing left to extract'} (${engine.backend})\n`);
  if (signal.aborted && r.done < ds.items.length) {
    process.stderr.write(`interrupted: the ${r.done} finished images are kept; run the same command to resume\n`);
  }
  if (r.failed.length) {
    process.stderr.write(`the cache records ${r.failed.length} unreadable image(s); train and eval leave them out, and extract tries them again when run again\n`);
  }
  failures.finish(ds.items.length);
}

// ------------------------------------------------------------------------------------------------ train

async function cmdTrain(flags: Flags, signal: AbortSignal, backend?: string): Promise<void> {
  // 1. flags
  const kindFlag = flags.decoder === undefined ? undefined : choiceFlag(flags.decoder, '--decoder', DECODERS, 'show-tell');
  const objective = choiceFlag(flags.objective, '--objective', ['xe', 'scst'] as const, 'xe');
  const scst = objective === 'scst';
  const epochs = num(flags, 'epochs', 10, { integer: true, min: 1, max: 10000 });
  const batchSize = num(flags, 'batch', scst ? 32 : 64, { integer: true, min: 1 });
  const learningRate = num(flags, 'lr', scst ? 5e-5 : 2e-3, { gt: 0, max: 1 });
  const lrDecay = num(flags, 'lr-decay', scst ? 1 : 0.8, { gt: 0, max: 1 });
  const lrDecayEvery = num(flags, 'lr-decay-every', 1, { integer: true, min: 1, max: 10000 });
  const hidden = num(flags, 'hidden', 256, R.units);
  const embed = num(flags, 'embed', 256, R.units);
  const attentionDim = num(flags, 'attention', hidden, R.units);
  const dropout = num(flags, 'dropout', 0.3, { min: 0, max: 0.95 });
  const minCount = num(flags, 'min-count', 5, { integer: true, min: 1 });
  const maxLength = num(flags, 'max-length', 16, R.maxLength);
  const patience = num(flags, 'patience', 3, { integer: true, min: 0 });
  const valLimit = num(flags, 'val-limit', 500, { integer: true, min: 1 });
  const metric = choiceFlag(flags.metric, '--metric', ['CIDEr-D', 'BLEU-4'] as const, 'CIDEr-D');
  const seed = num(flags, 'seed', 1, R.seed);
  const samples = num(flags, 'samples', 5, { integer: true, min: 2, max: 64 });
  if (!scst && flags.samples !== undefined) throw new ConvlabError('--samples applies to --objective scst only', { hint: 'add --objective scst --init <run>/best, or leave out --samples' });
  if (flags.attention !== undefined && kindFlag === 'show-tell') throw new ConvlabError('--attention applies to --decoder show-attend-tell only', { hint: 'use --decoder show-attend-tell, or leave out --attention' });
  const dataset = datasetArgs(flags, 'train');
  const featuresDir = need(flags, 'features', 'feature cache from `extract`');
  const outArg = need(flags, 'out', 'run folder for checkpoints and logs');
  // 2. inputs
  const inputs: Input[] = [...dataset.inputs, { flag: '--features', path: featuresDir, kind: 'dir' }, ...(flags.init ? [{ flag: '--init', path: flags.init, kind: 'dir' as const }] : [])];
  checkInputs(inputs);
  // 3. output: never an input, and never a folder holding --init (out/best and out/last are replaced)
  refuseOverInputs(outArg, '--out', inputs);
  for (const sub of ['best', 'last']) {
    if (flags.init && within(flags.init, join(outArg, sub))) {
      throw new ConvlabError(`--out ${outArg} would replace ${join(outArg, sub)}, which holds --init ${flags.init}`, { hint: 'give the fine-tuning run its own --out folder' });
    }
  }
  const out = await prepareOutputDir(outArg, { flag: '--out', inputs: inputs.map((i) => i.path) });
  // 4. small inputs: the cache's index, model configs, annotations; then the memory estimate
  const index = readCacheIndex(featuresDir);
  if (index.done < index.images.length) throw new ConvlabError(`feature cache ${featuresDir} is incomplete (${index.done}/${index.images.length} images)`, { hint: 'run `convlab-caption extract` again to resume it' });
  const lastDir = join(out, 'last');
  const resuming = existsSync(join(lastDir, 'train-state.json'));
  const init = flags.init ? readCaptionModelFiles(flags.init) : undefined;
  if (init?.ensemble) throw new ConvlabError(`--init ${flags.init} is an ensemble`, { hint: 'fine-tune one model: pass one member folder or a run/best' });
  const last = resuming ? readCaptionModelFiles(lastDir) : undefined;
  if (scst && !init && !resuming) throw new ConvlabError('--objective scst needs a trained decoder to start from', { hint: 'pass --init <run>/best from a cross-entropy run' });
  for (const [what, cfg] of [
    [`--init ${flags.init}`, init?.config],
    [`the run being resumed (${lastDir})`, last?.config],
  ] as const) {
    if (cfg && JSON.stringify(cfg.encoder) !== JSON.stringify(index.spec)) {
      throw new ConvlabError(`${what} was trained on other features (${encoderId(cfg.encoder)}) than --features (${encoderId(index.spec)})`, { hint: 'pass the feature cache the model was trained on' });
    }
  }
  // The decoder's shape comes from --init or the resumed run when there is one; flags that contradict it are refused.
  const saved = init?.config.decoder ?? last?.config.decoder;
  const kind: DecoderKind = saved?.kind ?? kindFlag ?? 'show-tell';
  if (flags.attention !== undefined && kind !== 'show-attend-tell') throw new ConvlabError('--attention applies to --decoder show-attend-tell only', { hint: 'add --decoder show-attend-tell, or leave out --attention' });
  if (saved) {
    const source = init ? `--init ${flags.init}` : `the run being resumed (${lastDir})`;
    const given: [FlagName, unknown, unknown][] = [
      ['decoder', kindFlag, saved.kind],
      ['hidden', flags.hidden && hidden, saved.hiddenDim],
      ['embed', flags.embed && embed, saved.embedDim],
      ['attention', flags.attention && attentionDim, saved.attentionDim ?? saved.hiddenDim],
      ['dropout', flags.dropout && dropout, saved.dropout],
    ];
    for (const [name, value, was] of given) {
      if (value !== undefined && value !== was) throw new ConvlabError(`--${name} ${String(value)} differs from ${source} (${String(was)})`, { hint: `leave out --${name} (it is taken from the saved model) or use another --out` });
    }
  }
  if (kind === 'show-attend-tell' && !index.withGrid) throw new ConvlabError(`feature cache ${featuresDir} has no spatial grid`, { hint: 'extract again with --grid for the attention decoder' });
  const ds = loadDataset(dataset);
  const vocab = last?.vocab ?? init?.vocab ?? trainingVocabulary(ds, minCount);
  const [gh, gw, gc] = index.gridShape;
  const decoderConfig: DecoderConfig = saved ?? {
    kind,
    vocabSize: vocab.size,
    featureDim: kind === 'show-attend-tell' ? gc : index.pooledDim,
    gridSize: kind === 'show-attend-tell' ? gh * gw : undefined,
    embedDim: embed,
    hiddenDim: hidden,
    attentionDim: kind === 'show-attend-tell' ? attentionDim : undefined,
    dropout,
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
    batchSize,
    samples: scst ? samples : undefined,
    maxLength,
  });
  checkTrainingMemory(memory, objective);
  process.stderr.write(`memory estimate: ${describeTrainingMemory(memory)}\n`);
  // 5. work
  const engine = await initEngine({ backend });
  const cache = loadFeatureCache(featuresDir, { grid: kind === 'show-attend-tell' });
  const table = featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled');
  const data = prepareTrainData(ds, cache, table, { minCount, maxLength, vocab });
  if (data.skipped.length) {
    process.stderr.write(`note: ${data.skipped.length} image(s) failed in extract and are left out (first: ${data.skipped[0].image}: ${data.skipped[0].reason})\n`);
  }
  const decoder = init ? loadCaptionModel(flags.init!).decoder : createDecoder(decoderConfig, seed);
  const params = {
    decoder: decoder.config,
    encoder: cache.spec,
    epochs,
    batchSize,
    learningRate,
    lrDecay,
    lrDecayEvery,
    patience,
    valLimit,
    metric,
    maxLength,
    seed,
    objective,
    scstSamples: samples,
    init: flags.init,
    pretrained: init !== undefined,
    trainCaptions: data.train.reduce((a, t) => a + t.captions.length, 0),
    skippedImages: data.skipped.length,
  };
  const record = createRunRecord({ tool: 'caption-train', parameters: params, seed, backend: engine, model: cache.spec });
  const recordPath = join(out, 'run-record.json');
  const logEpoch = (e: EpochLog) => record.log(e.epoch, { loss: e.loss, seconds: e.seconds, learningRate: e.learningRate, ...(e.val ? { 'BLEU-4': e.val['BLEU-4'], 'CIDEr-D': e.val['CIDEr-D'] } : {}) });
  if (resuming) {
    // A resumed run's record keeps the epochs trained before it.
    const before = (JSON.parse(readFileSync(join(lastDir, 'train-state.json'), 'utf8')) as { history?: EpochLog[] }).history ?? [];
    before.forEach(logEpoch);
    record.set('resumedAfterEpoch', before.length ? before[before.length - 1].epoch : 0);
  }
  process.stderr.write(`vocabulary ${data.vocab.size} words; ${params.trainCaptions} training captions; decoder ${kind} with ${decoder.params.count()} parameters\n`);
  let progress: ReturnType<typeof createProgress> | undefined;
  const result = await trainDecoder(decoder, data, {
    ...params,
    outDir: out,
    encoder: cache.spec,
    signal,
    onBatch: ({ epoch, batch, batches, loss }) => {
      if (batch === 1) progress = createProgress({ total: batches, label: `epoch ${epoch}`, unit: 'batch' });
      progress?.update(batch, scst ? { reward: loss.toFixed(3) } : { loss: loss.toFixed(3) });
      if (batch === batches) progress?.stop();
    },
    onEpoch: async (e) => {
      progress?.stop();
      logEpoch(e);
      // The record follows the checkpoints, so a run killed outright still has one for its saved epochs.
      await record.save(recordPath);
      process.stderr.write(
        `epoch ${e.epoch}: ${scst ? 'mean sample CIDEr-D' : 'loss'} ${e.loss.toFixed(3)}, ${e.seconds.toFixed(0)} s` + (e.val ? `, val BLEU-4 ${e.val['BLEU-4'].toFixed(4)} CIDEr-D ${e.val['CIDEr-D'].toFixed(4)} distinct ${e.val.distinct}/${e.val.count}` : '') + (e.best ? ' (best)' : '') + '\n',
      );
    },
  });
  progress?.stop();
  decoder.params.dispose();
  await writeTrainingPlot(out, result.history);
  record.set('result', { bestEpoch: result.bestEpoch, best: result.best, stoppedEarly: result.stoppedEarly, interrupted: result.interrupted, epochsDone: result.history.length ? result.history[result.history.length - 1].epoch : 0 });
  record.finish();
  await record.save(recordPath);
  if (result.interrupted) {
    const done = result.history.length ? result.history[result.history.length - 1].epoch : 0;
    process.stderr.write(
      done
        ? `interrupted: epochs 1-${done} are saved (last: ${join(out, 'last')}, best: epoch ${result.bestEpoch} in ${join(out, 'best')}); the unfinished epoch is not; run the same command to resume\n`
        : `interrupted before the first epoch finished: nothing to keep but ${recordPath}\n`,
    );
  } else if (result.history.length) {
    process.stderr.write(`best epoch ${result.bestEpoch}; model in ${join(out, 'best')}\n`);
  }
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

// ------------------------------------------------------------------------------------------------- eval

async function cmdEval(flags: Flags, signal: AbortSignal, backend?: string): Promise<void> {
  // 1. flags
  const split = choiceFlag(flags.split, '--split', SPLITS, 'test') as Split;
  const beam = num(flags, 'beam', 3, R.beam);
  const maxLength = num(flags, 'max-length', 20, R.maxLength);
  const lengthPenaltyFlag = flags['length-penalty'] === undefined ? undefined : num(flags, 'length-penalty', 0, R.lengthPenalty);
  const model = modelArg(flags);
  const dataset = datasetArgs(flags, 'eval');
  const featuresDir = need(flags, 'features', 'feature cache from `extract`');
  // 2. inputs
  const inputs: Input[] = [...dataset.inputs, { flag: '--features', path: featuresDir, kind: 'dir' }, model.input];
  checkInputs(inputs);
  // 3. output
  const outFile = flags.out === undefined ? undefined : await prepareOutputFile(flags.out, { flag: '--out', inputs: inputs.map((i) => i.path), extensions: ['.json'] });
  // 4. small inputs
  const saved = readCaptionModelFiles(model.dir);
  const kind = saved.config.decoder.kind;
  const index = readCacheIndex(featuresDir);
  if (JSON.stringify({ ...index.spec, preprocessing: undefined }) !== JSON.stringify({ ...saved.config.encoder, preprocessing: undefined })) {
    throw new ConvlabError('the feature cache was made with a different encoder than the model was trained on', { hint: `model encoder: ${encoderId(saved.config.encoder)}; cache: ${encoderId(index.spec)}` });
  }
  const ds = loadDataset(dataset);
  // 5. work
  const engine = await initEngine({ backend });
  const loaded = loadCaptionModel(model.dir);
  const cache = loadFeatureCache(featuresDir, { grid: kind === 'show-attend-tell' });
  const total = ds.items.filter((i) => i.split === split).length;
  const progress = createProgress({ total, label: `eval ${split}`, unit: 'img' });
  const t0 = performance.now();
  const lengthPenalty = lengthPenaltyFlag ?? loaded.config.decoding?.lengthPenalty ?? 0;
  const result = evaluateSplit(loaded.decoder, loaded.vocab, ds, cache, featureTable(cache, kind === 'show-attend-tell' ? 'grid' : 'pooled'), split, {
    beamSize: beam,
    maxLength,
    lengthPenalty,
    blockRepeatedTrigrams: flags['block-trigrams'],
    signal,
    onProgress: (d) => progress.update(d),
  });
  progress.stop();
  loaded.decoder.params.dispose();
  if (result.skipped.length) process.stderr.write(`note: ${result.skipped.length} image(s) of ${split} failed in extract and are not scored (first: ${result.skipped[0].image}: ${result.skipped[0].reason})\n`);
  const complete = result.captions.length === result.total;
  if (!result.captions.length) {
    process.stderr.write('interrupted before any image was captioned: nothing to score\n');
    return;
  }
  const msPerCaption = (performance.now() - t0) / result.captions.length;
  console.log(`${ds.name} ${split}, ${kind}, beam ${beam}, length penalty ${lengthPenalty}, ${result.captions.length} images${complete ? '' : ` of ${result.total} (interrupted)`}`);
  console.log(formatScores(result.scores));
  if (outFile) {
    await writeJsonAtomic(outFile, {
      dataset: ds.name,
      split,
      beam,
      maxLength,
      lengthPenalty,
      model: model.name,
      backend: engine.backend,
      complete,
      msPerCaption,
      scores: result.scores,
      skipped: result.skipped,
      captions: result.captions,
    });
    process.stderr.write(`wrote ${flags.out}${complete ? '' : ` (partial: ${result.captions.length} of ${result.total} images, marked "complete": false)`}\n`);
  }
  if (!complete) process.stderr.write(`interrupted: scores above cover the ${result.captions.length} images captioned\n`);
}

// ---------------------------------------------------------------------------------------------- predict

/** Positional arguments -> image files: folders are listed (links followed); every path must exist. */
async function expandImages(positionals: string[]): Promise<{ images: string[]; folders: string[] }> {
  const images: string[] = [];
  const folders: string[] = [];
  const missing = positionals.filter((p) => !existsSync(p));
  if (missing.length) {
    throw new ConvlabError(`image not found: ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`, { hint: 'check the paths; nothing was captioned' });
  }
  for (const p of positionals) {
    if (statSync(p).isDirectory()) {
      const found = await listImageFiles(p);
      if (!found.length) throw new ConvlabError(`no images in folder ${p}`, { hint: 'give image files (.jpg, .png, .webp, ...) or a folder that holds some' });
      folders.push(p);
      images.push(...found);
    } else images.push(p);
  }
  return { images, folders };
}

/** `<name>-attention.png` per image; a second image of the same name gets `-2`, and so on. */
function stripNames(images: string[]): Map<string, string> {
  const used = new Map<string, number>();
  const out = new Map<string, string>();
  for (const p of images) {
    const base = basename(p, extname(p));
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    out.set(p, `${base}${n > 1 ? `-${n}` : ''}-attention.png`);
  }
  return out;
}

async function cmdPredict(flags: Flags, positionals: string[], signal: AbortSignal, backend?: string): Promise<void> {
  // 1. flags
  const beam = num(flags, 'beam', 3, R.beam);
  const maxLength = num(flags, 'max-length', 20, R.maxLength);
  const lengthPenalty = flags['length-penalty'] === undefined ? undefined : num(flags, 'length-penalty', 0, R.lengthPenalty);
  const model = modelArg(flags);
  if (!positionals.length) throw new ConvlabError('no images given', { hint: 'convlab-caption predict photo.jpg [more.jpg | folder ...]' });
  // 2. inputs
  checkInputs([model.input]);
  const { images, folders } = await expandImages(positionals);
  // 3. output
  const mapsArg = flags['attention-maps'];
  let mapsDir: string | undefined;
  const names = stripNames(images);
  if (mapsArg !== undefined) {
    for (const f of folders) if (samePath(mapsArg, f)) throw new ConvlabError(`--attention-maps ${mapsArg} is the input folder ${f}: convlab never writes into its inputs`, { hint: 'choose another folder, e.g. --attention-maps out/' });
    mapsDir = await prepareOutputDir(mapsArg, { flag: '--attention-maps', inputs: images });
    const inputSet = new Set(images.map(realOrResolved));
    for (const [p, name] of names) {
      if (inputSet.has(realOrResolved(join(mapsDir, name)))) throw new ConvlabError(`--attention-maps ${mapsArg}: ${name} would overwrite the input ${p}`, { hint: 'choose another folder for the maps' });
    }
  }
  // 4. small inputs
  const saved = readCaptionModelFiles(model.dir);
  // 5. work
  const engine = await initEngine({ backend, log: !flags.json });
  const failures = new BatchFailures('image');
  const parameters = { beam, maxLength, lengthPenalty: lengthPenalty ?? saved.config.decoding?.lengthPenalty ?? 0, blockRepeatedTrigrams: !!flags['block-trigrams'], images: images.length };
  const record = mapsDir ? createRunRecord({ tool: 'caption-predict', parameters, backend: engine, model: model.name }) : undefined;
  let strips = 0;
  const results = await captionImages({
    images,
    model: model.name,
    beam,
    maxLength,
    lengthPenalty,
    blockRepeatedTrigrams: flags['block-trigrams'],
    attentionMaps: !!mapsDir,
    strips: !!mapsDir,
    signal,
    onFailure: (path, err) => failures.add(path, err),
    // Each caption is printed (and its strip written) as soon as it is done: an interrupted run keeps them.
    onResult: async (r) => {
      if (!flags.json) console.log(`${r.path}\t${r.caption}`);
      if (mapsDir && r.strip) {
        const file = join(mapsDir, names.get(r.path)!);
        await saveImage(r.strip, file);
        strips++;
        process.stderr.write(`wrote ${file}\n`);
      }
    },
  });
  if (mapsDir && record) {
    if (results.length && !strips) process.stderr.write('note: this model has no attention (Show and Tell); no attention maps written\n');
    record.set('modelDir', relative(process.cwd(), model.dir) || '.');
    record.set('results', results.map((r) => ({ path: r.path, caption: r.caption, logprob: r.logprob, ...(r.strip ? { strip: names.get(r.path) } : {}) })));
    record.set('failed', failures.items);
    record.set('complete', !signal.aborted);
    record.finish();
    await record.save(join(mapsDir, 'run-record.json'));
  }
  if (flags.json) console.log(JSON.stringify(results.map((r) => ({ path: r.path, caption: r.caption, logprob: r.logprob })), null, 2));
  if (signal.aborted) process.stderr.write(`interrupted: ${results.length} of ${images.length} images captioned (printed above)\n`);
  failures.finish(images.length);
}

// ----------------------------------------------------------------------------------------------- export

async function cmdExport(flags: Flags, backend?: string): Promise<void> {
  const lengthPenalty = flags['length-penalty'] === undefined ? undefined : num(flags, 'length-penalty', 0, R.lengthPenalty);
  const from = need(flags, 'from', 'trained model folder, e.g. runs/x/best (several, comma-separated, for an ensemble)');
  const to = need(flags, 'to', 'destination folder');
  const dirs = from.split(',').map((d) => d.trim());
  if (dirs.some((d) => !d)) throw new ConvlabError(`--from "${from}" has an empty folder name`, { hint: 'e.g. --from runs/a/best,runs/b/best' });
  const inputs: Input[] = dirs.map((d) => ({ flag: '--from', path: d, kind: 'dir' }));
  checkInputs(inputs);
  for (const d of dirs) {
    if (within(d, to) || within(to, d)) throw new ConvlabError(`--to ${to} would replace --from ${d}: convlab never writes over an input`, { hint: 'export to another folder' });
  }
  // The folder is replaced as a whole (atomically): refuse to replace one that is not a caption model.
  if (existsSync(to) && (!statSync(to).isDirectory() || (readdirSync(to).length > 0 && !isCaptionModelDir(to)))) {
    throw new ConvlabError(`--to ${to} exists and is not a caption model folder; export replaces its folder as a whole`, { hint: 'give --to a new folder (or an earlier export to overwrite)' });
  }
  for (const d of dirs) readCaptionModelFiles(d);
  // Pseudo file systems, writability: checked before any weights are loaded (the folder is then swapped in whole).
  await prepareOutputDir(to, { flag: '--to', inputs: dirs });
  await initEngine({ backend: backend ?? 'cpu', log: false });
  const models = dirs.map((d) => loadCaptionModel(d));
  // --length-penalty records the value chosen on dev as the model's decoding default.
  const decoding = lengthPenalty === undefined ? models[0].config.decoding : { lengthPenalty };
  try {
    if (models.length > 1) {
      await saveCaptionEnsemble(resolve(to), models, { dtype: 'float16', decoding });
      process.stderr.write(`wrote ${to}: ensemble of ${models.length} (float16)\n`);
      return;
    }
    const [m] = models;
    await saveCaptionModel(resolve(to), { decoder: m.decoder, vocab: m.vocab, encoder: m.config.encoder, maxLength: m.config.maxLength, training: m.config.training, decoding }, { dtype: 'float16' });
    process.stderr.write(`wrote ${to} (float16)\n`);
  } finally {
    for (const m of models) m.decoder.params.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ synth

async function cmdSynth(flags: Flags, signal: AbortSignal): Promise<void> {
  const count = num(flags, 'count', 1000, { integer: true, min: 1, max: 1_000_000 });
  const seed = num(flags, 'seed', 1, R.seed);
  const size = num(flags, 'size', 64, { integer: true, min: 16, max: 1024 });
  const format = choiceFlag(flags.format, '--format', ['png', 'jpg'] as const, 'png');
  const outArg = need(flags, 'out', 'output folder');
  if (existsSync(join(outArg, 'images')) && !existsSync(join(outArg, 'dataset_synthetic.json'))) {
    throw new ConvlabError(`--out ${outArg} already has an images/ folder that synth did not write`, { hint: 'give --out a new folder' });
  }
  const out = await prepareOutputDir(outArg, { flag: '--out' });
  const progress = createProgress({ total: count, label: 'synth', unit: 'img' });
  const json = await writeSyntheticDataset(out, { count, seed, size, format, signal, onProgress: (d) => progress.update(d) });
  progress.stop();
  if (!json) {
    process.stderr.write(`interrupted: no dataset written to ${outArg} (a partial one would not be a usable result)\n`);
    return;
  }
  process.stderr.write(`wrote ${count} scenes to ${outArg} (use --karpathy ${join(outArg, 'dataset_synthetic.json')} --images ${join(outArg, 'images')})\n`);
}

// ------------------------------------------------------------------------------------------------- main

/**
 * `--lr -1` reaches parseArgs as a flag followed by what looks like another option; join it as `--lr=-1` so
 * the range check answers ("--lr -1 is out of range") instead of a parser complaint.
 */
function joinNegativeNumbers(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    const spec = name !== undefined ? (options as Record<string, { type: string }>)[name] : undefined;
    if (spec?.type === 'string' && i + 1 < args.length && /^-(\d|\.\d|Infinity)/.test(args[i + 1])) {
      out.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

const COMMANDS: readonly Command[] = ['predict', 'extract', 'train', 'eval', 'export', 'synth'];

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (!COMMANDS.includes(command as Command)) {
    throw new ConvlabError(`unknown command "${command}"`, { hint: `commands: ${COMMANDS.join(', ')}` });
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeNumbers(rest), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'run convlab-caption --help' });
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const cmd = command as Command;
  checkFlags(cmd, flags, positionals);
  const backend = flags.backend === undefined ? undefined : choiceFlag(flags.backend, '--backend', BACKENDS, 'auto', true);
  switch (cmd) {
    case 'extract':
      return cmdExtract(flags, signal, backend);
    case 'train':
      return cmdTrain(flags, signal, backend);
    case 'eval':
      return cmdEval(flags, signal, backend);
    case 'predict':
      return cmdPredict(flags, positionals, signal, backend);
    case 'export':
      return cmdExport(flags, backend);
    case 'synth':
      return cmdSynth(flags, signal);
  }
}

if (process.argv[1] && /(cli\.(ts|js)|convlab-caption(\.js)?)$/.test(process.argv[1])) await runCli(main);
