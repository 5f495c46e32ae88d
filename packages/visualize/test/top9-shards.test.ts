/**
 * Sharded top-9: shards scanned separately and merged give exactly the single-process result (units, images,
 * positions, values, boxes, unit figures), the merge is associative and commutative, and a bad file is
 * reported by the shard that meets it.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, saveImage } from '@convlab/core';
import { loadModel } from '@convlab/models';
import { runTop9 } from '../src/top9/run.js';
import { mergeTop9Shards, planShards, planTop9, renderMergedTop9, runTop9Sharded, scanTop9Shard, type Top9Shard } from '../src/top9/shards.js';

/** Deterministic 64x64 images with structure (stripes and a bright block whose place depends on i). */
async function makeImages(dir: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(64 * 64 * 3);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const o = (y * 64 + x) * 3;
        data[o] = (x * (i % 7 + 1) * 9 + y * 3) % 256;
        data[o + 1] = (y * (i % 5 + 2) * 11 + i * 17) % 256;
        data[o + 2] = ((x + y) * (i % 3 + 1) * 5 + i * 29) % 256;
        if (Math.abs(y - ((i * 13) % 56) - 4) < 5 && Math.abs(x - ((i * 29) % 56) - 4) < 5) data[o + (i % 3)] = 255;
      }
    }
    await saveImage({ width: 64, height: 64, data }, join(dir, `img${String(i).padStart(3, '0')}.png`));
  }
  await writeFile(join(dir, 'img025-broken.jpg'), Buffer.from('not a jpeg at all'));
}

test.before(async () => {
  await initEngine({ log: false });
});

test('planShards: contiguous, covering, sizes rounded up to the batch', (t) => {
  t.deepEqual(planShards(50, 10, 8), [
    { index: 0, start: 0, end: 16 },
    { index: 1, start: 16, end: 32 },
    { index: 2, start: 32, end: 48 },
    { index: 3, start: 48, end: 50 },
  ]);
  t.deepEqual(planShards(0, 10, 8), []);
  t.throws(() => planShards(5, 0, 8), { message: /shard size 0/ });
});

test.serial('shards merged equal the single-process scan exactly (mobilenet_v2 at 64 px)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'top9-shards-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const images = join(dir, 'images');
  await makeImages(images, 45);
  const model = await loadModel('mobilenet_v2');
  t.teardown(() => model.dispose());
  const options = { images, layer: 'block_1_expand_relu', units: [0, 5, 17, 40, 95], size: [64, 64], batch: 8, rules: ['deconvnet' as const] };
  const single = await runTop9(model, { ...options, out: join(dir, 'single') });
  t.true(single.complete);
  t.is(single.failed.length, 1);
  const sharded = await runTop9Sharded(model, { ...options, out: join(dir, 'sharded') }, { shardSize: 10 });
  t.is(sharded.merged.shards.length, 3); // 46 files in shards of 16
  t.deepEqual(sharded.units, single.units);
  t.deepEqual(sharded.tops, single.tops);
  t.deepEqual(sharded.failed, single.failed);
  const a = JSON.parse(await readFile(join(dir, 'single', 'top9-block_1_expand_relu.json'), 'utf8'));
  const b = JSON.parse(await readFile(join(dir, 'sharded', 'top9-block_1_expand_relu.json'), 'utf8'));
  t.deepEqual(b.extra.units, a.extra.units);
  t.deepEqual(b.parameters, { ...a.parameters, out: b.parameters.out });
  t.is(a.extra.units[0].top.length, 9);
  t.deepEqual(b.extra.scan.failed, a.extra.scan.failed);
  for (const u of options.units) {
    const name = `top9-block_1_expand_relu-unit${u}.png`;
    t.true((await readFile(join(dir, 'sharded', name))).equals(await readFile(join(dir, 'single', name))), name);
  }

  // Associative and commutative: any grouping and order of the shards gives the same merge.
  const plan = await planTop9(model, { ...options, out: join(dir, 'x') });
  const parts: Top9Shard[] = [];
  for (const r of planShards(plan.files.length, 8, 8)) parts.push(await scanTop9Shard(plan, r));
  t.is(parts.length, 6);
  const flat = mergeTop9Shards(parts);
  const left = mergeTop9Shards([mergeTop9Shards([mergeTop9Shards(parts.slice(0, 2)), parts[2]]), mergeTop9Shards(parts.slice(3))]);
  const shuffled = mergeTop9Shards([parts[4], mergeTop9Shards([parts[5], parts[0]]), parts[2], mergeTop9Shards([parts[3], parts[1]])]);
  t.deepEqual(left, flat);
  t.deepEqual(shuffled, flat);
  t.deepEqual(flat.tops, single.tops);
  t.is(parts.filter((p) => p.failed.length).length, 1);
  t.regex(parts[3].failed[0]?.file ?? '', /img025-broken\.jpg$/);

  // Guards: a shard twice, shards of other settings, a missing shard.
  t.throws(() => mergeTop9Shards([parts[0], parts[0]]), { message: /shard 0 appears twice/ });
  t.throws(() => mergeTop9Shards([parts[0], { ...parts[1], k: 4 }]), { message: /other settings/ });
  await t.throwsAsync(renderMergedTop9(model, plan, mergeTop9Shards(parts.slice(1))), { message: /covers 38 of 46 images/ });
});

test.serial('strongest:N and the default spread select the same units as the single process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'top9-shards-sel-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const images = join(dir, 'images');
  await makeImages(images, 20);
  const model = await loadModel('mobilenet_v2');
  t.teardown(() => model.dispose());
  for (const units of [{ strongest: 3 }, undefined]) {
    const options = { images, layer: 'block_1_expand_relu', units, size: [64, 64], batch: 4, k: 4, unitImages: false };
    const single = await runTop9(model, { ...options, out: join(dir, 'single') });
    const sharded = await runTop9Sharded(model, { ...options, out: join(dir, 'sharded') }, { shardSize: 4 });
    t.deepEqual(sharded.units, single.units, JSON.stringify(units));
    t.deepEqual(sharded.tops, single.tops);
  }
});
