import test from 'ava';
import { mkdtemp, rm, writeFile, readFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveImage, tf, type RgbImage } from '@convlab/core';
import { scanMaxima, topK, type ActivationFn } from '../src/top9/scan.js';
import { collectImageFiles } from '../src/images.js';
import type { CacheMeta } from '../src/top9/cache.js';

const SIZE = 32;

/** Image i: dark background, one bright square of colour (i % 3) with brightness and place set by i. */
function dotImage(i: number): { image: RgbImage; channel: number; brightness: number; cell: [number, number] } {
  const data = new Uint8Array(SIZE * SIZE * 3).fill(10);
  const channel = i % 3;
  const brightness = 60 + ((i * 37) % 190);
  const cell: [number, number] = [(i * 3) % 8, (i * 5) % 8];
  for (let y = cell[0] * 4; y < cell[0] * 4 + 4; y++) {
    for (let x = cell[1] * 4; x < cell[1] * 4 + 4; x++) data[(y * SIZE + x) * 3 + channel] = brightness;
  }
  return { image: { width: SIZE, height: SIZE, data }, channel, brightness, cell };
}

// 4x4 average pooling: unit c at (y, x) is the mean of colour c over that cell.
const activations: ActivationFn = (images) => tf.avgPool(images, 4, 4, 'valid');

const meta: CacheMeta = { model: 'test', weights: 'none', layer: 'pool', inputSize: [SIZE, SIZE], fit: 'cover', channels: 3, featureSize: [8, 8] };

async function makeDataset(n: number) {
  const dir = await mkdtemp(join(tmpdir(), 'top9-'));
  const truth = [];
  for (let i = 0; i < n; i++) {
    const d = dotImage(i);
    const file = join(dir, `img${String(i).padStart(3, '0')}.png`);
    await saveImage(d.image, file);
    truth.push({ ...d, file: `img${String(i).padStart(3, '0')}.png` });
  }
  await writeFile(join(dir, 'broken.jpg'), Buffer.from('this is not a jpeg'));
  return { dir, truth };
}

test('top-9 returns the right images and positions, reports bad files, and resumes to the same result', async (t) => {
  const { dir, truth } = await makeDataset(40);
  const files = await collectImageFiles(dir);
  t.is(files.length, 41);

  // Uninterrupted scan.
  const full = await scanMaxima({ files, root: dir, activations, meta, cacheDir: join(dir, 'cacheA'), batchSize: 4 });
  t.true(full.complete);
  t.is(full.scanned, 40);
  t.deepEqual(full.failed.map((f) => f.file), [join(dir, 'broken.jpg')]);
  // The figures' "over N images": the 40 that were ranked, not 40 minus the broken one.
  t.is(full.ranked, 40);
  const tops = topK(full.cache, [0, 1, 2], 9);
  await full.cache.close();

  for (const { unit, entries } of tops) {
    const expected = truth
      .filter((d) => d.channel === unit)
      .sort((a, b) => b.brightness - a.brightness || (a.file < b.file ? -1 : 1))
      .slice(0, 9);
    t.deepEqual(entries.map((e) => e.file), expected.map((d) => d.file), `unit ${unit} images`);
    t.deepEqual(entries.map((e) => [e.y, e.x]), expected.map((d) => d.cell), `unit ${unit} positions`);
    for (const [k, e] of entries.entries()) t.true(Math.abs(e.value - expected[k].brightness) < 1e-3);
  }

  // Interrupted after two batches, then resumed.
  const controller = new AbortController();
  const partial = await scanMaxima({
    files,
    root: dir,
    activations,
    meta,
    cacheDir: join(dir, 'cacheB'),
    batchSize: 4,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.done >= 8) controller.abort();
    },
  });
  t.false(partial.complete);
  t.is(partial.scanned, 7); // the first batch holds broken.jpg
  await partial.cache.close();
  // A torn line from a hard kill must not break the resume.
  const log = join(partial.cache.dir, 'scan.jsonl');
  await appendFile(log, '{"f":"img0');
  const resumed = await scanMaxima({ files, root: dir, activations, meta, cacheDir: join(dir, 'cacheB'), batchSize: 4 });
  t.true(resumed.complete);
  t.is(resumed.fromCache, 8);
  t.is(resumed.scanned, 33);
  t.is(resumed.ranked, 40);
  t.deepEqual(topK(resumed.cache, [0, 1, 2], 9), tops);
  await resumed.cache.close();
  t.false((await readFile(log, 'utf8')).includes('{"f":"img0\n'));

  // Third run: all from cache, nothing rescanned.
  const again = await scanMaxima({ files, root: dir, activations, meta, cacheDir: join(dir, 'cacheB'), batchSize: 4 });
  t.is(again.scanned, 0);
  t.is(again.failed.length, 1);
  t.is(again.ranked, 40);
  t.deepEqual(topK(again.cache, [0, 1, 2], 9), tops);
  const err = t.throws(() => topK(again.cache, [3], 9));
  t.regex(err!.message, /unit 3 out of range/);
  t.regex((err as { hint?: string }).hint ?? '', /0\.\.2/);
  await again.cache.close();
  await rm(dir, { recursive: true, force: true });
});

test('an empty or missing folder is a clear error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'top9-empty-'));
  await t.throwsAsync(collectImageFiles(dir), { message: /no images in/ });
  await t.throwsAsync(collectImageFiles(join(dir, 'nope')), { message: /not found/ });
  await rm(dir, { recursive: true, force: true });
});
