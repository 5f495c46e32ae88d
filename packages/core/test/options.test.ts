import test from 'ava';
import { Command } from 'commander';
import { ConvlabError, addOptions, fieldsOf, optionsJsonSchema, parseOptions, z } from '../src/index.js';

const Predict = z.object({
  beam: z.number().int().min(1).max(50).default(3).describe('beam width (1 = greedy)'),
  maxLength: z.number().int().min(1).max(100).default(20).describe('longest caption in words'),
  lr: z.number().gt(0).default(2e-3).describe('learning rate'),
  metric: z.enum(['CIDEr-D', 'BLEU-4']).default('CIDEr-D').describe('metric for early stopping'),
  layers: z.array(z.string()).default(['mixed6']).describe('layers to pool'),
  weights: z.array(z.number().min(0)).optional().describe('per-layer weights'),
  json: z.boolean().default(false).describe('print JSON'),
  out: z.string().meta({ description: 'output folder', short: 'o', placeholder: 'DIR' }).optional(),
});

test('fieldsOf reads kinds, ranges, choices, defaults and metadata from the schema', (t) => {
  const f = Object.fromEntries(fieldsOf(Predict).map((x) => [x.name, x]));
  t.is(f.beam.flag, '--beam');
  t.is(f.beam.kind, 'integer');
  t.deepEqual(f.beam.range, { integer: true, min: 1, max: 50 });
  t.is(f.beam.default, 3);
  t.is(f.maxLength.flag, '--max-length');
  t.deepEqual(f.lr.range, { integer: false, gt: 0 });
  t.deepEqual(f.metric.choices, ['CIDEr-D', 'BLEU-4']);
  t.is(f.layers.kind, 'list');
  t.is(f.weights.itemKind, 'number');
  t.is(f.out.short, 'o');
  t.is(f.out.placeholder, 'DIR');
  t.is(f.out.description, 'output folder');
  // .int() alone has hidden safe-integer bounds; they are not shown as a range.
  t.deepEqual(fieldsOf(z.object({ n: z.number().int() }))[0].range, { integer: true });
  t.deepEqual(fieldsOf(z.object({ n: z.number().int().min(1) }))[0].range, { integer: true, min: 1 });
});

test('parseOptions from CLI text: coercion, defaults, and one message naming the flag', (t) => {
  const ok = parseOptions(Predict, { beam: '5', layers: 'mixed6, mixed7', weights: '1,0.5', json: true }, 'cli');
  t.deepEqual(ok, { beam: 5, maxLength: 20, lr: 2e-3, metric: 'CIDEr-D', layers: ['mixed6', 'mixed7'], weights: [1, 0.5], json: true });
  const bad: [Record<string, unknown>, RegExp, RegExp][] = [
    [{ beam: '0' }, /^--beam 0 is out of range: it must be an integer >= 1 and <= 50$/, /--beam 3/],
    [{ beam: '2.5' }, /^--beam 2.5 is out of range/, /--beam 3/],
    [{ beam: 'abc' }, /^--beam "abc" is not a number/, /--beam 3/],
    [{ maxLength: '0' }, /^--max-length 0 is out of range/, /--max-length 20/],
    [{ lr: '-1' }, /^--lr -1 is out of range: it must be a number > 0$/, /--lr 0.002/],
    [{ metric: 'bogus' }, /^--metric "bogus" is not one of the choices$/, /CIDEr-D, BLEU-4/],
    [{ weights: '1,-2' }, /^--weights -2 is out of range: it must be each value of a number >= 0$/, /--weights/],
  ];
  for (const [raw, message, hint] of bad) {
    const err = t.throws(() => parseOptions(Predict, raw, 'cli'), { instanceOf: ConvlabError });
    t.regex(err!.message, message);
    t.regex(err!.hint ?? '', hint);
  }
});

test('parseOptions from an HTTP body names the field and refuses unknown fields', (t) => {
  t.is(parseOptions(Predict, { beam: 4 }, 'http').beam, 4);
  t.throws(() => parseOptions(Predict, { beam: 0 }, 'http'), { message: /^beam 0 is out of range/ });
  t.throws(() => parseOptions(Predict, { beam: '4' }, 'http'), { message: /^beam "4" is not a number/ });
  t.throws(() => parseOptions(Predict, { bream: 4 }, 'http'), { message: /^unknown option "bream"/ });
  // The hint's example is itself valid: never an exclusive bound.
  const NoDefault = z.object({ lr: z.number().gt(0).optional().describe('learning rate'), n: z.number().int().min(2).optional().describe('n') });
  t.regex(t.throws<ConvlabError>(() => parseOptions(NoDefault, { lr: '-1' }, 'cli'))!.hint ?? '', /^give --lr a number > 0$/);
  t.regex(t.throws<ConvlabError>(() => parseOptions(NoDefault, { n: '1' }, 'cli'))!.hint ?? '', /^e\.g\. --n 2$/);
});

test('addOptions generates the commander flags and help from the schema', (t) => {
  const cmd = addOptions(new Command('predict').exitOverride(), Predict);
  const help = cmd.helpInformation();
  t.regex(help.replace(/\s+/g, ' '), /--beam <N> beam width \(1 = greedy\) \(integer >= 1 and <= 50; default 3\)/);
  t.regex(help.replace(/\s+/g, ' '), /--metric <CIDEr-D\|BLEU-4> metric for early stopping \(default CIDEr-D\)/);
  t.regex(help, /-o, --out <DIR>\s+output folder/);
  t.regex(help, /--json\s+print JSON/);
  const hidden = addOptions(new Command('x'), z.object({ debug: z.string().optional().meta({ description: 'internal', hidden: true }), color: z.boolean().default(true).describe('colour output') }));
  t.notRegex(hidden.helpInformation(), /--debug/);
  t.regex(hidden.helpInformation(), /--no-color\s+turn off: colour output/);
  t.throws(() => parseOptions(Predict, { weights: '1,abc' }, 'cli'), { message: /^--weights "abc" is not a number/ });
  cmd.parse(['--beam', '7', '--max-length', '9', '--json'], { from: 'user' });
  t.deepEqual(parseOptions(Predict, cmd.opts(), 'cli'), { beam: 7, maxLength: 9, lr: 2e-3, metric: 'CIDEr-D', layers: ['mixed6'], json: true });
});

test('optionsJsonSchema gives a JSON Schema with ranges, enums and defaults', (t) => {
  const js = optionsJsonSchema(Predict) as { properties: Record<string, Record<string, unknown>> };
  t.is(js.properties.beam.minimum, 1);
  t.is(js.properties.beam.maximum, 50);
  t.is(js.properties.beam.default, 3);
  t.deepEqual(js.properties.metric.enum, ['CIDEr-D', 'BLEU-4']);
  t.is(js.properties.lr.exclusiveMinimum, 0);
});
