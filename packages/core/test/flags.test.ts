import test from 'ava';
import { ConvlabError, numberFlag, choiceFlag, checkMemoryEstimate, BatchFailures, EXIT_SOME_FAILED } from '../src/index.js';

test('numberFlag: default when absent, value when in range, one message naming the flag otherwise', (t) => {
  t.is(numberFlag(undefined, '--beam', 3, { integer: true, min: 1 }), 3);
  t.is(numberFlag(' 5 ', '--beam', 3, { integer: true, min: 1 }), 5);
  const cases: [string, RegExp][] = [
    ['0', /^--beam 0 is out of range: it must be an integer >= 1$/],
    ['-1', /^--beam -1 is out of range/],
    ['2.5', /^--beam 2.5 is out of range: it must be an integer/],
    ['abc', /^--beam "abc" is not a number/],
    ['', /^--beam "" is not a number/],
    ['1e999', /not a number/],
  ];
  for (const [raw, re] of cases) {
    const err = t.throws(() => numberFlag(raw, '--beam', 3, { integer: true, min: 1 }), { instanceOf: ConvlabError });
    t.regex(err!.message, re);
    t.regex(err!.hint ?? '', /--beam 3/);
  }
  t.throws(() => numberFlag('0', '--lr', 1e-3, { gt: 0 }), { message: /--lr 0 is out of range: it must be a number > 0/ });
  t.throws(() => numberFlag('1.5', '--dropout', 0.3, { min: 0, max: 0.95 }), { message: /<= 0.95/ });
});

test('choiceFlag names the flag and lists the choices', (t) => {
  t.is(choiceFlag(undefined, '--metric', ['CIDEr-D', 'BLEU-4'], 'CIDEr-D'), 'CIDEr-D');
  t.is(choiceFlag('bleu-4', '--metric', ['CIDEr-D', 'BLEU-4'], 'CIDEr-D', true), 'BLEU-4');
  const err = t.throws(() => choiceFlag('bogus', '--metric', ['CIDEr-D', 'BLEU-4'], 'CIDEr-D'), { instanceOf: ConvlabError });
  t.regex(err!.message, /--metric "bogus"/);
  t.regex(err!.hint ?? '', /CIDEr-D, BLEU-4/);
});

test('checkMemoryEstimate refuses work above the budget and names the flag to lower', (t) => {
  t.notThrows(() => checkMemoryEstimate(1e9, 'x', '--size', 2e9));
  const err = t.throws(() => checkMemoryEstimate(7e9, 'deconvnet at 4000 px', '--size', 2e9), { instanceOf: ConvlabError });
  t.regex(err!.message, /deconvnet at 4000 px needs about 7.0 GB/);
  t.regex(err!.hint ?? '', /lower --size/);
});

test('BatchFailures reports each bad item and sets the exit code', (t) => {
  const lines: string[] = [];
  const before = process.exitCode;
  const f = new BatchFailures('image', (l) => lines.push(l));
  t.false(f.finish(3));
  f.add('bad.jpg', new Error('cannot decode image bad.jpg: truncated\nmore'));
  t.true(f.finish(3));
  t.is(process.exitCode, EXIT_SOME_FAILED);
  process.exitCode = before;
  t.deepEqual(lines, ['skipped image bad.jpg: cannot decode image bad.jpg: truncated', '1 of 3 images failed and were skipped (listed above); the others completed']);
});
