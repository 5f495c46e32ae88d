import test from 'ava';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveImage } from '@convlab/core';
import { main } from '../src/commands.js';

const never = new AbortController().signal;

test.serial('convlab-deconv top9 on a generated folder: skips a bad file, writes figure + JSON, resumes from the cache', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-cli-'));
  const images = join(dir, 'images');
  for (let i = 0; i < 10; i++) {
    const data = Uint8Array.from({ length: 64 * 64 * 3 }, (_, k) => ((k % 192) * (i + 1) + (k >> 6) * 3) % 256);
    await saveImage({ width: 64, height: 64, data }, join(images, `img${i}.png`));
  }
  await writeFile(join(images, 'corrupt.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
  const out = join(dir, 'out');
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    const args = ['top9', '--images', images, '--layer', 'block_1_expand_relu', '--units', '0,5', '--size', '64', '--out', out, '--backend', 'wasm'];
    await main(args, never);
    await main(args, never);
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
  // A batch with a skipped file finishes with EXIT_SOME_FAILED (3), also when the failure is remembered by the cache.
  t.is(process.exitCode, 3);
  process.exitCode = undefined;
  const log = stderr.join('');
  t.regex(log, /skipped .*corrupt\.jpg/);
  t.regex(log, /1 file\(s\) could not be read and were skipped/);
  t.regex(log, /scanned 0 images .* 11 from the cache/);
  const files = await readdir(out);
  t.true(files.includes('top9-block_1_expand_relu.png') && files.includes('top9-block_1_expand_relu.html'));
  const record = JSON.parse(await readFile(join(out, 'top9-block_1_expand_relu.json'), 'utf8'));
  t.is(record.extra.units.length, 2);
  t.is(record.extra.units[0].top.length, 9);
  t.truthy(record.backend);
  await rm(dir, { recursive: true, force: true });
});

test.serial('convlab-deconv attribute writes maps, a grid, a run record and a self-contained HTML report', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-cli-'));
  const photo = join(import.meta.dirname, '../../../assets/content/kite.jpg');
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await t.throwsAsync(main(['attribute', photo, '--class', '2', '--size', '160', '--out', dir, '--backend', 'wasm'], never), { message: /native input size 224x224/ });
    await main(['attribute', photo, '--class', '2', '--methods', 'gradcam,guided', '--out', dir, '--backend', 'wasm'], never);
    await t.throwsAsync(main(['attribute', photo, '--layer', 'nope', '--unit', '1', '--out', dir, '--backend', 'wasm'], never), { message: /unknown layer "nope"/ });
    await t.throwsAsync(main(['bogus'], never), { message: /unknown command "bogus"/ });
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
  const files = await readdir(dir);
  t.true(files.includes('attr-kite-class2-gradcam.png') && files.includes('attr-kite-class2-guided.png') && files.includes('attr-class2-grid.png'));
  const html = await readFile(join(dir, 'attr-class2.html'), 'utf8');
  t.regex(html, /data:image\/(png|jpeg);base64,/);
  t.regex(html, /attr-class2\.json/);
  const record = JSON.parse(await readFile(join(dir, 'attr-class2.json'), 'utf8'));
  t.deepEqual(record.parameters.methods, ['gradcam', 'guided']);
  await rm(dir, { recursive: true, force: true });
});

test.serial('--help and each command --help are generated from the option schemas', async (t) => {
  const help = async (args: string[]) => {
    const out: string[] = [];
    const writeOut = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await main(args, never);
    } finally {
      process.stdout.write = writeOut;
    }
    return out.join('').replace(/\s+/g, ' ');
  };
  const top = await help(['--help']);
  for (const name of ['attribute', 'project', 'occlusion', 'top9', 'features', 'filters', 'sanity', 'report', 'figure', 'layers']) t.regex(top, new RegExp(`${name} \\[options\\]`), name);
  t.is(await help([]), top);
  const top9 = await help(['top9', '--help']);
  t.regex(top9, /--k <N> activations shown per unit \(integer >= 1 and <= 100; default 9\)/);
  t.regex(top9, /--units <UNITS> units: 3,17,42, strongest:N .* default spread:16/);
  t.regex(top9, /--no-unit-images/);
  t.regex(top9, /--model <NAME> .*\(default mobilenet_v2\)/);
  t.regex(top9, /--backend <auto\|tensorflow\|native\|wasm\|cpu>/);
  const attribute = await help(['attribute', '--help']);
  t.regex(attribute, /Usage: convlab-deconv attribute \[options\] \[images\.\.\.\]/);
  t.regex(attribute, /--unit <N\|strongest>/);
  t.regex(attribute, /--position <y,x\|argmax\|all> .*\(default argmax\)/);
  t.regex(attribute, /--smoothgrad-sigma <X> .*\(number > 0 and <= 5; default 0\.15\)/);
  t.notRegex(attribute, /--images/, 'images are positional');
  t.regex(await help(['sanity', '--help']), /--smoothgrad-samples <N> .*default 10\)/);
  t.is(await help(['help', 'occlusion']), await help(['occlusion', '--help']));
});
