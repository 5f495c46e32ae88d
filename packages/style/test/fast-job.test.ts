/**
 * The `style.fast` job kind (src/jobs.ts): a photo through a bundled feed-forward network. The bundled folder is
 * a temporary one (CONVLAB_FAST_NETS_DIR, set before the kinds module is imported) holding a tiny random
 * network; the kind's schema lists it as an enum and refuses anything else (a path above all); the job writes
 * result.png (equal to fastStylize's image) and run.json with the network's milliseconds. Without bundled
 * networks the schema refuses every name with the train-fast command.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, optionsJsonSchema, parseOptions, type OptionsSchema } from '@convlab/core/light';
import { loadImage } from '@convlab/core';
import { runKind } from '@convlab/jobs/testing';
import type { JobKind } from '@convlab/jobs/kind';
import { createTransformNet } from '../src/johnson.js';
import { bundledFastNets, fastStylize, resolveFastNet, saveTransformNet } from '../src/fast-io.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const CONTENT = fileURLToPath(new URL('../../../assets/content/tubingen.jpg', import.meta.url));
const nets = mkdtempSync(join(tmpdir(), 'convlab-fast-nets-'));
process.env.CONVLAB_FAST_NETS_DIR = nets;
const tn = createTransformNet({ channels: 4, residualBlocks: 1 }, { seed: 11 });
await saveTransformNet(tn, join(nets, 'tiny_scream'));
tn.dispose();
// Imported after the bundled folder is set and filled: the schema's enum is read at import.
const { fastKind, jobKinds, FAST_JOB_NETS } = await import('../src/jobs.js');
type FastJobResult = import('../src/jobs.js').FastJobResult;

test.after.always(() => rmSync(nets, { recursive: true, force: true }));

test('CONVLAB_FAST_NETS_DIR is the bundled folder: listed and resolved by name', (t) => {
  t.deepEqual(bundledFastNets(), ['tiny_scream']);
  t.is(resolveFastNet('tiny_scream'), join(nets, 'tiny_scream'));
  t.deepEqual(FAST_JOB_NETS, ['tiny_scream']);
  const err = t.throws(() => resolveFastNet('the_scream'), { instanceOf: ConvlabError });
  t.regex(err!.hint ?? '', /bundled: tiny_scream/);
});

test('the style.fast schema: net is an enum of the bundled names, never a path; content is an image field; size optional', (t) => {
  t.true(jobKinds.some((k: JobKind) => k.kind === 'style.fast'));
  t.false(fastKind.heavy);
  const schema = optionsJsonSchema(fastKind.input as OptionsSchema) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  t.deepEqual(schema.properties.net.enum, ['tiny_scream']);
  t.regex(String(schema.properties.net.train), /train-fast .*--out .*the_scream$/, 'the schema carries the train command for a page');
  t.is(schema.properties.content.image, true);
  t.deepEqual(schema.required?.sort(), ['content', 'net']);
  t.is(schema.properties.size.minimum, 16);
  const parse = (raw: Record<string, unknown>) => parseOptions(fastKind.input as OptionsSchema, raw, 'http');
  t.notThrows(() => parse({ net: 'tiny_scream', content: CONTENT }));
  for (const net of [join(nets, 'tiny_scream'), '../fast-nets/tiny_scream', 'the_scream', '']) {
    t.throws(() => parse({ net, content: CONTENT }), { instanceOf: ConvlabError, message: /^net/ }, net);
  }
  t.throws(() => parse({ net: 'tiny_scream', content: CONTENT, size: 8 }), { instanceOf: ConvlabError, message: /^size 8/ });
  t.throws(() => parse({ net: 'tiny_scream', content: CONTENT, backend: 'cpu' }), { instanceOf: ConvlabError, message: /backend/ });
});

test.serial('style.fast writes result.png (the network applied to the photo) and run.json with the ms', async (t) => {
  const run = await runKind<FastJobResult>(fastKind as unknown as JobKind, { net: 'tiny_scream', content: CONTENT, size: 96 });
  try {
    const r = run.result;
    t.like(r, { image: 'result.png', record: 'run.json', net: 'tiny_scream', width: 96, height: 72 });
    t.true(r.ms > 0 && r.seconds > 0);
    const got = await loadImage(join(run.dir, 'result.png'));
    const want = await fastStylize({ net: join(nets, 'tiny_scream'), content: CONTENT, out: 'unused.png', size: 96 });
    t.deepEqual(got.data, want.image.data, 'the job wrote what the network makes of the photo');
    const record = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8')) as { tool: string; timings: Record<string, unknown>; extra: Record<string, unknown>; model: { name: string } };
    t.is(record.tool, 'convlab-style fast');
    t.is(record.model.name, 'johnson2016-instancenorm');
    t.like(record.extra, { outputs: { image: 'result.png', record: 'run.json' }, job: { net: 'tiny_scream', size: 96 } });
    t.regex(JSON.stringify(record.timings), /network/);
    t.deepEqual(run.artifacts.map((a) => a.path), ['result.png', 'run.json']);
    t.regex(run.artifacts[0].label!, /tiny_scream, 96x72, network \d+ ms/);
    t.deepEqual(run.progress.map((p) => p.done), [0, 1]);
    t.is(run.backends.length, 1);
  } finally {
    run.cleanup();
  }
});

test.serial('without size, a photo keeps its size (up to the cap)', async (t) => {
  const run = await runKind<FastJobResult>(fastKind as unknown as JobKind, { net: 'tiny_scream', content: CONTENT });
  try {
    const photo = await loadImage(CONTENT);
    t.deepEqual([run.result.width, run.result.height], [photo.width, photo.height]);
  } finally {
    run.cleanup();
  }
});

test('with no bundled network the schema refuses every name and says how to train one; the module still loads no tfjs', (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'convlab-no-nets-'));
  try {
    const code = `
      const { fastKind } = await import('@convlab/style/jobs');
      const { parseOptions, optionsJsonSchema } = await import('@convlab/core/light');
      const { createRequire } = await import('node:module');
      const heavy = Object.keys(createRequire(import.meta.url).cache).filter((k) => /@tensorflow|[\\\\/]sharp[\\\\/]/.test(k));
      let message = '';
      try { parseOptions(fastKind.input, { net: 'the_scream', content: '/x.jpg' }, 'http'); } catch (e) { message = e.message; }
      console.log(JSON.stringify({ heavy, message, net: optionsJsonSchema(fastKind.input).properties.net }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@convlab/source', '--input-type=module', '-e', code], { cwd: PKG, encoding: 'utf8', env: { ...process.env, CONVLAB_FAST_NETS_DIR: empty } });
    t.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { heavy: string[]; message: string; net: { enum?: unknown; train?: string } };
    t.deepEqual(out.heavy, []);
    t.regex(out.message, /^net "the_scream": no fast networks are bundled .* train one: node apps\/style-transfer\/bin\/convlab-style\.js train-fast --style assets\/style\/the_scream\.jpg/);
    t.is(out.net.enum, undefined);
    t.is(out.net.train, `node apps/style-transfer/bin/convlab-style.js train-fast --style assets/style/the_scream.jpg --content-dir photos/ --out ${join(empty, 'the_scream')}`);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
