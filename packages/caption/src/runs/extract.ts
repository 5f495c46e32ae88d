/**
 * `extract` as a library call: encode a dataset's images once into a feature cache (resumable). An image
 * that cannot be read is reported (hooks.onFailure), recorded in the cache and left out of training.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkNumber, ConvlabError, createRunRecord, prepareOutputDir, type z } from '@convlab/core';
import { createExtractor, DEFAULT_ENCODER, encoderId, extractToCache, readCacheIndex, sameEncoderWeights, type EncoderSpec, type ExtractResult } from '../features.js';
import { defaultEncoderLayer, ENCODER_MIN_SIZE, ENCODER_NATIVE_SIZE, ENCODERS, ExtractOptions } from '../options.js';
import { checkInputs, checkOneDataset, chooseDataset, hooksOf, loadDataset, parseGiven, refuseOverInputs, startEngine, type Hooks, type RunHooks } from './common.js';

export interface ExtractRun extends ExtractResult {
  /** Images in the dataset (the cache's rows). */
  total: number;
  features: string;
  spec: EncoderSpec;
}

/** Encoders whose default weights are ImageNet's (they have no offline weights). */
const IMAGENET_ONLY = new Set<string>(['resnet50', 'resnet101', 'resnet152', 'inception_resnet_v2']);
/** Encoders whose caches and models predate the weights option: with their default weights, their specs stay as they were. */
const FIRST_ENCODERS = new Set<string>(['mobilenet_v2', 'inception_v3', 'vgg16', 'vgg19']);

/** The `weights` of an encoder spec for the extract option: none for the default, a path made absolute. */
export function encoderWeightsChoice(weights: string | undefined): string | undefined {
  if (weights === undefined || weights === 'default') return undefined;
  if (weights === 'imagenet' || weights === 'random') return weights;
  return resolve(weights);
}

/** What a model's preprocessing (as @convlab/models' `modelTransforms` gives it) does, in words for the spec. */
export function describePreprocessing(p: { kind: string }): string {
  switch (p.kind) {
    case 'caffe':
      return "Keras 'caffe' preprocessing (RGB to BGR, minus the ImageNet mean, no scaling)";
    case 'tf':
      return "Keras 'tf' preprocessing (scaled to [-1, 1])";
    case 'torch':
      return "Keras 'torch' preprocessing (scaled to [0, 1], then the ImageNet mean and std)";
    case 'unit':
      return 'scaled to [0, 1] (x / 255, as nsfwjs trained it)';
    default:
      return `${p.kind} preprocessing`;
  }
}

/**
 * The encoder an extract call describes (also what its cache is keyed on). `transforms` is @convlab/models'
 * `modelTransforms(model, weights)`: its preprocessing is written into the spec (runExtract passes it; without
 * it the spec says "the model's own preprocessing").
 */
export function encoderSpecOf(o: ExtractOptions, transforms?: { preprocessing: { kind: string } }): EncoderSpec {
  const size = o.size ?? ENCODER_NATIVE_SIZE[o.model];
  if (o.model === 'random-conv') {
    const seed = o.seed ?? 7;
    return { type: 'random-conv', layer: 'conv2', inputSize: [size, size], pool: 'flatten', seed, preprocessing: `RGB squashed to ${size}x${size}, scaled to [-1, 1]` };
  }
  const weights = encoderWeightsChoice(o.weights);
  const spec: EncoderSpec = { ...DEFAULT_ENCODER, model: o.model, layer: o.layer ?? defaultEncoderLayer(o.model, weights), inputSize: [size, size] };
  if (weights !== undefined) spec.weights = weights;
  if (weights === 'random') spec.seed = o.seed ?? 0;
  if (o.pool) spec.pool = o.pool;
  if (o.gridPool) spec.gridPool = o.gridPool;
  if (o.pooledLayers) spec.pooledLayers = o.pooledLayers;
  if (weights === undefined && FIRST_ENCODERS.has(o.model)) {
    // The notes the first encoders' caches and the shipped models carry, kept so that they still match.
    if (spec.model !== 'mobilenet_v2' || size !== 224) spec.preprocessing = `RGB squashed to ${size}x${size}, the model's own preprocessing`;
  } else {
    spec.preprocessing = `RGB squashed to ${size}x${size}, ${transforms ? describePreprocessing(transforms.preprocessing) : "the model's own preprocessing"}`;
  }
  return spec;
}

/** Step 1 of an extraction for the encoder: the options that apply to it, and the size against its minimum. */
export function checkEncoderOptions(o: ExtractOptions, given: (field: keyof ExtractOptions & string) => boolean, h: Hooks): void {
  const random = o.model === 'random-conv';
  for (const f of ['layer', 'pool', 'pooledLayers', 'gridPool', 'weights'] as const) {
    if (random && given(f)) throw new ConvlabError(`${h.name(f)} does not apply to ${h.name('model')} random-conv`, { hint: `leave out ${h.name(f)}, or use a convnet encoder (${ENCODERS.filter((m) => m !== 'random-conv').join(', ')})` });
  }
  const randomWeights = o.weights === 'random';
  if (!random && !randomWeights && given('seed')) {
    throw new ConvlabError(`${h.name('seed')} applies to ${h.name('model')} random-conv only, or to ${h.name('weights')} random (the convnet encoders have trained weights)`, { hint: `leave out ${h.name('seed')}` });
  }
  const size = o.size ?? ENCODER_NATIVE_SIZE[o.model];
  checkNumber(size, h.name('size'), { integer: true, min: ENCODER_MIN_SIZE[o.model], max: 2048, example: Math.max(ENCODER_MIN_SIZE[o.model], ENCODER_NATIVE_SIZE[o.model]) });
}

/**
 * Step 2 of an extraction for the encoder (after checkEncoderOptions): for a convnet, its preprocessing from
 * @convlab/models' `modelTransforms` and its weights on this machine. A missing weights file fails here, with the
 * models package's message naming the file and where to place it, before any output is created or any engine
 * started. Returns the encoder spec.
 */
export async function resolveEncoder(o: ExtractOptions, h: Hooks): Promise<EncoderSpec> {
  if (o.model === 'random-conv') return encoderSpecOf(o);
  const weights = encoderWeightsChoice(o.weights);
  if (weights !== undefined && weights !== 'imagenet' && weights !== 'random' && !existsSync(weights)) {
    throw new ConvlabError(`${h.name('weights')} ${o.weights} not found`, { hint: `give ${h.name('weights')} imagenet, random, or the path of a Keras .h5 file for ${o.model}` });
  }
  const models = await import('@convlab/models');
  const transforms = models.modelTransforms(o.model, weights);
  const spec = encoderSpecOf(o, transforms);
  if (weights === 'imagenet' || (weights === undefined && IMAGENET_ONLY.has(o.model))) {
    if (!(await models.cachedImagenetFile(o.model))) throw models.missingImagenetError(o.model);
  } else if (weights === undefined && !(await models.getModelEntry(o.model).weightsAvailable()).available) {
    // The model's own message (VGG: which file to place where): its loader fails on it before building anything.
    (await models.loadModel(o.model, { includeHead: false })).dispose();
  }
  return spec;
}

/**
 * Steps 1-4 of an extraction, shared by runExtract and the sharded extraction's planner (prepareExtract):
 * options, inputs (the encoder's weights among them), the output folder, the dataset, and a cache already
 * there (resumed, or refused if it was made otherwise: never silently lost).
 */
export async function prepareExtractSteps(options: z.input<typeof ExtractOptions>, h: Hooks) {
  // 1. options
  checkOneDataset(options, h);
  const { o, given } = parseGiven(ExtractOptions, options, h);
  checkEncoderOptions(o, given, h);
  const dataset = chooseDataset(o, h, 'extract');
  // 2. inputs (the encoder's weights file among them), 3. output
  checkInputs(dataset.inputs);
  const spec = await resolveEncoder(o, h);
  refuseOverInputs(o.features, h.name('features'), dataset.inputs);
  const out = await prepareOutputDir(o.features, { flag: h.name('features'), inputs: dataset.inputs.map((i) => i.path) });
  // 4. annotations, and the cache already there (resumed, or refused if it was made otherwise: never silently lost)
  const ds = loadDataset(dataset, h);
  if (!ds.items.length) throw new ConvlabError(`the dataset has no images to extract`, { hint: `check ${h.name('images')} and the annotation files` });
  if (existsSync(join(out, 'index.json'))) {
    const old = readCacheIndex(out);
    const why =
      JSON.stringify(old.spec) !== JSON.stringify(spec)
        ? `encoder ${encoderId(old.spec)}, not ${encoderId(spec)}`
        : old.withGrid !== o.grid
          ? old.withGrid
            ? `with the grid (${h.name('grid')})`
            : 'without the grid'
          : old.images.length !== ds.items.length || old.images.some((x, i) => x !== ds.items[i].image)
            ? `another image list (${old.images.length} images, this dataset has ${ds.items.length})`
            : undefined;
    if (why) throw new ConvlabError(`${h.name('features')} ${o.features} holds a feature cache made otherwise (${why})`, { hint: `give ${h.name('features')} a new folder, or delete that one to replace it` });
  }
  return { o, spec, out, ds };
}

export async function runExtract(options: z.input<typeof ExtractOptions>, hooks: RunHooks = {}): Promise<ExtractRun> {
  const h = hooksOf(hooks);
  const { o, spec, out, ds } = await prepareExtractSteps(options, h);
  const random = o.model === 'random-conv';
  // 5. work
  const engine = await startEngine(o.backend, h);
  const extractor = await createExtractor(spec);
  if (existsSync(join(out, 'index.json'))) {
    const old = readCacheIndex(out);
    if (!sameEncoderWeights(old.weights, extractor.weights)) {
      extractor.dispose();
      throw new ConvlabError(`${h.name('features')} ${o.features} holds a feature cache made with other weights (${old.weights?.description}, not ${extractor.weights?.description})`, {
        hint: `give ${h.name('features')} a new folder, or delete that one to replace it`,
      });
    }
  }
  if (extractor.weights) h.log(`encoder ${encoderId(spec)}: ${extractor.weights.description}${extractor.weights.sha256 ? ` (sha256 ${extractor.weights.sha256.slice(0, 12)}...)` : ''}`);
  const record = createRunRecord({
    tool: 'caption-extract',
    parameters: { ...o, size: spec.inputSize[0] },
    seed: random || spec.weights === 'random' ? spec.seed : undefined,
    backend: engine,
    model: { name: spec.model ?? spec.type, encoder: spec, ...(extractor.weights ? { weights: extractor.weights } : {}) },
  });
  const progress = h.progress('extract', ds.items.length, 'img');
  let r: ExtractResult;
  try {
    r = await record.measure('extract', () =>
      extractToCache(
        out,
        extractor,
        ds.items.map((i) => i.image),
        ds.items.map((i) => i.path),
        { withGrid: o.grid, batchSize: o.batch, signal: h.signal, onProgress: (d) => progress.update(d), onFailure: (_image, path, err) => h.onFailure?.(path, err) },
      ),
    );
  } finally {
    progress.stop();
    extractor.dispose();
  }
  if (r.recovered.length) h.log(`${r.recovered.length} image(s) that failed before were read this time`);
  h.log(`${r.done}/${ds.items.length} images in ${o.features} (${encoderId(spec)}), ${r.imagesPerSecond > 0 ? `${r.imagesPerSecond.toFixed(2)} images/s this run` : 'nothing left to extract'} (${engine.backend})`);
  const complete = r.done >= ds.items.length;
  if (!complete && h.signal?.aborted) h.log(`interrupted: the ${r.done} finished images are kept; run the same command to resume`);
  if (r.failed.length) h.log(`the cache records ${r.failed.length} unreadable image(s); train and eval leave them out, and extract tries them again when run again`);
  record.set('dataset', { name: ds.name, images: ds.items.length });
  record.set('result', { done: r.done, complete, imagesPerSecond: r.imagesPerSecond, recovered: r.recovered, failed: r.failed });
  record.finish();
  await record.save(join(out, 'run-record.json'));
  return { ...r, total: ds.items.length, features: out, spec };
}
