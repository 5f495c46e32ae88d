/**
 * convlab-caption's flag checks, in process: every numeric flag has a range and every word flag its choices,
 * refused with a message naming the flag before any input is read (the dataset and cache paths below do
 * not exist) and before any output is created; and the training memory estimate.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core';
import { main } from '../src/cli.js';
import { checkTrainingMemory, createDecoder, decoderParamCount, estimateTrainingMemory, type DecoderConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-cli-'));
const out = join(dir, 'out');
const NO_DATA = ['--data', join(dir, 'no-dataset'), '--features', join(dir, 'no-features')];
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const refused: [string[], RegExp][] = [
  [['predict', 'x.jpg', '--beam', '0'], /^--beam 0 is out of range: it must be an integer >= 1 and <= 50$/],
  [['predict', 'x.jpg', '--beam', '2.5'], /^--beam 2\.5 is out of range/],
  [['predict', 'x.jpg', '--max-length', '0'], /^--max-length 0 is out of range/],
  [['predict', 'x.jpg', '--max-length', '101'], /^--max-length 101 is out of range/],
  [['predict', 'x.jpg', '--length-penalty', '-0.5'], /^--length-penalty -0\.5 is out of range/],
  [['predict', 'x.jpg', '--model', join(dir, 'nope')], /^--model .*nope is neither a shipped model nor a model folder/],
  [['predict', '--beam', '3'], /^no images given/],
  [['predict', join(dir, 'missing.jpg')], /^image not found: .*missing\.jpg/],
  [['predict', 'x.jpg', '--epochs', '2'], /^--epochs is not an option of predict \(it belongs to train\)/],
  [['train', ...NO_DATA, '--out', out, '--batch', '0'], /^--batch 0 is out of range: it must be an integer >= 1$/],
  [['train', ...NO_DATA, '--out', out, '--batch', '-1'], /^--batch -1 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--batch', 'many'], /^--batch "many" is not a number/],
  [['train', ...NO_DATA, '--out', out, '--hidden', '0'], /^--hidden 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--embed', '0'], /^--embed 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--decoder', 'show-attend-tell', '--attention', '0'], /^--attention 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--decoder', 'show-tell', '--attention', '64'], /^--attention applies to --decoder show-attend-tell only/],
  [['train', ...NO_DATA, '--out', out, '--lr', '-1'], /^--lr -1 is out of range: it must be a number > 0 and <= 1$/],
  [['train', ...NO_DATA, '--out', out, '--lr', '0'], /^--lr 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--lr-decay', '0'], /^--lr-decay 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--lr-decay', '1.5'], /^--lr-decay 1\.5 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--lr-decay-every', '0'], /^--lr-decay-every 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--epochs', '0'], /^--epochs 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--dropout', '1'], /^--dropout 1 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--dropout', '-0.1'], /^--dropout -0\.1 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--min-count', '0'], /^--min-count 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--max-length', '0'], /^--max-length 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--patience', '-1'], /^--patience -1 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--val-limit', '0'], /^--val-limit 0 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--seed', '1.5'], /^--seed 1\.5 is out of range/],
  [['train', ...NO_DATA, '--out', out, '--metric', 'bogus'], /^--metric "bogus" is not one of the choices/],
  [['train', ...NO_DATA, '--out', out, '--decoder', 'bogus'], /^--decoder "bogus" is not one of the choices/],
  [['train', ...NO_DATA, '--out', out, '--objective', 'bogus'], /^--objective "bogus" is not one of the choices/],
  [['train', ...NO_DATA, '--out', out, '--objective', 'scst', '--samples', '1'], /^--samples 1 is out of range: it must be an integer >= 2/],
  [['train', ...NO_DATA, '--out', out, '--samples', '4'], /^--samples applies to --objective scst only/],
  [['train', ...NO_DATA, '--out', out, 'extra'], /^unexpected argument "extra" for train/],
  [['train', ...NO_DATA, '--out', out], /^--data .*no-dataset not found/],
  [['train', '--data', dir, '--karpathy', 'x.json', '--out', out], /^--data and --karpathy both name a dataset/],
  [['extract', ...NO_DATA, '--model', 'bogus'], /^--model "bogus" is not one of the choices/],
  [['extract', ...NO_DATA, '--model', 'inception_v3', '--size', '74'], /^--size 74 is out of range: it must be an integer >= 75 and <= 2048$/],
  [['extract', ...NO_DATA, '--batch', '0'], /^--batch 0 is out of range/],
  [['extract', ...NO_DATA, '--grid-pool', '0'], /^--grid-pool 0 is out of range/],
  [['extract', ...NO_DATA, '--pool', 'max'], /^--pool "max" is not one of the choices/],
  [['extract', ...NO_DATA, '--model', 'random-conv', '--grid-pool', '2'], /^--grid-pool does not apply to --model random-conv/],
  [['extract', ...NO_DATA, '--seed', '3'], /^--seed applies to --model random-conv only/],
  [['extract', ...NO_DATA, '--pooled-layers', 'mixed6,'], /^--pooled-layers "mixed6," has an empty layer name/],
  [['eval', ...NO_DATA, '--beam', '0'], /^--beam 0 is out of range/],
  [['eval', ...NO_DATA, '--split', 'dev'], /^--split "dev" is not one of the choices/],
  [['eval', ...NO_DATA, '--length-penalty', '9'], /^--length-penalty 9 is out of range/],
  [['export', '--from', 'a', '--to', out, '--length-penalty', '-1'], /^--length-penalty -1 is out of range/],
  [['export', '--from', 'a,,b', '--to', out], /^--from "a,,b" has an empty folder name/],
  [['synth', '--out', out, '--count', '0'], /^--count 0 is out of range/],
  [['synth', '--out', out, '--size', '8'], /^--size 8 is out of range/],
  [['synth', '--out', out, '--format', 'gif'], /^--format "gif" is not one of the choices/],
  [['synth', '--out', '/proc/convlab/synth'], /^--out \/proc\/convlab\/synth is on the proc pseudo file system/],
  [['predict', 'x.jpg', '--backend', 'gpu'], /^--backend "gpu" is not one of the choices/],
  [['bogus'], /^unknown command "bogus"/],
];

for (const [args, message] of refused) {
  test(`refused: ${args.join(' ').replaceAll(dir, '<tmp>')}`, async (t) => {
    const err = await t.throwsAsync(main(args, new AbortController().signal), { instanceOf: ConvlabError });
    t.regex(err!.message, message);
    t.is(err!.exitCode, 1);
    t.false(existsSync(out), 'nothing created');
  });
}

const FLICKR8K_ATTENTION = { kind: 'show-attend-tell' as const, images: 8000, pooledDim: 768, gridShape: [9, 9, 768] as [number, number, number], vocabSize: 2542, embedDim: 256, hiddenDim: 256, attentionDim: 256, batchSize: 64, maxLength: 16 };

test('decoderParamCount is what the decoders allocate', (t) => {
  const configs: DecoderConfig[] = [
    { kind: 'show-tell', vocabSize: 37, featureDim: 21, embedDim: 5, hiddenDim: 7, dropout: 0, normalizeFeatures: true },
    { kind: 'show-tell', vocabSize: 37, featureDim: 21, embedDim: 5, hiddenDim: 7, dropout: 0 },
    { kind: 'show-attend-tell', vocabSize: 37, featureDim: 21, gridSize: 9, embedDim: 5, hiddenDim: 7, attentionDim: 3, dropout: 0, normalizeFeatures: true },
  ];
  for (const c of configs) {
    const d = createDecoder(c, 1);
    t.is(decoderParamCount(c), d.params.count(), c.kind);
    d.params.dispose();
  }
});

test('training memory estimate: the shipped attention recipe fits a few GB, dominated by the feature table; a huge --batch is refused naming --batch', (t) => {
  const est = estimateTrainingMemory(FLICKR8K_ATTENTION);
  // 8000 x (81 x 768 grid + 2 x 768 pooled) float32 = 2.04 GB of features.
  t.is(est.parts.features, 4 * 8000 * (81 * 768 + 2 * 768));
  t.is(est.dominant, 'features');
  t.true(est.bytes > 2.5e9 && est.bytes < 4e9, `${est.bytes}`);
  t.notThrows(() => checkTrainingMemory(est, 'xe', 8e9));
  const huge = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, batchSize: 100_000 });
  t.is(huge.dominant, 'activations');
  const err = t.throws(() => checkTrainingMemory(huge, 'xe', 8e9), { instanceOf: ConvlabError });
  t.regex(err!.message, /^training \(about .* GB .*\) needs about .* GB of memory, more than the 8\.0 GB available$/);
  t.regex(err!.hint!, /lower --batch/);
  const scst = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, batchSize: 20_000, samples: 5 });
  t.regex(t.throws<ConvlabError>(() => checkTrainingMemory(scst, 'scst', 8e9))!.hint ?? '', /--batch or --samples/);
  const features = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, images: 200_000 });
  t.regex(t.throws<ConvlabError>(() => checkTrainingMemory(features, 'xe', 8e9))!.hint ?? '', /--grid-pool/);
  // Show and Tell on pooled vectors is small.
  const st = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, kind: 'show-tell' });
  t.true(st.bytes < 1e9, `${st.bytes}`);
});
