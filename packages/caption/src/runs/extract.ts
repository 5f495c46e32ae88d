/**
 * `extract` as a library call: encode a dataset's images once into a feature cache (resumable). An image
 * that cannot be read is reported (hooks.onFailure), recorded in the cache and left out of training.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkNumber, ConvlabError, createRunRecord, prepareOutputDir, type z } from '@convlab/core';
import { createExtractor, DEFAULT_ENCODER, encoderId, extractToCache, readCacheIndex, type EncoderSpec, type ExtractResult } from '../features.js';
import { ENCODER_MIN_SIZE, ENCODERS, ExtractOptions } from '../options.js';
import { checkInputs, checkOneDataset, chooseDataset, hooksOf, loadDataset, parseGiven, refuseOverInputs, startEngine, type RunHooks } from './common.js';

export interface ExtractRun extends ExtractResult {
  /** Images in the dataset (the cache's rows). */
  total: number;
  features: string;
  spec: EncoderSpec;
}

/** The encoder an extract call describes (also what its cache is keyed on). */
export function encoderSpecOf(o: ExtractOptions): EncoderSpec {
  const size = o.size;
  if (o.model === 'random-conv') {
    const seed = o.seed ?? 7;
    return { type: 'random-conv', layer: 'conv2', inputSize: [size, size], pool: 'flatten', seed, preprocessing: `RGB squashed to ${size}x${size}, scaled to [-1, 1]` };
  }
  const spec: EncoderSpec = { ...DEFAULT_ENCODER, model: o.model, layer: o.layer ?? DEFAULT_ENCODER.layer, inputSize: [size, size] };
  if (o.pool) spec.pool = o.pool;
  if (o.gridPool) spec.gridPool = o.gridPool;
  if (o.pooledLayers) spec.pooledLayers = o.pooledLayers;
  if (spec.model !== 'mobilenet_v2' || size !== 224) spec.preprocessing = `RGB squashed to ${size}x${size}, the model's own preprocessing`;
  return spec;
}

export async function runExtract(options: z.input<typeof ExtractOptions>, hooks: RunHooks = {}): Promise<ExtractRun> {
  const h = hooksOf(hooks);
  // 1. options
  checkOneDataset(options, h);
  const { o, given } = parseGiven(ExtractOptions, options, h);
  const random = o.model === 'random-conv';
  for (const f of ['layer', 'pool', 'pooledLayers', 'gridPool'] as const) {
    if (random && given(f)) throw new ConvlabError(`${h.name(f)} does not apply to ${h.name('model')} random-conv`, { hint: `leave out ${h.name(f)}, or use a convnet encoder (${ENCODERS.filter((m) => m !== 'random-conv').join(', ')})` });
  }
  if (!random && given('seed')) throw new ConvlabError(`${h.name('seed')} applies to ${h.name('model')} random-conv only (the convnet encoders have trained weights)`, { hint: `leave out ${h.name('seed')}` });
  checkNumber(o.size, h.name('size'), { integer: true, min: ENCODER_MIN_SIZE[o.model], max: 2048, example: Math.max(ENCODER_MIN_SIZE[o.model], DEFAULT_ENCODER.inputSize[0]) });
  const dataset = chooseDataset(o, h, 'extract');
  const spec = encoderSpecOf(o);
  // 2. inputs, 3. output
  checkInputs(dataset.inputs);
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
  // 5. work
  const engine = await startEngine(o.backend, h);
  const record = createRunRecord({ tool: 'caption-extract', parameters: o, seed: random ? spec.seed : undefined, backend: engine, model: spec });
  const extractor = await createExtractor(spec);
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
