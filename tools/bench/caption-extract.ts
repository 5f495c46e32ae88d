/**
 * Feature extraction speed of the captioning encoder (MobileNetV2 out_relu at 224, pooled + grid):
 * images per second over --images Flickr8k-style files, batch --batch, after one warm-up batch.
 *   npx tsx --conditions=@convlab/source tools/bench/caption-extract.ts --dir <image folder> [--images 48] [--batch 8] [--backend wasm]
 */
import { parseArgs } from 'node:util';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, loadImage } from '@convlab/core';
import { createExtractor, DEFAULT_ENCODER } from '@convlab/caption';

const { values } = parseArgs({ options: { dir: { type: 'string' }, images: { type: 'string' }, batch: { type: 'string' }, backend: { type: 'string' } } });
const dir = values.dir ?? 'assets/content';
const engine = await initEngine({ backend: values.backend });
const ex = await createExtractor(DEFAULT_ENCODER);
const n = Number(values.images ?? 48);
const batch = Number(values.batch ?? 8);
const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f));
const paths = Array.from({ length: n + batch }, (_, i) => join(dir, files[i % files.length]));
const load = (ps: string[]) => Promise.all(ps.map((p) => loadImage(p, { size: { width: 224, height: 224 } })));
await ex.extract(await load(paths.slice(0, batch))); // warm-up
const t0 = performance.now();
for (let i = batch; i < paths.length; i += batch) await ex.extract(await load(paths.slice(i, i + batch)));
const s = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ bench: 'caption feature extraction (load + MobileNetV2 224 + pooled/grid readback)', backend: engine.backend, batch, images: n, imagesPerSecond: +(n / s).toFixed(2) }));
