/**
 * Sharded feature extraction: shards extracted separately (one of them interrupted and resumed) and assembled
 * give a cache with the same bytes as a single-process extraction (index.json differing only in `seconds`),
 * with an unreadable image recorded in the same place.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, saveImage } from '@convlab/core';
import { createExtractor, extractToCache, loadFeatureCache, type EncoderSpec } from '../src/features.js';
import { assembleFeatureCache, extractFeatureShard, planFeatureShards, shardDir } from '../src/feature-shards.js';

test.before(async () => {
  await initEngine({ log: false });
});

async function dataset(dir: string, n: number): Promise<{ names: string[]; paths: string[] }> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `im${String(i).padStart(3, '0')}.png`;
    const data = Uint8Array.from({ length: 40 * 40 * 3 }, (_, k) => (k * (i % 9 + 1) * 7 + i * 31 + (k % 120) * (i % 4)) % 256);
    await saveImage({ width: 40, height: 40, data }, join(dir, name));
    names.push(name);
  }
  names[13] = 'broken.jpg';
  writeFileSync(join(dir, 'broken.jpg'), 'not an image');
  return { names, paths: names.map((x) => join(dir, x)) };
}

for (const spec of [
  { type: 'random-conv', layer: 'conv2', inputSize: [32, 32], pool: 'flatten', seed: 7 },
  { type: 'convnet', model: 'mobilenet_v2', layer: 'block_3_expand_relu', inputSize: [64, 64], pool: 'mean+max' },
] satisfies EncoderSpec[]) {
  test.serial(`shards assembled are byte-identical to one extraction (${spec.type})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'feature-shards-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const { names, paths } = await dataset(join(dir, 'images'), 37);
    const extractor = await createExtractor(spec);
    t.teardown(() => extractor.dispose());
    const single = join(dir, 'single');
    await extractToCache(single, extractor, names, paths, { withGrid: true, batchSize: 4 });

    const sharded = join(dir, 'sharded');
    const ranges = planFeatureShards(names.length, 10, 4);
    t.deepEqual(ranges.map((r) => [r.start, r.end]), [[0, 12], [12, 24], [24, 36], [36, 37]]);
    // Shards in another order, the second interrupted once and resumed.
    for (const r of [ranges[2], ranges[0], ranges[3]]) await extractFeatureShard(sharded, extractor, names, paths, r, { withGrid: true, batchSize: 4 });
    const stop = new AbortController();
    await t.throwsAsync(extractFeatureShard(sharded, extractor, names, paths, ranges[1], { withGrid: true, batchSize: 4, signal: stop.signal, onProgress: () => stop.abort() }), { name: 'AbortError' });
    await t.throwsAsync(assembleFeatureCache(sharded, names, ranges), { message: /shard 1 .* incomplete/ });
    const resumed = await extractFeatureShard(sharded, extractor, names, paths, ranges[1], { withGrid: true, batchSize: 4 });
    t.deepEqual(resumed.failed.map((f) => f.image), ['broken.jpg']);

    const assembled = await assembleFeatureCache(sharded, names, ranges);
    t.is(assembled.shards, 4);
    t.deepEqual(assembled.failed.map((f) => f.image), ['broken.jpg']);
    for (const f of ['pooled.f32', 'grid.f16']) t.true(readFileSync(join(sharded, f)).equals(readFileSync(join(single, f))), f);
    const strip = (text: string) => text.replace(/"seconds": [0-9.e+-]+/, '"seconds": 0');
    t.is(strip(readFileSync(join(sharded, 'index.json'), 'utf8')), strip(readFileSync(join(single, 'index.json'), 'utf8')));
    t.false(existsSync(shardDir(sharded, 0)));
    t.false(existsSync(join(sharded, '.shards')));
    const cache = loadFeatureCache(sharded, { grid: true });
    t.is(cache.row.size, 36);
    t.false(cache.row.has('broken.jpg'));
  });
}
