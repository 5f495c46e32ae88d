import type { BadInputRow } from './harness.js';

/** convlab-deconv's rows of the bad-input table (see harness.ts for the placeholders). */
const out = ['--out', '{out}'];

export const rows: BadInputRow[] = [
  { cli: 'deconv', what: '--out under /proc', args: ['attribute', '{photo}', '--class', '2', '--out', '/proc/convlab'], exit: 1, words: ['--out /proc/convlab', 'proc pseudo file system'] },
  { cli: 'deconv', what: '--out is the input photo', args: ['attribute', '{photo}', '--class', '2', '--out', '{photo}'], exit: 1, words: ['--out', 'is the input file'] },
  { cli: 'deconv', what: '--out under a file', args: ['attribute', '{photo}', '--class', '2', '--out', '{photo}/sub'], exit: 1, words: ['--out', 'a parent is a file'] },
  { cli: 'deconv', what: 'top9 --out inside the --images folder', args: ['top9', '--images', '{images}', '--layer', 'block_1_expand_relu', '--out', '{images}/results'], exit: 1, words: ['--out', 'is inside the image folder'] },
  { cli: 'deconv', what: '--k 0', args: ['top9', '--images', '{images}', '--layer', 'block_1_expand_relu', '--k', '0', ...out], exit: 1, words: ['--k 0 is out of range: it must be an integer >= 1'] },
  { cli: 'deconv', what: '--smoothgrad-sigma -1', args: ['attribute', '{photo}', '--class', '2', '--smoothgrad-sigma', '-1', ...out], exit: 1, words: ['--smoothgrad-sigma -1 is out of range: it must be a number > 0'] },
  { cli: 'deconv', what: '--batch 0', args: ['occlusion', '{photo}', '--class', '2', '--batch', '0', ...out], exit: 1, words: ['--batch 0 is out of range'] },
  { cli: 'deconv', what: '--size 0', args: ['attribute', '{photo}', '--layer', 'block_1_expand_relu', '--unit', '0', '--size', '0', ...out], exit: 1, words: ['--size 0 is out of range'] },
  { cli: 'deconv', what: '--seed not a number', args: ['sanity', '{photo}', '--class', '2', '--seed', 'abc', ...out], exit: 1, words: ['--seed "abc" is not a number'] },
  { cli: 'deconv', what: '--units strongest:N beyond the layer', args: ['top9', '--images', '{images}', '--layer', 'block_1_expand_relu', '--units', 'strongest:100000', '--size', '64', ...out], exit: 1, words: ['--units strongest:100000 asks for more units than block_1_expand_relu has (96 channels)'] },
  { cli: 'deconv', what: '--units with an id beyond the layer', args: ['top9', '--images', '{images}', '--layer', 'block_1_expand_relu', '--units', '3,500', '--size', '64', ...out], exit: 1, words: ['--units 500 is out of range', '96 channels'] },
  { cli: 'deconv', what: '--unit beyond the layer', args: ['attribute', '{photo}', '--layer', 'block_1_expand_relu', '--unit', '500', ...out], exit: 1, words: ['--unit 500 is out of range', '96 channels'] },
  { cli: 'deconv', what: '--size below the model minimum', args: ['attribute', '{photo}', '--layer', 'block_1_expand_relu', '--unit', '0', '--size', '16', ...out], exit: 1, words: ['--size 16 is out of range: it must be an integer >= 32'] },
  {
    cli: 'deconv',
    what: '--size 4000 beyond the memory estimate (CONVLAB_MAX_MEMORY_GB=8)',
    args: ['attribute', '{photo}', '--layer', 'block_1_expand_relu', '--unit', '0', '--size', '4000', ...out],
    env: { CONVLAB_MAX_MEMORY_GB: '8' },
    exit: 1,
    words: ['--size 4000 needs about', 'GB of memory', /try --size \d+ or smaller/],
  },
  { cli: 'deconv', what: 'a single truncated image', args: ['attribute', '{bad}', '--class', '2', '--methods', 'saliency', ...out], exit: 1, words: ['bad.jpg'] },
  {
    cli: 'deconv',
    what: 'attribute over a folder with one broken image (skipped, the others finish, exit 3)',
    args: ['attribute', '{images}', '--class', '2', '--methods', 'saliency', ...out],
    exit: 3,
    leaves: 'results',
    words: ['skipped image', 'broken.jpg', '1 of 3 images failed'],
  },
];
