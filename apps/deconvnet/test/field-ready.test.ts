/**
 * Bad input, refused before any work with one message naming the flag; batches that skip a bad image;
 * the memory estimate; output folders that are never inputs.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, saveImage } from '@convlab/core';
import {
  FLAG_RANGES,
  checkOcclusionFlags,
  checkSizeForModel,
  checkTargetForModel,
  checkUnitSelection,
  joinNegativeValues,
  parseIntFlag,
  parseNumberFlag,
  parseSize,
  parseUnits,
} from '../src/cli-args.js';
import { checkRunMemory, estimateMemory, WASM_HEAP_BYTES } from '../src/memory-estimate.js';
import { runAttribute, runProject, runReport } from '../src/runs.js';
import { tinyVgg } from './helpers/nets.js';

const image32 = (k: number) => ({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * k) % 256) });

test('numeric flags: out of range or not a number, one message naming the flag and its range', (t) => {
  t.throws(() => parseIntFlag('0', '--k', 9), { instanceOf: ConvlabError, message: '--k 0 is out of range: it must be an integer >= 1 and <= 100' });
  t.throws(() => parseNumberFlag('-1', '--smoothgrad-sigma', 0.15), { message: '--smoothgrad-sigma -1 is out of range: it must be a number > 0 and <= 5' });
  t.throws(() => parseNumberFlag('abc', '--smoothgrad-sigma', 0.15), { message: /--smoothgrad-sigma "abc" is not a number/ });
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
    ['--unit', '-1'],
    ['--class', '2.5'],
  ];
  for (const [flag, value] of bad) {
    const err = t.throws(() => parseIntFlag(value, flag, 1), { instanceOf: ConvlabError }, `${flag} ${value}`);
    t.true(err!.message.startsWith(`${flag} ${value} is out of range`), err!.message);
  }
  t.is(Object.keys(FLAG_RANGES).length, 16);
  t.is(parseIntFlag(undefined, '--k', 9), 9);
  t.deepEqual(parseSize('256,320'), [256, 320]);
  t.throws(() => parseSize('0'), { message: /--size 0 is out of range/ });
  t.throws(() => parseUnits('strongest:0'), { message: /--units strongest:0 is out of range/ });
  t.throws(() => parseUnits('3,-1'), { message: /--units -1 is out of range/ });
});

test('a negative number after a flag reaches the range check instead of parseArgs', (t) => {
  const options = { lr: { type: 'string' as const }, sort: { type: 'boolean' as const } };
  t.deepEqual(joinNegativeValues(['--lr', '-1', '--sort', 'x'], options), ['--lr=-1', '--sort', 'x']);
  t.deepEqual(joinNegativeValues(['--lr', '-.5'], options), ['--lr=-.5']);
  t.deepEqual(joinNegativeValues(['--sort', '-1'], options), ['--sort', '-1']);
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
  const r = await runAttribute({ model: net, images: [a, broken, b], outDir: out, target, methods: ['saliency'], onSkip });
  t.deepEqual(skipped, [broken]);
  t.deepEqual(r.failed?.map((f) => f.file), [broken]);
  t.deepEqual(r.maps.map((m) => m.image), [a, b]);
  const record = JSON.parse(await readFile(r.record, 'utf8'));
  t.is(record.extra.failed[0].file, broken);
  t.regex(record.extra.failed[0].error, /cannot (decode|read) image/);
  // The report reads each image once: the bad one is reported once, its other parts see only the good ones.
  skipped.length = 0;
  const rep = await runReport({ model: net, images: [a, broken], outDir: join(dir, 'report'), target, methods: ['saliency'], occlusion: { size: 8, stride: 8 }, onSkip });
  t.deepEqual(skipped, [broken]);
  t.true(rep.files.some((f) => f.endsWith('occlusion-block2_conv1-unit3.json')));
  // One image that cannot be read, or all of them: an error, nothing to show.
  await t.throwsAsync(runProject({ model: net, images: [broken], outDir: join(dir, 'one'), target, onSkip }), { instanceOf: ConvlabError, message: /cannot (decode|read) image/ });
  await t.throwsAsync(runProject({ model: net, images: [broken, broken], outDir: join(dir, 'all'), target, onSkip }), { message: /none of the 2 images could be read/ });
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
  await t.throwsAsync(runAttribute({ model: net, images: [a, earlier], outDir: dir, target: { layer: 'block2_conv1', unit: 3 }, methods: ['saliency'] }), {
    message: /would be written over the input image .*attr-in-block2_conv1-unit3-saliency\.png/,
  });
  t.deepEqual(await readFile(earlier), before);
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ the CLI (MobileNetV2, wasm)

const never = new AbortController().signal;

async function quietly<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; stderr: string }> {
  const err: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return { value: await fn(), stderr: err.join('') };
  } catch (error) {
    return { error, stderr: err.join('') };
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
}

test.serial('CLI: outputs are checked before the model loads, and never inside an image folder', async (t) => {
  const { main } = await import('../src/cli-main.js');
  const dir = await mkdtemp(join(tmpdir(), 'deconv-out-'));
  const photo = join(import.meta.dirname, '../../../assets/content/kite.jpg');
  const proc = await quietly(() => main(['attribute', photo, '--class', '2', '--out', '/proc/convlab/x', '--backend', 'wasm'], never));
  t.regex(String((proc.error as Error)?.message), /--out \/proc\/convlab\/x is on the proc pseudo file system/);
  t.notRegex(proc.stderr, /model mobilenet_v2/);
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  const parent = await quietly(() => main(['attribute', photo, '--class', '2', '--out', join(file, 'sub'), '--backend', 'wasm'], never));
  t.regex(String((parent.error as Error)?.message), /--out: cannot create folder .*a parent is a file/);
  const images = join(dir, 'images');
  await mkdir(images);
  await saveImage(image32(3), join(images, 'a.png'));
  const inside = await quietly(() => main(['top9', '--images', images, '--layer', 'block_1_expand_relu', '--out', join(images, 'results'), '--backend', 'wasm'], never));
  t.regex(String((inside.error as Error)?.message), /--out .*results is inside the image folder/);
  t.false(existsSync(join(images, 'results')), 'the refused output folder is removed again');
  await rm(dir, { recursive: true, force: true });
});

test.serial('CLI: attribute over a linked folder with a broken image skips it, finishes the others, exits 3', async (t) => {
  const { main } = await import('../src/cli-main.js');
  const dir = await mkdtemp(join(tmpdir(), 'deconv-linked-'));
  const real = join(dir, 'real');
  await mkdir(real);
  const assets = join(import.meta.dirname, '../../../assets/content');
  await writeFile(join(real, 'dog.jpg'), await readFile(join(assets, 'dog.jpg')));
  await writeFile(join(real, 'eagle.jpg'), await readFile(join(assets, 'eagle.jpg')));
  await writeFile(join(real, 'broken.jpg'), (await readFile(join(assets, 'dog.jpg'))).subarray(0, 600));
  const linked = join(dir, 'linked');
  await symlink(real, linked, 'dir');
  const out = join(dir, 'out');
  const r = await quietly(() => main(['attribute', linked, '--class', '2', '--methods', 'saliency', '--out', out, '--backend', 'wasm'], never));
  t.is(r.error, undefined, String(r.error));
  t.is(process.exitCode, 3);
  process.exitCode = undefined;
  t.regex(r.stderr, /skipped image .*broken\.jpg: cannot decode image/);
  t.regex(r.stderr, /1 of 3 images failed and were skipped/);
  const files = await readdir(out);
  t.true(files.includes('attr-dog-class2-saliency.png') && files.includes('attr-eagle-class2-saliency.png'), files.join(', '));
  const record = JSON.parse(await readFile(join(out, 'attr-class2.json'), 'utf8'));
  t.is(record.extra.failed.length, 1);
  // --units beyond the layer's channels: refused after the model loads, before the scan writes a cache.
  const out2 = join(dir, 'out2');
  const units = await quietly(() => main(['top9', '--images', linked, '--layer', 'block_1_expand_relu', '--units', 'strongest:100000', '--size', '64', '--out', out2, '--backend', 'wasm'], never));
  t.regex(String((units.error as Error)?.message), /--units strongest:100000 asks for more units than block_1_expand_relu has \(96 channels\)/);
  t.false(existsSync(out2), 'nothing left behind');
  await rm(dir, { recursive: true, force: true });
});
