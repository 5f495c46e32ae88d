import test from 'ava';
import { ConvlabError, checkNumber, checkMemoryEstimate, BatchFailures, EXIT_SOME_FAILED } from '../src/index.js';

test('checkNumber: the value when in range, one message naming the flag and the range otherwise', (t) => {
  const beam = { integer: true, min: 1, example: 3 };
  t.is(checkNumber(5, '--beam', beam), 5);
  const cases: [number, RegExp][] = [
    [0, /^--beam 0 is out of range: it must be an integer >= 1$/],
    [-1, /^--beam -1 is out of range/],
    [2.5, /^--beam 2.5 is out of range: it must be an integer/],
    [NaN, /^--beam NaN is out of range/],
  ];
  for (const [value, re] of cases) {
    const err = t.throws(() => checkNumber(value, '--beam', beam), { instanceOf: ConvlabError });
    t.regex(err!.message, re);
    t.regex(err!.hint ?? '', /--beam 3/);
  }
  t.throws(() => checkNumber(0, '--lr', { gt: 0 }), { message: /--lr 0 is out of range: it must be a number > 0/ });
  t.throws(() => checkNumber(1.5, '--dropout', { min: 0, max: 0.95 }), { message: /<= 0.95/ });
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
