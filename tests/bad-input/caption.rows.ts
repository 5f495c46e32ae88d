import type { BadInputRow } from './harness.js';

/**
 * convlab-caption's rows of the bad-input table (see harness.ts for the placeholders). Flag rows point
 * --data/--features at paths that do not exist: the flag must be refused first, before any input is read.
 * The extract row reads a three-image Karpathy file (a.jpg, b.jpg, broken.jpg: the names of {images}).
 */
const ABC = 'apps/captioning/test/fixtures/abc-dataset.json';
const NO_DATA = ['--data', '{tmp}/no-dataset', '--features', '{tmp}/no-features'];

export const rows: BadInputRow[] = [
  // predict: decoding flags
  { cli: 'caption', what: 'predict --beam 0', args: ['predict', '{photo}', '--beam', '0'], exit: 1, words: ['--beam 0', '>= 1'] },
  { cli: 'caption', what: 'predict --beam 51', args: ['predict', '{photo}', '--beam', '51'], exit: 1, words: ['--beam 51', '<= 50'] },
  { cli: 'caption', what: 'predict --max-length 0', args: ['predict', '{photo}', '--max-length', '0'], exit: 1, words: ['--max-length 0', '>= 1'] },
  { cli: 'caption', what: 'predict --length-penalty -1', args: ['predict', '{photo}', '--length-penalty', '-1'], exit: 1, words: ['--length-penalty -1'] },
  { cli: 'caption', what: 'predict --model that is neither a shipped model nor a folder', args: ['predict', '{photo}', '--model', 'no-such-model'], exit: 1, words: ['--model no-such-model', 'show-attend-tell'] },
  { cli: 'caption', what: 'predict on a missing image', args: ['predict', '{tmp}/missing.jpg'], exit: 1, words: ['image not found', 'missing.jpg'] },
  { cli: 'caption', what: 'predict --attention-maps under /proc', args: ['predict', '{photo}', '--attention-maps', '/proc/convlab/maps'], exit: 1, words: ['--attention-maps', 'proc'] },
  { cli: 'caption', what: 'predict --attention-maps onto the input image', args: ['predict', '{photo}', '--attention-maps', '{photo}'], exit: 1, words: ['--attention-maps', 'input'] },
  { cli: 'caption', what: 'predict --epochs (an option of train)', args: ['predict', '{photo}', '--epochs', '3'], exit: 1, words: ['--epochs is not an option of predict'] },
  // train: every numeric flag has a range, every word flag its choices, checked before the dataset is read
  { cli: 'caption', what: 'train --batch 0', args: ['train', ...NO_DATA, '--out', '{out}', '--batch', '0'], exit: 1, words: ['--batch 0', '>= 1'] },
  { cli: 'caption', what: 'train --batch -1', args: ['train', ...NO_DATA, '--out', '{out}', '--batch', '-1'], exit: 1, words: ['--batch -1', '>= 1'] },
  { cli: 'caption', what: 'train --hidden 0', args: ['train', ...NO_DATA, '--out', '{out}', '--hidden', '0'], exit: 1, words: ['--hidden 0', '>= 1'] },
  { cli: 'caption', what: 'train --embed 0', args: ['train', ...NO_DATA, '--out', '{out}', '--embed', '0'], exit: 1, words: ['--embed 0'] },
  { cli: 'caption', what: 'train --lr -1', args: ['train', ...NO_DATA, '--out', '{out}', '--lr', '-1'], exit: 1, words: ['--lr -1', '> 0'] },
  { cli: 'caption', what: 'train --lr-decay 0', args: ['train', ...NO_DATA, '--out', '{out}', '--lr-decay', '0'], exit: 1, words: ['--lr-decay 0', '> 0'] },
  { cli: 'caption', what: 'train --epochs 0', args: ['train', ...NO_DATA, '--out', '{out}', '--epochs', '0'], exit: 1, words: ['--epochs 0', '>= 1'] },
  { cli: 'caption', what: 'train --dropout 1', args: ['train', ...NO_DATA, '--out', '{out}', '--dropout', '1'], exit: 1, words: ['--dropout 1', '<= 0.95'] },
  { cli: 'caption', what: 'train --min-count 0', args: ['train', ...NO_DATA, '--out', '{out}', '--min-count', '0'], exit: 1, words: ['--min-count 0'] },
  { cli: 'caption', what: 'train --patience -1', args: ['train', ...NO_DATA, '--out', '{out}', '--patience', '-1'], exit: 1, words: ['--patience -1', '>= 0'] },
  { cli: 'caption', what: 'train --val-limit 0', args: ['train', ...NO_DATA, '--out', '{out}', '--val-limit', '0'], exit: 1, words: ['--val-limit 0'] },
  { cli: 'caption', what: 'train --max-length 0', args: ['train', ...NO_DATA, '--out', '{out}', '--max-length', '0'], exit: 1, words: ['--max-length 0'] },
  { cli: 'caption', what: 'train --seed -3', args: ['train', ...NO_DATA, '--out', '{out}', '--seed', '-3'], exit: 1, words: ['--seed -3', '>= 0'] },
  { cli: 'caption', what: 'train --metric bogus', args: ['train', ...NO_DATA, '--out', '{out}', '--metric', 'bogus'], exit: 1, words: ['--metric "bogus"', 'CIDEr-D', 'BLEU-4'] },
  { cli: 'caption', what: 'train --decoder bogus', args: ['train', ...NO_DATA, '--out', '{out}', '--decoder', 'bogus'], exit: 1, words: ['--decoder "bogus"', 'show-attend-tell'] },
  { cli: 'caption', what: 'train --objective bogus', args: ['train', ...NO_DATA, '--out', '{out}', '--objective', 'bogus'], exit: 1, words: ['--objective "bogus"', 'scst'] },
  { cli: 'caption', what: 'train --objective scst --samples 1', args: ['train', ...NO_DATA, '--out', '{out}', '--objective', 'scst', '--samples', '1'], exit: 1, words: ['--samples 1', '>= 2'] },
  { cli: 'caption', what: 'train with a missing --features folder', args: ['train', '--data', '{tmp}', '--features', '{tmp}/no-features', '--out', '{out}'], exit: 1, words: ['--features', 'not found'] },
  { cli: 'caption', what: 'train --out under /proc', args: ['train', '--data', '{tmp}', '--features', '{images}', '--out', '/proc/convlab/run'], exit: 1, words: ['--out', 'proc'] },
  { cli: 'caption', what: 'train --out onto its --features input', args: ['train', '--data', '{tmp}', '--features', '{images}', '--out', '{images}'], exit: 1, words: ['--out', 'never writes over an input'] },
  // extract
  { cli: 'caption', what: 'extract --model bogus', args: ['extract', ...NO_DATA, '--model', 'bogus'], exit: 1, words: ['--model "bogus"', 'inception_v3'] },
  { cli: 'caption', what: 'extract --size below the model minimum', args: ['extract', ...NO_DATA, '--model', 'inception_v3', '--size', '64'], exit: 1, words: ['--size 64', '>= 75'] },
  { cli: 'caption', what: 'extract --batch 0', args: ['extract', ...NO_DATA, '--batch', '0'], exit: 1, words: ['--batch 0'] },
  { cli: 'caption', what: 'extract --grid-pool 0', args: ['extract', ...NO_DATA, '--grid-pool', '0'], exit: 1, words: ['--grid-pool 0'] },
  { cli: 'caption', what: 'extract --pool bogus', args: ['extract', ...NO_DATA, '--pool', 'bogus'], exit: 1, words: ['--pool "bogus"', 'mean+max'] },
  { cli: 'caption', what: 'extract --features under /proc', args: ['extract', '--karpathy', ABC, '--images', '{images}', '--features', '/proc/convlab/features', '--model', 'random-conv'], exit: 1, words: ['--features', 'proc'] },
  {
    cli: 'caption',
    what: 'extract with a truncated image: skipped, recorded, the rest cached',
    args: ['extract', '--karpathy', ABC, '--images', '{images}', '--features', '{out}', '--model', 'random-conv', '--size', '32'],
    exit: 3,
    words: ['broken.jpg', /1 of 3 images failed/],
    leaves: 'results',
  },
  // eval / export / synth
  { cli: 'caption', what: 'eval --beam 0', args: ['eval', ...NO_DATA, '--beam', '0'], exit: 1, words: ['--beam 0'] },
  { cli: 'caption', what: 'eval --split bogus', args: ['eval', ...NO_DATA, '--split', 'bogus'], exit: 1, words: ['--split "bogus"', 'test'] },
  { cli: 'caption', what: 'eval --out under /proc', args: ['eval', '--data', '{tmp}', '--features', '{images}', '--model', 'show-tell', '--out', '/proc/convlab/results.json'], exit: 1, words: ['--out', 'proc'] },
  { cli: 'caption', what: 'export --to under /proc', args: ['export', '--from', 'packages/caption/pretrained', '--to', '/proc/convlab/model'], exit: 1, words: ['--to', 'proc'] },
  { cli: 'caption', what: 'export --to its --from folder', args: ['export', '--from', 'packages/caption/pretrained', '--to', 'packages/caption/pretrained'], exit: 1, words: ['--to', 'never writes over an input'] },
  { cli: 'caption', what: 'export --to a folder that is not a model', args: ['export', '--from', 'packages/caption/pretrained', '--to', '{images}'], exit: 1, words: ['--to', 'not a caption model folder'] },
  { cli: 'caption', what: 'synth --out under /proc', args: ['synth', '--out', '/proc/convlab/x'], exit: 1, words: ['--out', 'proc'] },
  { cli: 'caption', what: 'synth --count 0', args: ['synth', '--out', '{out}', '--count', '0'], exit: 1, words: ['--count 0'] },
  { cli: 'caption', what: 'synth --format gif', args: ['synth', '--out', '{out}', '--format', 'gif'], exit: 1, words: ['--format "gif"', 'jpg'] },
  { cli: 'caption', what: '--backend bogus', args: ['predict', '{photo}', '--backend', 'bogus'], exit: 1, words: ['--backend "bogus"', 'wasm'] },
  // batches with a bad item: skipped, named, counted; the rest completes
  {
    cli: 'caption',
    what: 'predict on a folder with a truncated image (attention maps of the others written)',
    args: ['predict', '{images}', '--attention-maps', '{out}'],
    exit: 3,
    words: ['broken.jpg', /1 of 3 images failed/],
    leaves: 'results',
    timeout: 240,
  },
];
