/**
 * Caption decoding speed of a saved model on cached features: ms per caption for greedy (one image at a
 * time, and batched 100 at a time) and beam search (beam 3).
 *   npx tsx --conditions=@convlab/source tools/bench/caption-decode.ts --features <cache> [--model packages/caption/pretrained] [--images 50] [--backend wasm]
 */
import { parseArgs } from 'node:util';
import { initEngine } from '@convlab/core';
import { loadCaptionModel, loadFeatureCache, featureTable, captionRows, PRETRAINED_DIR } from '@convlab/caption';

const { values } = parseArgs({ options: { features: { type: 'string' }, model: { type: 'string' }, images: { type: 'string' }, backend: { type: 'string' } } });
if (!values.features) throw new Error('--features <cache dir> is required');
const engine = await initEngine({ backend: values.backend });
const model = loadCaptionModel(values.model ?? PRETRAINED_DIR);
const attention = model.config.decoder.kind === 'show-attend-tell';
const cache = loadFeatureCache(values.features, { grid: attention });
const table = featureTable(cache, attention ? 'grid' : 'pooled');
const n = Number(values.images ?? 50);
const rows = Array.from({ length: n }, (_, i) => cache.images.length - 1 - i); // the last images (test split for Flickr8k)

function timeIt(name: string, f: () => string[]): void {
  f(); // warm-up
  const t0 = performance.now();
  const caps = f();
  const ms = (performance.now() - t0) / caps.length;
  console.log(JSON.stringify({ bench: name, backend: engine.backend, decoder: model.config.decoder.kind, images: caps.length, msPerCaption: +ms.toFixed(2) }));
}
timeIt('greedy, one image at a time', () => rows.flatMap((r) => captionRows(model.decoder, model.vocab, table, [r], { beamSize: 1, chunk: 1 })));
timeIt('greedy, batched 100', () => captionRows(model.decoder, model.vocab, table, [...rows, ...rows].slice(0, Math.max(n, 100)), { beamSize: 1, chunk: 100 }));
timeIt('beam 3', () => captionRows(model.decoder, model.vocab, table, rows, { beamSize: 3 }));
