/**
 * convlab-caption's flag checks, in process: every numeric flag has a range and every word flag its choices,
 * refused with a message naming the flag before any input is read (the dataset and cache paths below do
 * not exist) and before any output is created. (The training memory estimate: packages/caption/test/memory.test.ts.)
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core';
import { main } from '../src/cli.js';

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

/** What main() writes on stdout while it runs. */
async function stdoutOf(args: string[]): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((text += String(chunk)), true)) as typeof process.stdout.write;
  try {
    await main(args, new AbortController().signal);
  } finally {
    process.stdout.write = write;
  }
  return text;
}

test.serial('--help is generated from the option schemas: every command, each command with its flags, ranges and defaults', async (t) => {
  const top = await stdoutOf([]);
  t.is(await stdoutOf(['--help']), top);
  for (const c of ['predict', 'extract', 'train', 'eval', 'export', 'synth']) t.regex(top, new RegExp(`\\n  ${c} `));
  t.regex(top, /Exit codes: 0 done, 1 refused/);
  const train = (await stdoutOf(['train', '--help'])).replace(/\s+/g, ' ');
  t.regex(train, /--lr <X> Adam learning rate \(SCST default 5e-5\) \(number > 0 and <= 1; default 0\.002\)/);
  t.regex(train, /--batch <N> captions per batch .*\(integer >= 1; default 64\)/);
  t.regex(train, /--decoder <show-tell\|show-attend-tell>/);
  t.notRegex(train, /--beam/, 'only its own flags');
  const predict = (await stdoutOf(['help', 'predict'])).replace(/\s+/g, ' ');
  t.regex(predict, /Usage: convlab-caption predict \[options\] \[images\.\.\.\]/);
  t.regex(predict, /--beam <N> beam width \(1 = greedy\) \(integer >= 1 and <= 50; default 3\)/);
  t.regex(predict, /--attention-maps <DIR>/);
  t.regex(predict, /--json/);
});
