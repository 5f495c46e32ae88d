/**
 * Score an ensemble of trained Show and Tell decoders (probabilities averaged per step) on a split, each
 * member reading its own feature cache. Used to decide whether an ensemble is worth shipping.
 * Usage: npx tsx --conditions=@convlab/source apps/captioning/tools/eval-ensemble.ts ../shared/data/flickr8k
 *        --models runA/best,runB/best --features cacheA,cacheB [--split val] [--beam 3] [--length-penalty 0]
 */
import { parseArgs } from 'node:util';
import { initEngine } from '@convlab/core';
import { loadFlickr } from '../src/data/index.js';
import { loadFeatureCache, type FeatureCache } from '../src/features.js';
import { loadCaptionModel } from '../src/model-io.js';
import { EnsembleDecoder } from '../src/decoders/ensemble.js';
import { evaluateSplit } from '../src/pipeline.js';
import { formatScores } from '../src/eval.js';
import type { Split } from '../src/data/types.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { models: { type: 'string' }, features: { type: 'string' }, split: { type: 'string' }, beam: { type: 'string' }, 'length-penalty': { type: 'string' }, backend: { type: 'string' } },
});
await initEngine({ backend: values.backend ?? 'native' });
const ds = loadFlickr({ root: positionals[0] ?? '../shared/data/flickr8k' });
const models = values.models!.split(',').map((d) => loadCaptionModel(d));
const featureDirs = values.features!.split(',');
if (featureDirs.length !== models.length) throw new Error('give one --features cache per model');
const caches = [...new Set(featureDirs)].reduce((m, d) => m.set(d, loadFeatureCache(d)), new Map<string, FeatureCache>());
const first = caches.get(featureDirs[0])!;
for (const c of caches.values()) if (c.images.join('\n') !== first.images.join('\n')) throw new Error('the feature caches list different images');
// One table: per image, the members' feature rows side by side.
const dim = featureDirs.reduce((a, d) => a + caches.get(d)!.pooledDim, 0);
const data = new Float32Array(first.images.length * dim);
for (let r = 0; r < first.images.length; r++) {
  let o = r * dim;
  for (const d of featureDirs) {
    const c = caches.get(d)!;
    data.set(c.pooled.subarray(r * c.pooledDim, (r + 1) * c.pooledDim), o);
    o += c.pooledDim;
  }
}
const decoder = new EnsembleDecoder(models.map((m) => m.decoder));
const split = (values.split ?? 'val') as Split;
const t0 = Date.now();
const result = evaluateSplit(decoder, models[0].vocab, ds, first, { shape: [dim], data }, split, {
  beamSize: Number(values.beam ?? 3),
  lengthPenalty: Number(values['length-penalty'] ?? 0),
  maxLength: 20,
});
console.log(`${models.length} members, ${split}, beam ${values.beam ?? 3}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(formatScores(result.scores));
