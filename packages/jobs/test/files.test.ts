import test from 'ava';
import { existsSync } from 'node:fs';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from '@convlab/core/light';
import { defineJobKind, isValidJobId, JobInputError, runJobInProcess, safeRelativePath, type RunEvent } from '../src/index.js';
import { eventsKind, sleepKind } from './fixtures/kinds.js';
import { closeAll, makeQueue, removeTempDirs, tempDir } from './helpers.js';

test.afterEach.always(closeAll);
test.after.always(removeTempDirs);

test.serial('filePath serves a job file and refuses traversal, absolute paths and links out of the folder', async (t) => {
  t.timeout(60_000);
  const { q, runsDir } = await makeQueue();
  const job = await q.submit('test.sleep', { tag: 't' }, { id: 'files-1' });
  await q.wait(job.id);
  const out = join(runsDir, 'files-1', 'files', 'out.txt');
  t.is(await q.filePath('files-1', 'out.txt'), out);
  const secret = join(await tempDir(), 'secret.txt');
  await writeFile(secret, 'not yours');
  await symlink(secret, join(runsDir, 'files-1', 'files', 'link.txt'));
  for (const bad of ['../job.json', 'files/../job.json', '..\\job.json', '/etc/passwd', secret, 'a//b', './out.txt', '', 'out.txt\0', 'link.txt']) {
    t.is(await q.filePath('files-1', bad), undefined, `refused ${JSON.stringify(bad)}`);
  }
  t.is(await q.filePath('files-1', 'missing.png'), undefined);
  t.is(await q.filePath('..', 'runs'), undefined);
  t.is(await q.filePath('no-such-job', 'out.txt'), undefined);
  // A folder is not a file.
  t.is(await q.filePath('files-1', 'files'), undefined);
});

test.serial('safeRelativePath and isValidJobId', (t) => {
  t.is(safeRelativePath('a/b.png'), 'a/b.png');
  t.is(safeRelativePath('a\\b.png'), 'a/b.png');
  for (const bad of ['', '/a', 'C:/x', 'C:', 'a/../b', '..', '.', 'a//b', 'a/', 'x\0y']) t.is(safeRelativePath(bad), undefined, bad);
  t.true(isValidJobId('demo.style_1-a'));
  t.true(isValidJobId('0'));
  for (const bad of ['', '.', '..', '.x', '_x', 'a/b', 'a b', 'é', 'x'.repeat(129)]) t.false(isValidJobId(bad), bad);
});

test.serial('runJobInProcess runs a kind here with the same context: events in order, files in dir, input parsed', async (t) => {
  const dir = join(await tempDir(), 'run');
  const events: RunEvent[] = [];
  const result = await runJobInProcess(eventsKind, { steps: 3 }, { id: 'local-1', dir, onEvent: (e) => events.push(e) });
  t.deepEqual(result, { steps: 3, finalVersion: 1 });
  t.deepEqual(
    events.map((e) => e.type),
    ['setBackend', 'progress', 'artifact', 'log', 'progress', 'artifact', 'log', 'progress', 'artifact', 'log', 'artifact'],
  );
  t.true(events.every((e) => e.id === 'local-1'));
  t.deepEqual(
    events.filter((e): e is Extract<RunEvent, { type: 'artifact' }> => e.type === 'artifact').map((e) => [e.artifact.path, e.artifact.version, e.artifact.label]),
    [
      ['current.txt', 1, 'step 1'],
      ['current.txt', 2, 'step 2'],
      ['current.txt', 3, 'step 3'],
      ['final.json', 1, undefined],
    ],
  );
  t.is(await readFile(join(dir, 'current.txt'), 'utf8'), 'step 3');
  t.deepEqual((await readdir(dir)).sort(), ['current.txt', 'final.json'], 'no temporary files left');
  // Defaults filled in by the kind's schema.
  const slept = await runJobInProcess(sleepKind, { ms: 0 }, { dir: join(dir, 'sleep') });
  t.is(slept.tag, '');
  const bad = await t.throwsAsync(runJobInProcess(sleepKind, { ms: 'soon' }, { dir }), { instanceOf: JobInputError });
  t.is(bad?.field, 'ms');
});

test.serial('runJobInProcess: the abort signal reaches the kind; artifact paths must stay inside the folder', async (t) => {
  const dir = join(await tempDir(), 'run');
  const controller = new AbortController();
  controller.abort(new Error('stop now'));
  await t.throwsAsync(runJobInProcess(sleepKind, { ms: 10_000 }, { dir, signal: controller.signal }), { message: 'stop now' });
  const escape = defineJobKind({
    kind: 'test.escape',
    title: 'Escape',
    description: 'tries to write outside its folder',
    input: z.object({ path: z.string() }),
    async run(input, ctx) {
      await ctx.artifact(input.path, 'x');
    },
  });
  await t.throwsAsync(runJobInProcess(escape, { path: '../outside.txt' }, { dir }), { message: /must be a relative path inside the job folder/ });
  await t.throwsAsync(runJobInProcess(escape, { path: '/tmp/outside.txt' }, { dir }), { message: /must be a relative path/ });
  t.false(existsSync(join(dir, '..', 'outside.txt')));
  const announceMissing = defineJobKind({
    kind: 'test.announce',
    title: 'Announce',
    description: 'announces a file it did not write',
    input: z.object({}),
    async run(_input, ctx) {
      await ctx.announce('ghost.png');
    },
  });
  await t.throwsAsync(runJobInProcess(announceMissing, {}, { dir }), { message: /no such file under the job folder/ });
  // Nested artifact folders are created; the mime type follows the extension.
  const nested = defineJobKind({
    kind: 'test.nested',
    title: 'Nested',
    description: 'writes into a sub-folder',
    input: z.object({}),
    async run(_input, ctx) {
      return ctx.artifact('maps/unit-3.png', new Uint8Array([137, 80, 78, 71]));
    },
  });
  const artifact = await runJobInProcess(nested, {}, { dir, baseVersion: 7 });
  t.deepEqual(artifact, { path: 'maps/unit-3.png', mime: 'image/png', bytes: 4, version: 8 });
  t.true(existsSync(join(dir, 'maps', 'unit-3.png')));
});
