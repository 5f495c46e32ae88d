import test from 'ava';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, initEngine, tf } from '@convlab/core';
import { findNsfwjsDir, readNsfwjsArtifacts } from '../src/index.js';

let tmp: string;
const source = (): string => join(findNsfwjsDir()!, 'dist', 'models', 'mobilenet_v2');

test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
  tmp = await mkdtemp(join(tmpdir(), 'convlab-nsfwjs-'));
});
test.after.always(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function copyModel(name: string): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const f of ['model.min.js', 'group1-shard1of1.min.js']) await copyFile(join(source(), f), join(dir, f));
  return dir;
}

test('finds the nsfwjs package although it does not export its model files', (t) => {
  const dir = findNsfwjsDir();
  t.truthy(dir);
  t.regex(dir!, /nsfwjs$/);
});

test('decodes topology, uint8 weight specs and weight bytes into ModelArtifacts', async (t) => {
  const artifacts = await readNsfwjsArtifacts('mobilenet_v2');
  const specs = artifacts.weightSpecs!;
  t.is(specs.length, 266);
  t.true(specs.every((s) => s.quantization?.dtype === 'uint8'));
  const bytes = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  t.is((artifacts.weightData as ArrayBuffer).byteLength, bytes);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  t.true(model.weights.every((w) => w.dtype === 'float32'));
  // Dequantized values are min + scale * q: the first weight's values lie within its quantization range.
  const q = specs[0].quantization!;
  const values = model.getLayer('Conv1').getWeights()[0];
  const lo = tf.min(values).dataSync()[0];
  t.true(lo >= (q.min ?? 0) - 1e-6);
  model.dispose();
});

test('a truncated weight shard gives a clear ConvlabError', async (t) => {
  const dir = await copyModel('truncated');
  const shard = join(dir, 'group1-shard1of1.min.js');
  const text = await readFile(shard, 'utf8');
  await writeFile(shard, text.slice(0, Math.floor(text.length / 2)));
  const err = await t.throwsAsync(readNsfwjsArtifacts('mobilenet_v2', dir), { instanceOf: ConvlabError });
  t.regex(err!.message, /group1-shard1of1\.min\.js|bytes/);
});

test('a shard whose base64 is cut short gives a clear ConvlabError', async (t) => {
  const dir = await copyModel('short');
  const shard = join(dir, 'group1-shard1of1.min.js');
  const text = await readFile(shard, 'utf8');
  // Keep valid JavaScript but drop a third of the base64 payload.
  const m = /"([A-Za-z0-9+/=]{1000,})"/.exec(text)!;
  await writeFile(shard, text.replace(m[1], m[1].slice(0, Math.floor((m[1].length * 2) / 3 / 4) * 4)));
  const err = await t.throwsAsync(readNsfwjsArtifacts('mobilenet_v2', dir), { instanceOf: ConvlabError });
  t.regex(err!.message, /bytes, the manifest needs/);
});

test('a missing shard or a garbage topology file gives a clear ConvlabError', async (t) => {
  const dir = await copyModel('missing');
  await rm(join(dir, 'group1-shard1of1.min.js'));
  const err = await t.throwsAsync(readNsfwjsArtifacts('mobilenet_v2', dir), { instanceOf: ConvlabError });
  t.regex(err!.message, /missing nsfwjs model file .*group1-shard1of1\.min\.js/);

  const dir2 = await copyModel('garbage');
  await writeFile(join(dir2, 'model.min.js'), 'this is not {javascript');
  const err2 = await t.throwsAsync(readNsfwjsArtifacts('mobilenet_v2', dir2), { instanceOf: ConvlabError });
  t.regex(err2!.message, /cannot read nsfwjs model file .*model\.min\.js/);

  const dir3 = await copyModel('empty');
  await writeFile(join(dir3, 'model.min.js'), 'module.exports = {}');
  await t.throwsAsync(readNsfwjsArtifacts('mobilenet_v2', dir3), { instanceOf: ConvlabError, message: /does not hold a model topology/ });
});
