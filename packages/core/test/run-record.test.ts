import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convlabVersion, createRunRecord, type RunRecordJson } from '../src/run-record.js';

test('a record round-trips through JSON with environment, timings, steps and extras', async (t) => {
  let clock = Date.UTC(2026, 0, 2, 3, 4, 5);
  const rec = createRunRecord({ tool: 'style-transfer', parameters: { styleWeight: 100, layers: ['conv1_1'] }, seed: 7, backend: 'wasm', model: { name: 'vgg19' } }, () => clock);
  rec.log(0, { loss: 1000, style: 900 });
  rec.log(10, { loss: 10, style: Number.NaN });
  rec.time('forward', 12.5);
  rec.time('forward', 7.5);
  const r = await rec.measure('sync', () => 42);
  t.is(r, 42);
  rec.set('output', 'out.png');
  clock += 61_500;
  rec.finish();
  clock += 99_000; // after finish() the end time stays fixed

  const dir = await mkdtemp(join(tmpdir(), 'convlab-rr-'));
  try {
    const path = join(dir, 'sub', 'run.json');
    await rec.save(path);
    const json = JSON.parse(await readFile(path, 'utf8')) as RunRecordJson;
    t.deepEqual(json, JSON.parse(JSON.stringify(rec.toJSON())));
    t.is(json.tool, 'style-transfer');
    t.is(json.seed, 7);
    t.is(json.backend, 'wasm');
    t.deepEqual(json.model, { name: 'vgg19' });
    t.deepEqual(json.parameters, { styleWeight: 100, layers: ['conv1_1'] });
    t.is(json.convlabVersion, convlabVersion());
    t.regex(json.convlabVersion, /^\d+\.\d+\.\d+/);
    t.is(json.environment.node, process.version);
    t.true(json.environment.cpus >= 1);
    t.is(json.startedAt, '2026-01-02T03:04:05.000Z');
    t.is(json.totalSeconds, 61.5);
    t.deepEqual(json.timings.forward, { totalMs: 20, count: 2 });
    t.is(json.timings.sync.count, 1);
    t.deepEqual(json.steps[0], { step: 0, loss: 1000, style: 900 });
    t.is(json.steps[1].style as unknown, 'NaN');
    t.deepEqual(json.extra, { output: 'out.png' });
    // Atomic: no temporary files left next to it.
    t.deepEqual(await readdir(join(dir, 'sub')), ['run.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a record needs a tool name; toJSON snapshots are independent copies', (t) => {
  t.throws(() => createRunRecord({ tool: '', parameters: {} }), { message: /tool/ });
  const rec = createRunRecord({ tool: 'x', parameters: {} });
  const a = rec.toJSON();
  rec.log(1, { loss: 1 });
  t.is(a.steps.length, 0);
  t.is(rec.toJSON().steps.length, 1);
  t.false('seed' in a);
});

test('records validate against the one run-record schema, and the checked-in JSON Schema is current', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { runRecordJsonSchema, validateRunRecord } = await import('../src/index.js');
  const r = createRunRecord({ tool: 'x', parameters: { beam: 3 }, seed: 1, backend: 'wasm', model: { name: 'm' } });
  r.log(1, { loss: 2, bad: NaN });
  r.time('a', 3);
  r.finish();
  t.notThrows(() => validateRunRecord(JSON.parse(JSON.stringify(r.toJSON()))));
  t.throws(() => validateRunRecord({ ...r.toJSON(), tool: '' }), { message: /run record: tool/ });
  const file = JSON.parse(readFileSync(new URL('../run-record.schema.json', import.meta.url), 'utf8'));
  t.deepEqual(file, runRecordJsonSchema(), 'regenerate with: npx tsx packages/core/scripts/write-run-record-schema.ts');
});
