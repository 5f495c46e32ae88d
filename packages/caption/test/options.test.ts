/**
 * The option schemas of the command calls: every field described, defaults and ranges as documented, and
 * the calls themselves from code: options named by their fields in messages, cross-field rules, and a run
 * record (core's format) from every command whose `parameters` are the parsed options.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, fieldsOf, initEngine, parseOptions, validateRunRecord, type OptionsSchema } from '@convlab/core';
import {
  DEFAULT_MODEL,
  DecodingOptions,
  EvalOptions,
  ExportOptions,
  ExtractOptions,
  PredictOptions,
  resolveTrainOptions,
  runEval,
  runExport,
  runExtract,
  runPredict,
  runSynth,
  runTrain,
  SCST_DEFAULTS,
  SynthOptions,
  TrainOptions,
} from '../src/index.js';

const SCHEMAS: Record<string, OptionsSchema> = { ExtractOptions, TrainOptions, EvalOptions, PredictOptions, ExportOptions, SynthOptions, DecodingOptions };
const dir = mkdtempSync(join(tmpdir(), 'caption-options-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('every field of every schema has a one-line description', (t) => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    for (const f of fieldsOf(schema)) {
      t.true(f.description.length > 5, `${name}.${f.name}`);
      t.false(f.description.includes('\n'), `${name}.${f.name}`);
    }
  }
});

test('defaults and ranges: the documented ones', (t) => {
  const range = (schema: OptionsSchema, field: string) => fieldsOf(schema).find((f) => f.name === field)!.range;
  t.deepEqual(range(PredictOptions, 'beam'), { integer: true, min: 1, max: 50 });
  t.deepEqual(range(EvalOptions, 'maxLength'), { integer: true, min: 1, max: 100 });
  t.deepEqual(range(PredictOptions, 'lengthPenalty'), { integer: false, min: 0, max: 5 });
  t.deepEqual(range(TrainOptions, 'batch'), { integer: true, min: 1 }, 'no upper bound: the memory estimate decides');
  t.deepEqual(range(TrainOptions, 'lr'), { integer: false, gt: 0, max: 1 });
  t.deepEqual(range(TrainOptions, 'samples'), { integer: true, min: 2, max: 64 });
  t.deepEqual(range(TrainOptions, 'patience'), { integer: true, min: 0 });
  t.deepEqual(range(TrainOptions, 'seed'), { integer: true, min: 0, max: 2 ** 31 - 1 });
  t.deepEqual(range(ExtractOptions, 'batch'), { integer: true, min: 1, max: 256 });
  t.deepEqual(range(SynthOptions, 'size'), { integer: true, min: 16, max: 1024 });
  const train = parseOptions(TrainOptions, { features: 'f', out: 'o' }, 'code');
  t.like(train, { objective: 'xe', epochs: 10, batch: 64, lr: 2e-3, lrDecay: 0.8, lrDecayEvery: 1, hidden: 256, embed: 256, dropout: 0.3, minCount: 5, maxLength: 16, patience: 3, valLimit: 500, metric: 'CIDEr-D', seed: 1, samples: 5 });
  t.like(parseOptions(PredictOptions, { images: ['a.jpg'] }, 'code'), { model: DEFAULT_MODEL, beam: 3, maxLength: 20, blockTrigrams: false });
  t.like(parseOptions(EvalOptions, { features: 'f' }, 'code'), { split: 'test', beam: 3 });
  t.like(parseOptions(ExtractOptions, { features: 'f' }, 'code'), { model: 'mobilenet_v2', batch: 8, grid: false });
  t.is(parseOptions(ExtractOptions, { features: 'f' }, 'code').size, undefined); // the encoder's native size, filled by extract
  t.like(parseOptions(SynthOptions, { out: 'o' }, 'code'), { count: 1000, seed: 1, size: 64, format: 'png' });
  // SCST's own defaults apply to the fields not given.
  const given = (fields: string[]) => (f: string) => fields.includes(f);
  t.like(resolveTrainOptions({ ...train, objective: 'scst' }, given([])), SCST_DEFAULTS);
  t.like(resolveTrainOptions({ ...train, objective: 'scst', batch: 8 }, given(['batch'])), { batch: 8, lr: SCST_DEFAULTS.lr });
});

test('from code, messages name the field, not a flag', async (t) => {
  const bad: [Promise<unknown>, RegExp][] = [
    [runPredict({ images: ['x.jpg'], beam: 0 }), /^beam 0 is out of range: it must be an integer >= 1 and <= 50$/],
    [runPredict({ images: [] }), /^no images given$/],
    [runTrain({ features: join(dir, 'none'), out: join(dir, 'out'), data: dir, samples: 4 }), /^samples applies to objective scst only$/],
    [runTrain({ features: join(dir, 'none'), out: join(dir, 'out'), data: dir, karpathy: 'x.json' }), /^data and karpathy both name a dataset$/],
    [runExtract({ features: join(dir, 'none'), data: dir, model: 'inception_v3', size: 64 }), /^size 64 is out of range: it must be an integer >= 75 and <= 2048$/],
    [runExtract({ features: join(dir, 'none'), data: dir, seed: 3 }), /^seed applies to model random-conv only/],
    [runExport({ from: ['a', ''], to: join(dir, 'out') }), /^from "": must not be empty$/],
    [runSynth({ out: join(dir, 'out'), count: 0 }), /^count 0 is out of range/],
    [runSynth({ out: join(dir, 'out'), bogus: 1 } as never), /^unknown option "bogus"/],
  ];
  for (const [call, message] of bad) {
    const err = await t.throwsAsync(call, { instanceOf: ConvlabError });
    t.regex(err!.message, message);
  }
  t.false(existsSync(join(dir, 'out')), 'nothing created');
});

test.serial('every command writes a run record in core format whose parameters are the parsed options', async (t) => {
  await initEngine({ backend: 'cpu', log: false });
  const record = (path: string) => validateRunRecord(JSON.parse(readFileSync(path, 'utf8')));
  const ds = join(dir, 'ds');
  const synth = await runSynth({ out: ds, count: 40, size: 32 });
  t.deepEqual(record(synth.recordPath!).parameters, parseOptions(SynthOptions, { out: ds, count: 40, size: 32 }, 'code'));
  const data = { karpathy: synth.json!, images: synth.images };
  const features = join(dir, 'feats');
  const extracted = await runExtract({ ...data, features, model: 'random-conv', size: 32 });
  t.is(extracted.done, 40);
  const ex = record(join(features, 'run-record.json'));
  t.is(ex.tool, 'caption-extract');
  t.deepEqual(ex.parameters, parseOptions(ExtractOptions, { ...data, features, model: 'random-conv', size: 32 }, 'code'));
  const run = join(dir, 'run');
  const trainOptions = { ...data, features, out: run, epochs: 1, batch: 16, hidden: 8, embed: 8, minCount: 1, valLimit: 4 };
  const trained = await runTrain(trainOptions);
  t.is(trained.history.length, 1);
  t.deepEqual(record(trained.recordPath).parameters, parseOptions(TrainOptions, trainOptions, 'code'));
  const results = join(dir, 'results.json');
  const evaluated = await runEval({ ...data, features, model: join(run, 'best'), beam: 2, out: results });
  const ev = record(results);
  t.deepEqual(ev.parameters, parseOptions(EvalOptions, { ...data, features, model: join(run, 'best'), beam: 2, out: results }, 'code'));
  t.deepEqual(ev.extra.scores, evaluated.scores);
  t.is((ev.extra.captions as unknown[]).length, 4);
  const predicted = await runPredict({ images: [join(synth.images, 'scene_00039.png')], model: join(run, 'best'), beam: 1 });
  t.is(predicted.record.tool, 'caption-predict');
  t.like(predicted.record.parameters, { beam: 1, maxLength: 20, lengthPenalty: 0, blockTrigrams: false });
  t.is((predicted.record.extra.results as unknown[]).length, 1);
  const exported = await runExport({ from: [join(run, 'best')], to: join(dir, 'exported') });
  t.deepEqual(record(exported.recordPath).parameters, parseOptions(ExportOptions, { from: [join(run, 'best')], to: join(dir, 'exported') }, 'code'));
});
