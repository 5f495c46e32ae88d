import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/commands.js';

const never = new AbortController().signal;
const photo = join(import.meta.dirname, '../../../assets/content/kite.jpg');

async function quiet<T>(f: () => Promise<T>): Promise<{ value: T; stderr: string; stdout: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
  process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write;
  try {
    return { value: await f(), stderr: err.join(''), stdout: out.join('') };
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
}

test.serial('convlab-deconv attribute --class by name: the head\'s names, and one error with the closest names before any image is read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-cli-class-'));
  const err = await quiet(() => t.throwsAsync(main(['attribute', photo, '--class', 'nutral', '--methods', 'gradcam', '--out', join(dir, 'a'), '--backend', 'wasm'], never)));
  t.regex(err.value!.message, /--class "nutral" is not one of mobilenet_v2's 5 classes/);
  t.regex((err.value as unknown as { hint: string }).hint, /closest: 2 Neutral/);
  t.deepEqual(await readdir(dir), [], 'nothing written');
  await quiet(() => main(['attribute', photo, '--class', 'neutral', '--methods', 'gradcam', '--faithfulness-steps', '3', '--out', join(dir, 'b'), '--backend', 'wasm'], never));
  const record = JSON.parse(await readFile(join(dir, 'b', 'attr-class2.json'), 'utf8'));
  t.is(record.parameters.class, 'neutral');
  t.is(record.extra.maps[0].maps[0].target.index, 2);
  t.is(record.extra.maps[0].top5.length, 5);
  t.true(['nsfwjs', 'imagenet', 'file', 'random'].includes(record.model.weights.kind));
  t.is(typeof record.extra.maps[0].maps[0].faithfulness.deletion, 'number');
  await rm(dir, { recursive: true, force: true });
});

test.serial('convlab-deconv featureviz and deepdream: flags from the schema, images and run records', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-cli-fv-'));
  const fv = await quiet(() =>
    main(['featureviz', '--objective', 'block_3_expand_relu:5', '--size', '64', '--copies', '2', '--steps', '4', '--param', 'fourier', '--tv', '0.1', '--seed', '3', '--out', join(dir, 'fv'), '--backend', 'wasm'], never),
  );
  t.regex(fv.stderr, /featureviz: objective .* -> /);
  const files = await readdir(join(dir, 'fv'));
  t.true(files.includes('featureviz-block_3_expand_relu_5-0.png') && files.includes('featureviz-block_3_expand_relu_5-1.png') && files.includes('featureviz-block_3_expand_relu_5.json'));
  const rec = JSON.parse(await readFile(join(dir, 'fv', 'featureviz-block_3_expand_relu_5.json'), 'utf8'));
  t.like(rec.parameters, { objective: 'block_3_expand_relu:5', size: 64, copies: 2, steps: 4, param: 'fourier', tv: 0.1, seed: 3 });
  await quiet(() => main(['deepdream', '--image', photo, '--objective', 'block_3_expand_relu', '--size', '64', '--steps', '4', '--octaves', '2', '--out', join(dir, 'dd'), '--backend', 'wasm'], never));
  t.true((await readdir(join(dir, 'dd'))).includes('deepdream-kite-block_3_expand_relu.png'));
  await t.throwsAsync(quiet(() => main(['featureviz', '--objective', 'x:1', '--param', 'wavelet'], never)), { message: /param/ });
  await t.throwsAsync(quiet(() => main(['deepdream', '--image', join(dir, 'missing.jpg'), '--objective', 'block_3_expand_relu', '--out', join(dir, 'dd2')], never)), { message: /missing\.jpg/ });
  await rm(dir, { recursive: true, force: true });
});
