/**
 * Each CLI's main path on the bundled samples, run as a user runs it (the bin, a child process, the
 * backend CONVLAB_BACKEND names, wasm by default here): exit 0, the files it says it wrote, and a run
 * record naming the backend.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateRunRecord } from '@convlab/core';
import { ROOT, runCli } from '../bad-input/harness.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'convlab-e2e-'));
const asset = (p: string) => join(ROOT, 'assets', p);

test.serial('convlab-style: a small stylization writes the image, its run record and loss plot', async (t) => {
  const dir = tmp();
  const output = join(dir, 'stylized.png');
  const r = await runCli('style', ['--content', asset('content/tubingen.jpg'), '--style', asset('style/starry_night.jpg'), '--size', '128', '--iterations', '4', '--output', output, '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(output));
  const record = JSON.parse(readFileSync(output.replace(/\.png$/, '.json'), 'utf8'));
  t.truthy(record.backend);
  t.truthy(record.parameters);
  t.notThrows(() => validateRunRecord(record), 'the one run-record format');
  t.true(existsSync(join(dir, 'stylized-loss.png')));
});

test.serial('convlab-deconv: attribute on a bundled photo writes a map per method and a report', async (t) => {
  const out = join(tmp(), 'attr');
  const r = await runCli('deconv', ['attribute', asset('content/dog.jpg'), '--layer', 'block_6_expand_relu', '--unit', 'strongest', '--size', '96', '--methods', 'deconvnet,guided,gradcam', '--out', out]);
  t.is(r.code, 0, r.stderr);
  const files = readdirSync(out, { recursive: true }).map(String);
  t.true(files.some((f) => f.endsWith('.png')), files.join(', '));
  t.true(files.some((f) => f.endsWith('.json')), files.join(', '));
});

test.serial('convlab-deconv: layers lists the default model with shapes and receptive fields', async (t) => {
  const r = await runCli('deconv', ['layers']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /block_6_expand_relu/);
});

test.serial('convlab-caption: predict captions the bundled photos with the default shipped model', async (t) => {
  const photos = ['dog.jpg', 'eagle.jpg'].map((p) => asset(`content/${p}`));
  const r = await runCli('caption', ['predict', ...photos, '--json']);
  t.is(r.code, 0, r.stderr);
  // --json prints the run record (core's one format), with the captions under extra.results.
  const record = JSON.parse(r.stdout);
  t.notThrows(() => validateRunRecord(record));
  t.is(record.tool, 'caption-predict');
  t.truthy(record.backend);
  const items = record.extra.results;
  t.is(items.length, 2);
  for (const item of items) t.true(String(item.caption).split(' ').length >= 2, JSON.stringify(item));
});

test.serial('convlab-models: list names the offline models and where their weights are', async (t) => {
  const r = await runCli('models', ['list']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /mobilenet_v2/);
  t.regex(r.stdout, /inception_v3/);
});
