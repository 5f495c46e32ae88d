/**
 * One image pipeline: `predict` on a dataset's test images prints exactly the captions `eval` scored for
 * them, because both reach the encoder through loadEncoderImage (eval through the cache `extract` wrote).
 * Before, predict decoded with maxSide 1024 and resized a second time while extract resized once, and 30
 * of 100 Flickr8k test images got another caption from predict than the one eval scored.
 *
 * Everything runs through the real bin (child processes) on a synthetic dataset written as JPEGs (96 px,
 * so the encoder's 40 px input is a real downscale and sharp's JPEG shrink-on-load is in play), for both
 * decoders: Show and Tell reads the pooled float32 vector, Show, Attend and Tell the float16 grid.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { initEngine, loadImage, resizeImage, saveImage, validateRunRecord } from '@convlab/core';
import { asCached, Captioner, loadEncoderImage, loadFeatureCache, randomConvExtractor, type EncoderSpec } from '@convlab/caption';
import { ROOT, runCaption, type CliRun } from './helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-one-pipeline-'));
const ds = join(dir, 'ds');
const feats = join(dir, 'feats');
const data = ['--karpathy', join(ds, 'dataset_synthetic.json'), '--images', join(ds, 'images')];

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: CliRun, what: string): void {
  t.is(r.code, 0, `${what} failed:\n${r.stderr.slice(-3000)}`);
}

test.before(async () => {
  await initEngine({ log: false });
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('synth (JPEG) and extract through the CLI', async (t) => {
  ok(t, await runCaption(['synth', '--out', ds, '--count', '240', '--size', '96', '--format', 'jpg', '--seed', '3']), 'synth');
  ok(t, await runCaption(['extract', ...data, '--features', feats, '--model', 'random-conv', '--size', '40', '--batch', '16', '--grid']), 'extract');
});

for (const decoder of ['show-tell', 'show-attend-tell'] as const) {
  test.serial(`${decoder}: predict on the test images gives exactly the captions eval scored`, async (t) => {
    const run = join(dir, `run-${decoder}`);
    const train = await runCaption(['train', ...data, '--features', feats, '--out', run, '--decoder', decoder, '--epochs', '6', '--batch', '16', '--hidden', '64', '--embed', '32', '--lr', '5e-3', '--dropout', '0.1', '--min-count', '1', '--val-limit', '24', '--seed', '1']);
    ok(t, train, 'train');
    const results = join(dir, `results-${decoder}.json`);
    ok(t, await runCaption(['eval', '--model', join(run, 'best'), ...data, '--features', feats, '--split', 'test', '--beam', '3', '--out', results]), 'eval');
    const scored = validateRunRecord(JSON.parse(readFileSync(results, 'utf8'))).extra as { complete: boolean; captions: { image: string; caption: string }[] };
    t.true(scored.complete);
    t.is(scored.captions.length, 24);
    const paths = scored.captions.map((c) => join(ds, 'images', c.image));
    const predicted = await runCaption(['predict', '--model', join(run, 'best'), '--beam', '3', '--json', ...paths]);
    ok(t, predicted, 'predict');
    const byName = new Map((validateRunRecord(JSON.parse(predicted.stdout)).extra.results as { path: string; caption: string }[]).map((r) => [basename(r.path), r.caption]));
    const differing = scored.captions.filter((c) => byName.get(c.image) !== c.caption);
    t.deepEqual(differing, [], 'every predict caption equals the caption eval scored');
    const distinct = new Set(scored.captions.map((c) => c.caption)).size;
    t.log(`${decoder}: ${scored.captions.length} test images, ${distinct} distinct captions, all identical in predict and eval; e.g. "${scored.captions[0].caption}"`);
    t.true(distinct >= 5, `the model must tell images apart for the comparison to mean something (${distinct} distinct captions)`);

    // Below the captions: predict's features are the cache's rows, bit for bit.
    const cache = loadFeatureCache(feats, { grid: true });
    const captioner = await Captioner.load(join(run, 'best'));
    try {
      const [gh, gw, gc] = cache.gridShape;
      for (const c of scored.captions.slice(0, 8)) {
        const f = await captioner.encode(join(ds, 'images', c.image));
        const row = cache.row.get(c.image)!;
        t.deepEqual(f.pooled, cache.pooled.subarray(row * cache.pooledDim, (row + 1) * cache.pooledDim), `${c.image}: pooled vector`);
        t.deepEqual(f.grid, cache.grid!.subarray(row * gh * gw * gc, (row + 1) * gh * gw * gc), `${c.image}: grid (through float16 as cached)`);
      }
    } finally {
      captioner.dispose();
    }
  });
}

test.serial('the comparison has teeth: the two-step preprocessing predict used gives other encoder inputs', async (t) => {
  const spec: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [40, 40], pool: 'flatten', seed: 7 };
  const same = (a: { data: Uint8Array }, b: { data: Uint8Array }) => Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
  // (1) As measured in the issue: loadImage enlarged small images to maxSide 1024, then predict resized again.
  const tests = Array.from({ length: 24 }, (_, i) => join(ds, 'images', `scene_${String(216 + i).padStart(5, '0')}.jpg`));
  let enlarged = 0;
  for (const p of tests) {
    const two = await resizeImage(await loadImage(p, { maxSide: 1024, enlarge: true }), { width: 40, height: 40 });
    if (!same(await loadEncoderImage(p, spec), two)) enlarged++;
  }
  t.log(`old loadImage (enlarging) + second resize: ${enlarged} of ${tests.length} test images get other pixels`);
  t.true(enlarged > 0);
  // (2) Still true without enlarging, for photos above 1024 px: two resamplings are not one.
  const big = join(dir, 'big.jpg');
  await saveImage(await resizeImage(await loadImage(join(ROOT, 'assets/content/tubingen.jpg')), { width: 1600, height: 1200 }), big);
  const twoBig = await resizeImage(await loadImage(big, { maxSide: 1024 }), { width: 40, height: 40 });
  t.false(same(await loadEncoderImage(big, spec), twoBig), 'a 1600 px photo: decode to 1024, resize to 40 != one resize to 40');
  // (3) The attention decoder reads the cache's float16 grid: predict's float32 grid differs until rounded the same way.
  const cache = loadFeatureCache(feats, { grid: true });
  const extractor = randomConvExtractor(cache.spec);
  try {
    const raw = await extractor.extract([await loadEncoderImage(tests[0], cache.spec)]);
    const row = cache.row.get(basename(tests[0]))!;
    const n = raw.grid.length;
    t.notDeepEqual(raw.grid, cache.grid!.subarray(row * n, (row + 1) * n));
    t.deepEqual(asCached(raw).grid, cache.grid!.subarray(row * n, (row + 1) * n));
  } finally {
    extractor.dispose();
  }
});
