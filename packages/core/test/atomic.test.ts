import test from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../src/atomic.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-atomic-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});


test('writes text, bytes and JSON, creating folders, leaving no temporary files', async (t) => {
  const sub = join(dir, 'x', 'y');
  await writeFileAtomic(join(sub, 'a.txt'), 'hello');
  await writeFileAtomic(join(sub, 'b.bin'), new Uint8Array([1, 2, 3]));
  await writeJsonAtomic(join(sub, 'c.json'), { losses: [1, 0.5], backend: 'cpu' });
  t.is(await readFile(join(sub, 'a.txt'), 'utf8'), 'hello');
  t.deepEqual([...(await readFile(join(sub, 'b.bin')))], [1, 2, 3]);
  const json = await readFile(join(sub, 'c.json'), 'utf8');
  t.deepEqual(JSON.parse(json), { losses: [1, 0.5], backend: 'cpu' });
  t.true(json.endsWith('}\n'));
  t.true(json.includes('\n  "losses"'), 'pretty-printed');
  t.deepEqual((await readdir(sub)).sort(), ['a.txt', 'b.bin', 'c.json']);
});

test('overwrites whole files; concurrent writers never leave a mixed or partial file', async (t) => {
  const path = join(dir, 'race.txt');
  await writeFile(path, 'old');
  const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(200_000 + i));
  await Promise.all(contents.map((c) => writeFileAtomic(path, c)));
  t.true(contents.includes(await readFile(path, 'utf8')));
  t.deepEqual(await readdir(dir).then((f) => f.filter((n) => n.startsWith('race.txt') && n !== 'race.txt')), [], 'no temporary siblings left');
});

test('a failed write keeps the old content and removes the temporary file', async (t) => {
  const folder = join(dir, 'fail');
  await mkdir(join(folder, 'target'), { recursive: true });
  await writeFile(join(folder, 'target', 'keep'), 'x');
  // Renaming a file onto a non-empty directory fails.
  await t.throwsAsync(writeFileAtomic(join(folder, 'target'), 'new'));
  t.deepEqual(await readdir(folder), ['target']);
  t.deepEqual(await readdir(join(folder, 'target')), ['keep']);
  // Values JSON cannot serialise fail before anything touches the disk.
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await t.throwsAsync(writeJsonAtomic(join(folder, 'c.json'), cyclic), { instanceOf: TypeError });
  t.deepEqual(await readdir(folder), ['target']);
});
