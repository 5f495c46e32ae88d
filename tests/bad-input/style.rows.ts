import type { BadInputRow } from './harness.js';

/** convlab-style's rows of the bad-input table (see harness.ts for the placeholders). */
const good = ['--content', '{photo}', '--style', '{style}', '--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '2', '--quiet'];
const out = ['--output', '{out}/result.png'];

export const rows: BadInputRow[] = [
  { cli: 'style', what: '--output is the --content photo (refused, photo unchanged)', args: [...good, '--output', '{photo}'], exit: 1, words: ['--output', 'is the input', 'never writes over an input'] },
  { cli: 'style', what: '--output under /proc', args: [...good, '--output', '/proc/convlab/x.png'], exit: 1, words: ['--output /proc/convlab/x.png', 'proc pseudo file system'] },
  { cli: 'style', what: '--output in a folder whose parent is a file', args: [...good, '--output', '{photo}/sub/x.png'], exit: 1, words: ['--output', 'photo.jpg is a file'] },
  { cli: 'style', what: '--html is the run record of --output', args: [...good, ...out, '--html', '{out}/result.json'], exit: 1, words: ['--html', 'is also an output of --output'] },
  { cli: 'style', what: '--output with an unknown extension', args: [...good, '--output', '{out}/result.gif'], exit: 1, words: ['--output', 'unknown image extension ".gif"'] },
  { cli: 'style', what: '--iterations 0', args: [...good, ...out, '--iterations', '0'], exit: 1, words: ['--iterations 0 is out of range: it must be an integer >= 1'] },
  { cli: 'style', what: '--lr -1', args: [...good, ...out, '--lr', '-1'], exit: 1, words: ['--lr -1 is out of range: it must be a number > 0'] },
  { cli: 'style', what: '--size 0', args: [...good, ...out, '--size', '0'], exit: 1, words: ['--size 0 is out of range: it must be an integer >= 16'] },
  { cli: 'style', what: '--style-weight -1', args: [...good, ...out, '--style-weight', '-1'], exit: 1, words: ['--style-weight -1 is out of range: it must be a number >= 0'] },
  { cli: 'style', what: '--style-scale 0', args: [...good, ...out, '--style-scale', '0'], exit: 1, words: ['--style-scale 0 is out of range'] },
  { cli: 'style', what: '--save-every 0', args: [...good, ...out, '--save-every', '0'], exit: 1, words: ['--save-every 0 is out of range: it must be an integer >= 1'] },
  { cli: 'style', what: '--sw-projections 0', args: [...good, ...out, '--sw-projections', '0'], exit: 1, words: ['--sw-projections 0 is out of range'] },
  { cli: 'style', what: '--softmax-temperature -1', args: [...good, ...out, '--softmax-temperature', '-1'], exit: 1, words: ['--softmax-temperature -1 is out of range'] },
  { cli: 'style', what: '--max-memory-gb 0', args: [...good, ...out, '--max-memory-gb', '0'], exit: 1, words: ['--max-memory-gb 0 is out of range'] },
  { cli: 'style', what: '--seed -1', args: [...good, ...out, '--seed', '-1'], exit: 1, words: ['--seed -1 is out of range: it must be an integer >= 0'] },
  { cli: 'style', what: '--iterations not a number', args: [...good, ...out, '--iterations', 'many'], exit: 1, words: ['--iterations "many" is not a number'] },
  { cli: 'style', what: '--optimizer not one of the choices', args: [...good, ...out, '--optimizer', 'sgd'], exit: 1, words: ['--optimizer "sgd"', 'lbfgs, adam'] },
  { cli: 'style', what: '--content a truncated JPEG', args: ['--content', '{bad}', '--style', '{style}', '--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '2', '--quiet', ...out], exit: 1, words: ['content image', 'bad.jpg'] },
  { cli: 'style', what: '--content a missing file', args: ['--content', '{tmp}/missing.jpg', '--style', '{style}', ...out], exit: 1, words: ['--content', 'missing.jpg', 'not found'] },
  { cli: 'style', what: '--style a truncated JPEG', args: ['--content', '{photo}', '--style', '{bad}', '--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '2', '--quiet', ...out], exit: 1, words: ['style image 1', 'bad.jpg'] },
  {
    cli: 'style',
    what: '--size beyond the memory budget (CONVLAB_MAX_MEMORY_GB=1)',
    args: ['--content', '{photo}', '--style', '{style}', '--backbone', 'mobilenet_v2', '--size', '6000', '--iterations', '2', '--quiet', ...out],
    env: { CONVLAB_MAX_MEMORY_GB: '1' },
    exit: 1,
    words: ['--size 6000 needs about', 'GB of memory', /try --size \d+/],
  },
];
