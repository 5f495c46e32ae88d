/**
 * convlab-deconv refuses bad input before any work with one message naming the flag (the flags and
 * their ranges come from @convlab/visualize's schemas: packages/visualize/test/field-ready.test.ts);
 * outputs are checked before the model loads; batches skip a bad image and exit 3.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveImage } from '@convlab/core';

const image32 = (k: number) => ({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * k) % 256) });

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
  const { main } = await import('../src/commands.js');
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
  const { main } = await import('../src/commands.js');
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

test.serial('CLI: a negative number after a flag reaches the range check, before the model loads', async (t) => {
  const { main } = await import('../src/commands.js');
  const photo = join(import.meta.dirname, '../../../assets/content/kite.jpg');
  const dir = await mkdtemp(join(tmpdir(), 'deconv-neg-'));
  for (const [flag, value, message] of [
    ['--smoothgrad-sigma', '-1', /^--smoothgrad-sigma -1 is out of range: it must be a number > 0 and <= 5$/],
    ['--seed', '-.5', /^--seed -.5 is out of range: it must be an integer >= 0/],
    ['--position', '-1,2', /^--position "-1,2": is out of range/],
  ] as const) {
    const r = await quietly(() => main(['attribute', photo, '--layer', 'block_1_expand_relu', '--unit', '0', flag, value, '--out', join(dir, 'out'), '--backend', 'wasm'], never));
    t.regex(String((r.error as Error)?.message), message, `${flag} ${value}`);
    t.notRegex(r.stderr, /model mobilenet_v2/);
  }
  t.false(existsSync(join(dir, 'out')), 'nothing created');
  await rm(dir, { recursive: true, force: true });
});
