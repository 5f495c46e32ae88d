/**
 * Field conditions through the CLI: a batch with a truncated image skips and reports it and finishes the rest
 * (exit code 3), the feature cache records which images failed so training and evaluation leave them out,
 * folders of symbolic links work, and Ctrl-C / SIGTERM keep what was finished (train: checkpoints and run
 * record, then resume). The library's side: packages/caption/test/robustness.test.ts.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, validateRunRecord } from '@convlab/core';
import { loadFeatureCache } from '@convlab/caption';
import { runCaption } from './helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-robust-'));
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
  const scored = validateRunRecord(JSON.parse(readFileSync(results, 'utf8'))).extra as { captions: unknown[]; skipped: { image: string }[] };
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
