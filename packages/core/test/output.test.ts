import test from 'ava';
import { mkdtempSync, writeFileSync, existsSync, readdirSync, symlinkSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, prepareOutputDir, prepareOutputFile, listImageFiles } from '../src/index.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'convlab-out-'));

test('an output folder under /proc or /sys is refused at once, naming the flag', async (t) => {
  for (const p of ['/proc/convlab-x/y', '/sys/kernel/convlab', '/proc/self/fd/out.png']) {
    const err = await t.throwsAsync(prepareOutputDir(p, { flag: '--out' }), { instanceOf: ConvlabError });
    t.regex(err!.message, /^--out .* (pseudo file system|\/proc|\/sys)/);
  }
  const f = await t.throwsAsync(prepareOutputFile('/proc/out.png', { flag: '--output' }), { instanceOf: ConvlabError });
  t.regex(f!.message, /--output/);
});

test('an output file equal to an input (or a link to it) is refused and the input is untouched', async (t) => {
  const dir = tmp();
  const input = join(dir, 'photo.jpg');
  writeFileSync(input, 'original');
  const err = await t.throwsAsync(prepareOutputFile(join(dir, '.', 'photo.jpg'), { flag: '--output', inputs: [input] }), { instanceOf: ConvlabError });
  t.regex(err!.message, /--output .* is the input/);
  symlinkSync(input, join(dir, 'link.jpg'));
  const viaLink = await t.throwsAsync(prepareOutputFile(join(dir, 'link.jpg'), { flag: '--output', inputs: [input] }), { instanceOf: ConvlabError });
  t.regex(viaLink!.message, /input/);
});

test('output folders are created and probed; the probe leaves nothing behind', async (t) => {
  const dir = tmp();
  const out = await prepareOutputDir(join(dir, 'a', 'b'), { flag: '--out' });
  t.true(existsSync(out));
  t.deepEqual(readdirSync(out), []);
  const file = await prepareOutputFile(join(dir, 'c', 'x.png'), { flag: '--output', extensions: ['.png', '.jpg'] });
  t.true(existsSync(join(dir, 'c')));
  t.false(existsSync(file));
  await t.throwsAsync(prepareOutputFile(join(dir, 'c', 'x.bmp'), { flag: '--output', extensions: ['.png'] }), { message: /unsupported extension/ });
  writeFileSync(join(dir, 'afile'), 'x');
  await t.throwsAsync(prepareOutputDir(join(dir, 'afile'), { flag: '--out' }), { message: /--out .* not a folder/ });
  await t.throwsAsync(prepareOutputDir(join(dir, 'afile', 'sub'), { flag: '--out' }), { message: /--out: cannot create folder/ });
});

test('an unwritable output folder is found before any work (skipped as root)', async (t) => {
  if (process.getuid?.() === 0) {
    t.pass('root can write anywhere; the read-only case is covered by the pseudo-fs test');
    return;
  }
  const dir = tmp();
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  chmodSync(ro, 0o500);
  await t.throwsAsync(prepareOutputDir(ro, { flag: '--out' }), { message: /--out: cannot write into .* permission denied/ });
});

test('listImageFiles follows symbolic links to files and folders, skips broken ones and cycles', async (t) => {
  const dir = tmp();
  const real = join(dir, 'real');
  mkdirSync(real);
  writeFileSync(join(real, 'a.jpg'), 'x');
  const links = join(dir, 'links');
  mkdirSync(links);
  symlinkSync(join(real, 'a.jpg'), join(links, 'b.jpg'));
  symlinkSync(join(dir, 'missing.jpg'), join(links, 'broken.jpg'));
  symlinkSync(real, join(links, 'sub'));
  symlinkSync(links, join(links, 'loop'));
  t.deepEqual(await listImageFiles(links), [join(links, 'b.jpg')]);
  t.deepEqual(await listImageFiles(links, true), [join(links, 'b.jpg'), join(links, 'sub', 'a.jpg')]);
  symlinkSync(real, join(dir, 'dirlink'));
  t.deepEqual(await listImageFiles(join(dir, 'dirlink')), [join(dir, 'dirlink', 'a.jpg')]);
});

test('resolvedPath, isSameOrInside, missingDirs and removeEmptyDirs: one set of path helpers for every pipeline', async (t) => {
  const { resolvedPath, isSameOrInside, missingDirs, removeEmptyDirs } = await import('../src/index.js');
  const dir = tmp();
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  t.is(resolvedPath(join(dir, 'link', 'not-yet', 'x.png')), join(resolvedPath(join(dir, 'real')), 'not-yet', 'x.png'));
  t.true(isSameOrInside(join(dir, 'link', 'a', 'b'), join(dir, 'real')));
  t.true(isSameOrInside(join(dir, 'real'), join(dir, 'link')));
  t.false(isSameOrInside(join(dir, 'realer'), join(dir, 'real')), 'a prefix of the name is not inside');
  const deep = join(dir, 'x', 'y', 'z');
  t.deepEqual(missingDirs(deep), [deep, join(dir, 'x', 'y'), join(dir, 'x')]);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(dir, 'x', 'keep.txt'), 'k');
  removeEmptyDirs([deep, join(dir, 'x', 'y'), join(dir, 'x')]);
  t.false(existsSync(join(dir, 'x', 'y')));
  t.true(existsSync(join(dir, 'x', 'keep.txt')), 'a folder with a file in it stays');
});

test('an output file under a path whose parent is a file gets one message naming the file', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'photo.jpg'), 'x');
  const err = await t.throwsAsync(prepareOutputFile(join(dir, 'photo.jpg', 'sub', 'x.png'), { flag: '--output' }), { instanceOf: ConvlabError });
  t.is(err!.message, `--output ${join(dir, 'photo.jpg', 'sub', 'x.png')}: ${join(dir, 'photo.jpg')} is a file, so it cannot hold x.png`);
  t.is(err!.hint, 'give --output a path in a folder, e.g. out/x.png');
});
