/**
 * Field conditions in the library: an aborted extraction keeps its finished batches and resumes, a failed
 * image is recorded in the cache; captionImages skips an unreadable image and stops on an aborted signal
 * with the captions finished so far; and the low-level calls refuse sizes that used to hang. (The same
 * through the CLI: apps/captioning/test/robustness.test.ts.)
 */
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, initEngine, saveImage } from '@convlab/core';
import { captionImages, captionRows, createDecoder, extractToCache, generateScenes, loadFeatureCache, randomConvExtractor, saveCaptionModel, trainDecoder, Vocabulary, type EncoderSpec } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-robust-lib-'));
const SPEC: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [32, 32], pool: 'flatten', seed: 7 };
/** A PNG signature and a few bytes: a truncated image. */
const TRUNCATED = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48]);

test.before(async () => {
  await initEngine({ log: false });
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('extractToCache: an aborted run keeps its finished batches, records failures and resumes to the same cache', async (t) => {
  const images = join(dir, 'lib-images');
  mkdirSync(images);
  const scenes = generateScenes(10, { seed: 9, size: 40 });
  const names = scenes.map((_, i) => `s${i}.png`);
  for (let i = 0; i < scenes.length; i++) await saveImage(scenes[i].image, join(images, names[i]));
  writeFileSync(join(images, names[4]), TRUNCATED);
  const paths = names.map((n) => join(images, n));
  const extractor = randomConvExtractor(SPEC);
  try {
    const stop = new AbortController();
    const failures: string[] = [];
    const first = await extractToCache(join(dir, 'lib-a'), extractor, names, paths, { batchSize: 3, withGrid: true, signal: stop.signal, onProgress: (d) => d >= 3 && stop.abort(), onFailure: (image) => failures.push(image) });
    t.is(first.done, 3, 'stopped after the first batch, which is kept');
    t.throws(() => loadFeatureCache(join(dir, 'lib-a')), { message: /incomplete \(3\/10 images\)/ });
    const second = await extractToCache(join(dir, 'lib-a'), extractor, names, paths, { batchSize: 3, withGrid: true, onFailure: (image) => failures.push(image) });
    t.is(second.done, 10);
    t.deepEqual(failures, ['s4.png']);
    t.deepEqual(
      second.failed.map((f) => f.image),
      ['s4.png'],
    );
    t.regex(second.failed[0].reason, /cannot (read|decode) image/);
    const whole = await extractToCache(join(dir, 'lib-b'), extractor, names, paths, { batchSize: 4, withGrid: true });
    const [a, b] = [loadFeatureCache(join(dir, 'lib-a'), { grid: true }), loadFeatureCache(join(dir, 'lib-b'), { grid: true })];
    t.deepEqual(a.pooled, b.pooled, 'same rows as an uninterrupted run with another batch size');
    t.deepEqual(a.grid, b.grid);
    t.deepEqual([...a.failed.keys()], ['s4.png']);
    t.false(a.row.has('s4.png'));
    t.is(a.row.size, 9);
    t.is(whole.failed.length, 1);
  } finally {
    extractor.dispose();
  }
});

test.serial('captionImages: onFailure skips an unreadable image; an aborted signal returns the captions finished so far', async (t) => {
  const model = join(dir, 'tiny-model');
  const vocab = new Vocabulary(['<pad>', '<start>', '<end>', '<unk>', 'a', 'shape']);
  const decoder = createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: 768, embedDim: 8, hiddenDim: 8, dropout: 0 }, 1);
  await saveCaptionModel(model, { decoder, vocab, encoder: SPEC, maxLength: 5 });
  decoder.params.dispose();
  const folder = join(dir, 'predict-images');
  mkdirSync(folder);
  const scenes = generateScenes(4, { seed: 2, size: 48 });
  const paths = scenes.map((_, i) => join(folder, `p${i}.png`));
  for (let i = 0; i < scenes.length; i++) await saveImage(scenes[i].image, paths[i]);
  copyFileSync(paths[0], join(folder, 'copy.png'));
  writeFileSync(paths[1], TRUNCATED);
  const failed: string[] = [];
  const all = await captionImages({ images: paths, model, beam: 2, onFailure: (p, err) => failed.push(`${p}: ${err instanceof ConvlabError}`) });
  t.deepEqual(
    all.map((r) => r.path),
    [paths[0], paths[2], paths[3]],
  );
  t.deepEqual(failed, [`${paths[1]}: true`]);
  const stop = new AbortController();
  const some = await captionImages({ images: [paths[0], paths[2], paths[3]], model, onResult: () => stop.abort(), signal: stop.signal });
  t.is(some.length, 1, 'stops after the image in progress');
  t.is(some[0].caption, all[0].caption);
});

test('library guards: batchSize 0 and beamSize 0 / maxLength 0 throw a RangeError (they used to hang, or give empty captions)', async (t) => {
  const vocab = new Vocabulary(['<pad>', '<start>', '<end>', '<unk>', 'a']);
  const decoder = createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: 4, embedDim: 4, hiddenDim: 4, dropout: 0 }, 1);
  const data = { features: { shape: [4], data: new Float32Array(8).fill(1) }, vocab, train: [{ row: 0, captions: [[4, 2]] }], val: [] };
  try {
    await t.throwsAsync(trainDecoder(decoder, data, { epochs: 1, batchSize: 0 }), { instanceOf: RangeError, message: /batchSize must be an integer >= 1, got 0/ });
    await t.throwsAsync(trainDecoder(decoder, data, { epochs: 1, learningRate: -1 }), { instanceOf: RangeError, message: /learningRate/ });
    await t.throwsAsync(trainDecoder(decoder, data, { epochs: 1, objective: 'scst', scstSamples: 1 }), { instanceOf: RangeError, message: /scstSamples/ });
    t.throws(() => captionRows(decoder, vocab, data.features, [0, 1], { beamSize: 0 }), { instanceOf: RangeError, message: /beamSize/ });
    t.throws(() => captionRows(decoder, vocab, data.features, [0, 1], { beamSize: 1, maxLength: 0 }), { instanceOf: RangeError, message: /maxLength/ });
    t.throws(() => captionRows(decoder, vocab, data.features, [0, 1], { beamSize: 3, maxLength: 0 }), { instanceOf: RangeError, message: /maxLength/ });
  } finally {
    decoder.params.dispose();
  }
});
