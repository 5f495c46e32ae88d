import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo, allSections } from '../src/index.js';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

test('every demo section runs in quick mode and lands on the page', async (t) => {
  const outDir = await mkdtemp(join(tmpdir(), 'convlab-demo-'));
  try {
    const logs: string[] = [];
    const result = await runDemo({ root, outDir, quick: true, backend: process.env.CONVLAB_BACKEND ?? 'auto', log: (l) => logs.push(l) });
    const failed = result.sections.filter((s) => !s.ok);
    t.deepEqual(failed, [], logs.join('\n'));
    t.is(result.sections.length, allSections.length);
    const html = await readFile(result.page, 'utf8');
    for (const s of allSections) t.true(html.includes(s.title), `page has section ${s.title}`);
    const record = JSON.parse(await readFile(join(outDir, 'demo.json'), 'utf8'));
    t.is(record.sections.length, allSections.length);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

test('an unknown section name is a clear error', async (t) => {
  await t.throwsAsync(runDemo({ root, outDir: join(tmpdir(), 'convlab-demo-x'), only: ['nope'] }), { message: /unknown demo section "nope"/ });
});
