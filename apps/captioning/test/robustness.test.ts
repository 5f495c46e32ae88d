/**
 * Field conditions: a batch with a truncated image skips and reports it and finishes the rest (exit code 3),
 * the feature cache records which images failed so training and evaluation leave them out, folders of
 * symbolic links work, and Ctrl-C / SIGTERM keep what was finished (train: checkpoints and run record, then
 * resume; extract: the finished batches; predict: the finished captions).
 */
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, initEngine, saveImage } from '@convlab/core';
import { captionImages, captionRows, createDecoder, extractToCache, generateScenes, loadFeatureCache, randomConvExtractor, saveCaptionModel, trainDecoder, Vocabulary, type EncoderSpec } from '../src/index.js';
import { runCaption } from './helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-robust-'));
const SPEC: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [32, 32], pool: 'flatten', seed: 7 };
/** A PNG signature and a few bytes: a truncated image. */
const TRUNCATED = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48]);

test.before(async () => {
  await initEngine({ log: false });
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function readIndex(features: string): { done: number; images: string[]; failed?: Record<string, string> } {
  return JSON.parse(readFileSync(join(features, 'index.json'), 'utf8'));
}

test.serial('CLI: a dataset read through links, with truncated images: extract skips and records them, train and eval leave them out, a rerun retries them', async (t) => {
  const src = join(dir, 'src');
  t.is((await runCaption(['synth', '--out', src, '--count', '60', '--size', '48'])).code, 0);
  // A folder of links to the images, reached through a linked folder; two links point at truncated files.
  const linked = join(dir, 'linked');
  mkdirSync(linked);
  const broken = ['scene_00003.png', 'scene_00055.png']; // one train image, one test image
  for (const f of readdirSync(join(src, 'images'))) {
    if (broken.includes(f)) {
      writeFileSync(join(dir, `truncated-${f}`), TRUNCATED);
      symlinkSync(join(dir, `truncated-${f}`), join(linked, f));
    } else symlinkSync(join(src, 'images', f), join(linked, f));
  }
  symlinkSync(linked, join(dir, 'images-link'));
  const data = ['--karpathy', join(src, 'dataset_synthetic.json'), '--images', join(dir, 'images-link')];
  const features = join(dir, 'feats');

  const extract = await runCaption(['extract', ...data, '--features', features, '--model', 'random-conv', '--size', '32', '--batch', '8']);
  t.is(extract.code, 3, extract.stderr);
  for (const f of broken) t.regex(extract.stderr, new RegExp(`skipped image .*${f}: cannot`));
  t.regex(extract.stderr, /2 of 60 images failed and were skipped/);
  const index = readIndex(features);
  t.is(index.done, 60, 'the rest completed');
  t.deepEqual(Object.keys(index.failed ?? {}).sort(), broken);
  const cache = loadFeatureCache(features);
  t.is(cache.row.size, 58);
  t.false(cache.row.has(broken[0]));

  const run = join(dir, 'run');
  const train = await runCaption(['train', ...data, '--features', features, '--out', run, '--epochs', '1', '--batch', '16', '--hidden', '16', '--embed', '16', '--min-count', '1', '--val-limit', '6']);
  t.is(train.code, 0, train.stderr);
  t.regex(train.stderr, /1 image\(s\) failed in extract and are left out \(first: scene_00003\.png/);
  t.true(existsSync(join(run, 'best', 'weights.bin')));

  const results = join(dir, 'results.json');
  const evaluated = await runCaption(['eval', '--model', join(run, 'best'), ...data, '--features', features, '--split', 'test', '--out', results]);
  t.is(evaluated.code, 0, evaluated.stderr);
  t.regex(evaluated.stderr, /1 image\(s\) of test failed in extract and are not scored/);
  const scored = JSON.parse(readFileSync(results, 'utf8')) as { captions: unknown[]; skipped: { image: string }[] };
  t.is(scored.captions.length, 5);
  t.deepEqual(
    scored.skipped.map((s) => s.image),
    ['scene_00055.png'],
  );

  // The train image is fixed (its link now points at the real file): a rerun reads it, the other still fails.
  unlinkSync(join(linked, broken[0]));
  symlinkSync(join(src, 'images', broken[0]), join(linked, broken[0]));
  const again = await runCaption(['extract', ...data, '--features', features, '--model', 'random-conv', '--size', '32', '--batch', '8']);
  t.is(again.code, 3, again.stderr);
  t.regex(again.stderr, /1 image\(s\) that failed before were read this time/);
  t.deepEqual(Object.keys(readIndex(features).failed ?? {}), [broken[1]]);
  t.true(loadFeatureCache(features).row.has(broken[0]));
  // A cache made with other settings is never silently replaced.
  const other = await runCaption(['extract', ...data, '--features', features, '--model', 'random-conv', '--size', '48']);
  t.is(other.code, 1, other.stderr);
  t.regex(other.stderr, /error: --features .* holds a feature cache made otherwise \(encoder random-conv-seed7-conv2-32x32-flatten, not random-conv-seed7-conv2-48x48-flatten\)/);
  t.is(readIndex(features).done, 60, 'the cache is untouched');

  // predict on the folder of links: every readable image captioned, the truncated one named and counted.
  const predicted = await runCaption(['predict', '--model', join(run, 'best'), '--beam', '1', join(dir, 'images-link')]);
  t.is(predicted.code, 3, predicted.stderr);
  t.is(predicted.stdout.trim().split('\n').length, 59);
  t.regex(predicted.stderr, /skipped image .*scene_00055\.png: cannot/);
  t.regex(predicted.stderr, /1 of 60 images failed/);
});

test.serial('CLI: SIGTERM during training keeps the finished epochs (best, last, run record) and the same command resumes', async (t) => {
  const src = join(dir, 'src-term');
  t.is((await runCaption(['synth', '--out', src, '--count', '60', '--size', '48'])).code, 0);
  const data = ['--karpathy', join(src, 'dataset_synthetic.json'), '--images', join(src, 'images')];
  const features = join(dir, 'feats-term');
  t.is((await runCaption(['extract', ...data, '--features', features, '--model', 'random-conv', '--size', '32'])).code, 0);
  const run = join(dir, 'run-term');
  const args = ['train', ...data, '--features', features, '--out', run, '--batch', '2', '--hidden', '16', '--embed', '16', '--min-count', '1', '--val-limit', '6', '--patience', '0'];
  const stopped = await runCaption([...args, '--epochs', '500'], { onStderr: (text) => (/epoch 2: /.test(text) ? 'SIGTERM' : undefined) });
  t.is(stopped.code, 143, stopped.stderr);
  t.regex(stopped.stderr, /SIGTERM: finishing the current step and saving results/);
  const m = /interrupted: epochs 1-(\d+) are saved/.exec(stopped.stderr);
  t.truthy(m, stopped.stderr);
  const done = Number(m![1]);
  t.true(done >= 2);
  t.true(existsSync(join(run, 'best', 'weights.bin')));
  t.true(existsSync(join(run, 'loss.png')));
  const state = JSON.parse(readFileSync(join(run, 'last', 'train-state.json'), 'utf8')) as { epoch: number };
  t.is(state.epoch, done);
  const record = JSON.parse(readFileSync(join(run, 'run-record.json'), 'utf8')) as { steps: { step: number }[]; extra: { result: { interrupted: boolean; epochsDone: number } } };
  t.true(record.extra.result.interrupted);
  t.is(record.extra.result.epochsDone, done);
  t.is(record.steps.length, done);
  t.deepEqual(
    readdirSync(run).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-')),
    [],
    'no temporary files left',
  );

  const resumed = await runCaption([...args, '--epochs', String(done + 1)]);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`epoch ${done + 1}: `));
  t.notRegex(resumed.stderr, /epoch 1: /, 'the saved epochs are not trained again');
  const after = JSON.parse(readFileSync(join(run, 'run-record.json'), 'utf8')) as { steps: { step: number }[]; extra: { resumedAfterEpoch: number; result: { interrupted: boolean } } };
  t.deepEqual(
    after.steps.map((s) => s.step),
    Array.from({ length: done + 1 }, (_, i) => i + 1),
    'the resumed run record keeps the epochs before it',
  );
  t.is(after.extra.resumedAfterEpoch, done);
  t.false(after.extra.result.interrupted);
});

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
