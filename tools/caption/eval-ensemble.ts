/**
 * Score an ensemble of trained decoders (probabilities averaged per step) on a split, each member reading its
 * own feature cache: Show and Tell members their pooled vectors, attention members their grids. Used to decide whether an ensemble is worth shipping.
 * Usage: npx tsx --conditions=@convlab/source tools/caption/eval-ensemble.ts ../shared/data/flickr8k
 *        --models runA/best,runB/best --features cacheA,cacheB [--split val] [--beam 3] [--length-penalty 0]
 */
import { parseArgs } from 'node:util';
import { initEngine } from '@convlab/core';
import { loadFlickr, loadFeatureCache, type FeatureCache, loadCaptionModel, EnsembleDecoder, evaluateSplit, featureTable, formatScores, type Split } from '@convlab/caption';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { models: { type: 'string' }, features: { type: 'string' }, split: { type: 'string' }, beam: { type: 'string' }, 'length-penalty': { type: 'string' }, backend: { type: 'string' } },
});
await initEngine({ backend: values.backend ?? 'native' });
const ds = loadFlickr({ root: positionals[0] ?? '../shared/data/flickr8k' });
const models = values.models!.split(',').map((d) => loadCaptionModel(d));
const featureDirs = values.features!.split(',');
if (featureDirs.length !== models.length) throw new Error('give one --features cache per model');
const split = (values.split ?? 'val') as Split;
const items = ds.items.filter((it) => it.split === split);
// Per member, its features for the split's images only: the pooled vector, or an attention member's L x D grid.
const tables = featureDirs.map((dir, i) => {
  const grid = models[i].decoder.config.kind === 'show-attend-tell';
  const cache = loadFeatureCache(dir, { grid });
  const table = featureTable(cache, grid ? 'grid' : 'pooled');
  const width = table.shape.reduce((a, b) => a * b, 1);
  const rows = items.map((it) => {
    const r = cache.row.get(it.image);
    if (r === undefined) throw new Error(`${it.image} ${cache.failed.has(it.image) ? `failed in extract (${cache.failed.get(it.image)})` : 'is not'} in ${dir}`);
    return table.data.subarray(r * width, (r + 1) * width);
  });
  return { width, rows };
});
// One table: per split image, the members' inputs side by side (what EnsembleDecoder slices apart).
const dim = tables.reduce((a, t) => a + t.width, 0);
const data = new Float32Array(items.length * dim);
items.forEach((_, r) => {
  let o = r * dim;
  for (const t of tables) {
    data.set(t.rows[r], o);
    o += t.width;
  }
});
const splitCache: FeatureCache = { spec: models[0].config.encoder, images: items.map((it) => it.image), pooledDim: dim, gridShape: [1, 1, dim], pooled: data, row: new Map(items.map((it, r) => [it.image, r])), failed: new Map() };
const decoder = new EnsembleDecoder(models.map((m) => m.decoder));
const t0 = Date.now();
const result = evaluateSplit(decoder, models[0].vocab, ds, splitCache, { shape: [dim], data }, split, {
  beamSize: Number(values.beam ?? 3),
  lengthPenalty: Number(values['length-penalty'] ?? 0),
  maxLength: 20,
});
console.log(`${models.length} members, ${split}, beam ${values.beam ?? 3}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(formatScores(result.scores));
