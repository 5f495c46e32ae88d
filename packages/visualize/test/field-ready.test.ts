/**
 * Bad input, refused before any work with one message naming the flag (the option schemas, and the
 * checks against the model); batches that skip a bad image; the memory estimate; output folders that
 * are never inputs. The CLI's own refusals are tested in apps/deconvnet/test/field-ready.test.ts.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, fieldsOf, parseOptions, saveImage, type OptionsSchema } from '@convlab/core';
import { checkOcclusionFlags, checkSizeForModel, checkTargetForModel, checkUnitSelection } from '../src/checks.js';
import {
  AttributeOptions,
  FeaturesOptions,
  FigureOptions,
  FiltersOptions,
  LayersOptions,
  OcclusionOptions,
  ProjectOptions,
  ReportOptions,
  SanityOptions,
  Top9Options,
  sizeOf,
} from '../src/options.js';
import { checkRunMemory, estimateMemory, WASM_HEAP_BYTES } from '../src/memory-estimate.js';
import { runAttribute, runProject, runReport } from '../src/runs.js';
import { tinyVgg } from './helpers/nets.js';

const SCHEMAS: OptionsSchema[] = [AttributeOptions, ProjectOptions, OcclusionOptions, Top9Options, FeaturesOptions, FiltersOptions, SanityOptions, ReportOptions, FigureOptions, LayersOptions];
/** The required fields of every call, so a test reaches the flag it is about. */
const REQUIRED = { images: ['a.jpg'], layer: 'block2_conv1' };

/** Parse one flag as the CLI does, through the first call schema that declares it. */
function parseFlag(flag: string, value: string | undefined): Record<string, unknown> {
  const name = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const schema = SCHEMAS.find((s) => name in s.shape)!;
  const required = schema === Top9Options ? { images: 'photos', layer: 'block2_conv1' } : REQUIRED;
  return parseOptions(schema, { ...required, [name]: value }, 'cli') as Record<string, unknown>;
}

const image32 = (k: number) => ({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * k) % 256) });

test('numeric flags: out of range or not a number, one message naming the flag and its range', (t) => {
  t.throws(() => parseFlag('--k', '0'), { instanceOf: ConvlabError, message: '--k 0 is out of range: it must be an integer >= 1 and <= 100' });
  t.throws(() => parseFlag('--smoothgrad-sigma', '-1'), { message: '--smoothgrad-sigma -1 is out of range: it must be a number > 0 and <= 5' });
  t.throws(() => parseFlag('--smoothgrad-sigma', 'abc'), { message: /--smoothgrad-sigma "abc" is not a number/ });
  const bad: [string, string][] = [
    ['--limit', '0'],
    ['--batch', '0'],
    ['--batch', '1000'],
    ['--square', '0'],
    ['--stride', '-2'],
    ['--steps', '0'],
    ['--seed', '-1'],
    ['--seed', '1.5'],
    ['--max-channels', '0'],
    ['--smoothgrad-samples', '0'],
    ['--sanity-steps', '0'],
    ['--size', '9000'],
  ];
  for (const [flag, value] of bad) {
    const err = t.throws(() => parseFlag(flag, value), { instanceOf: ConvlabError }, `${flag} ${value}`);
    t.true(err!.message.startsWith(`${flag} ${value} is out of range`), err!.message);
  }
  // --unit takes N or strongest: a string schema, its message names the flag and the value too.
  t.throws(() => parseFlag('--unit', '-1'), { instanceOf: ConvlabError, message: /^--unit "-1": is out of range: a unit is an integer >= 0/ });
  // --class takes an index or a name (checked against the model's classes before any work, see checks).
  t.throws(() => parseFlag('--class', '-1'), { instanceOf: ConvlabError, message: /^--class "-1": is out of range: a class is an integer >= 0 or a class name/ });
  t.is(parseFlag('--class', ' bull mastiff ').class, 'bull mastiff');
  // One declaration per flag: the ranged numeric flags of all calls, read from the schemas.
  const ranged = new Set(SCHEMAS.flatMap((s) => fieldsOf(s).filter((f) => f.range).map((f) => f.flag)));
  t.deepEqual([...ranged].sort(), ['--batch', '--faithfulness-steps', '--ig-max-steps', '--ig-steps', '--k', '--limit', '--max-channels', '--occlusion-stride', '--occlusion-window', '--sanity-steps', '--scorecam-channels', '--seed', '--size', '--smoothgrad-samples', '--smoothgrad-sigma', '--square', '--steps', '--stride']);
  t.is(parseFlag('--k', undefined).k, 9);
  t.deepEqual(sizeOf(parseFlag('--size', '256,320').size as number[]), [256, 320]);
  t.throws(() => parseFlag('--size', '0'), { message: /--size 0 is out of range/ });
  t.throws(() => parseFlag('--units', 'strongest:0'), { message: /^--units "strongest:0": N in strongest:N must be an integer >= 1/ });
  t.throws(() => parseFlag('--units', '3,-1'), { message: /^--units "3,-1": unit -1 is out of range/ });
});

test('checks against the model: units, unit, position, class, size, occlusion square', (t) => {
  const net = tinyVgg(32);
  t.throws(() => checkUnitSelection({ strongest: 100000 }, 16, 'block2_conv1'), { message: '--units strongest:100000 asks for more units than block2_conv1 has (16 channels)' });
  t.throws(() => checkUnitSelection({ spread: 17 }, 16, 'block2_conv1'), { message: /--units spread:17/ });
  t.throws(() => checkUnitSelection([0, 16, 99], 16, 'block2_conv1'), { message: '--units 16,99 is out of range: block2_conv1 has 16 channels' });
  t.notThrows(() => checkUnitSelection({ strongest: 16 }, 16, 'block2_conv1'));
  t.throws(() => checkTargetForModel(net, { layer: 'conv2_1', unit: 16 }, [32, 32]), { message: '--unit 16 is out of range: block2_conv1 has 16 channels' });
  t.throws(() => checkTargetForModel(net, { layer: 'block2_conv1', unit: 1, position: [16, 0] }, [32, 32]), { message: /--position 16,0 is outside block2_conv1's 16x16 map/ });
  t.throws(() => checkTargetForModel(net, { layer: 'nope', unit: 1 }, [32, 32]), { message: /unknown layer "nope"/ });
  t.throws(() => checkTargetForModel(net, { classIndex: 3 }, [32, 32]), { message: /--class 3 is out of range: tiny_vgg's head has 3 classes/ });
  t.throws(() => checkTargetForModel(net, { classIndex: 1 }, [64, 64]), { message: /native input size/ });
  t.throws(() => checkTargetForModel(net, { layer: 'block2_conv1', unit: 1 }, [32, 32], 'nope'), { message: /unknown layer "nope"/ });
  t.notThrows(() => checkTargetForModel(net, { layer: 'block2_conv1', unit: 15, position: [15, 15] }, [32, 32]));
  t.throws(() => checkSizeForModel(net, [2, 2]), { message: new RegExp(`--size 2 is out of range: it must be an integer >= ${net.minInputSize}`) });
  t.throws(() => checkOcclusionFlags([32, 32], 40, undefined), { message: /--square 40 is out of range: it must be an integer >= 1 and <= 32/ });
  net.dispose();
});

test.serial('memory estimate: grows with the pixels and the batch; refuses above the budget naming --size and a size that fits', (t) => {
  const net = tinyVgg(32);
  const plan = { layer: 'block2_conv2', gradientBatch: 1, forwardBatch: 0 };
  const small = estimateMemory(net, { ...plan, size: [256, 256] });
  const big = estimateMemory(net, { ...plan, size: [512, 512] });
  const batched = estimateMemory(net, { ...plan, size: [256, 256], gradientBatch: 5 });
  t.true(big.tensorBytes > 3.5 * (small.tensorBytes - 1e6));
  t.true(batched.processBytes > small.processBytes);
  const before = process.env.CONVLAB_MAX_MEMORY_GB;
  try {
    process.env.CONVLAB_MAX_MEMORY_GB = '1';
    t.notThrows(() => checkRunMemory(net, { ...plan, size: [64, 64] }, 'cpu', 'attribute'));
    const err = t.throws(() => checkRunMemory(net, { ...plan, size: [4000, 4000] }, 'cpu', 'attribute'), { instanceOf: ConvlabError });
    t.regex(err!.message, /^attribute at --size 4000 needs about [\d.]+ GB of memory, more than the 1\.0 GB available$/);
    const fit = Number(/try --size (\d+) or smaller/.exec((err as ConvlabError).hint ?? '')?.[1]);
    t.true(fit >= 64 && fit < 4000, (err as ConvlabError).hint);
    t.notThrows(() => checkRunMemory(net, { ...plan, size: [fit, fit] }, 'cpu', 'attribute'));
    // The wasm heap holds at most 4 GB of tensors, whatever the machine has.
    process.env.CONVLAB_MAX_MEMORY_GB = '1000000';
    const huge = { ...plan, size: [8000, 8000] as [number, number], gradientBatch: 5 };
    t.true(estimateMemory(net, huge).tensorBytes > WASM_HEAP_BYTES);
    t.notThrows(() => checkRunMemory(net, huge, 'native', 'attribute'));
    t.throws(() => checkRunMemory(net, huge, 'wasm', 'attribute'), { message: /more than the wasm backend's 4\.3 GB heap/ });
  } finally {
    if (before === undefined) delete process.env.CONVLAB_MAX_MEMORY_GB;
    else process.env.CONVLAB_MAX_MEMORY_GB = before;
    net.dispose();
  }
});

test('a batch skips an unreadable image, reports it, records it and finishes the others', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-batch-'));
  const a = join(dir, 'a.png');
  const b = join(dir, 'b.png');
  const broken = join(dir, 'broken.jpg');
  await saveImage(image32(41), a);
  await saveImage(image32(7), b);
  await writeFile(broken, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 1, 2, 3]));
  const net = tinyVgg(32);
  const target = { layer: 'block2_conv1', unit: 3 };
  const skipped: string[] = [];
  const onSkip = (file: string) => skipped.push(file);
  const out = join(dir, 'out');
  const r = await runAttribute(net, { images: [a, broken, b], out, ...target, methods: ['saliency'] }, { onSkip });
  t.deepEqual(skipped, [broken]);
  t.deepEqual(r.failed?.map((f) => f.file), [broken]);
  t.deepEqual(r.maps.map((m) => m.image), [a, b]);
  const record = JSON.parse(await readFile(r.record, 'utf8'));
  t.is(record.extra.failed[0].file, broken);
  t.regex(record.extra.failed[0].error, /cannot (decode|read) image/);
  // The report reads each image once: the bad one is reported once, its other parts see only the good ones.
  skipped.length = 0;
  const rep = await runReport(net, { images: [a, broken], out: join(dir, 'report'), ...target, methods: ['saliency'], square: 8, stride: 8 }, { onSkip });
  t.deepEqual(skipped, [broken]);
  t.true(rep.files.some((f) => f.endsWith('occlusion-block2_conv1-unit3.json')));
  // One image that cannot be read, or all of them: an error, nothing to show.
  await t.throwsAsync(runProject(net, { images: [broken], out: join(dir, 'one'), ...target }, { onSkip }), { instanceOf: ConvlabError, message: /cannot (decode|read) image/ });
  await t.throwsAsync(runProject(net, { images: [broken, broken], out: join(dir, 'all'), ...target }, { onSkip }), { message: /none of the 2 images could be read/ });
  t.false(existsSync(join(dir, 'one')) || existsSync(join(dir, 'all')));
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('a run never writes over one of its input images', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-inputs-'));
  const a = join(dir, 'in.png');
  // An earlier run's output given back as an input, with the output folder the same folder.
  const earlier = join(dir, 'attr-in-block2_conv1-unit3-saliency.png');
  await saveImage(image32(41), a);
  await saveImage(image32(9), earlier);
  const before = await readFile(earlier);
  const net = tinyVgg(32);
  await t.throwsAsync(runAttribute(net, { images: [a, earlier], out: dir, layer: 'block2_conv1', unit: 3, methods: ['saliency'] }), {
    message: /would be written over the input image .*attr-in-block2_conv1-unit3-saliency\.png/,
  });
  t.deepEqual(await readFile(earlier), before);
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});
