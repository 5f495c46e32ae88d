/**
 * Linear word probe: how much caption content does a feature vector carry? For the content words of the
 * training captions (count >= --min-count, stop words dropped), a logistic-regression "visual word detector"
 * (as in Fang et al. 2015) is trained on the cached pooled features of the train split, and its mean average
 * precision over words is reported on the val split. Subsets of a multi-layer cache (extract
 * --pooled-layers) are compared by slicing their columns, so one extraction serves every candidate.
 * Usage: npx tsx --conditions=@convlab/source tools/caption/word-probe.ts ../shared/data/flickr8k
 *        --features <cache> [--subsets "mixed6|mixed6.max|mixed6,mixed7|mixed4,mixed5,mixed6,mixed7"] [--epochs 40]
 *        (with a --pool mean+max cache, "mixed6" is both halves, "mixed6.mean" / "mixed6.max" one of them)
 */
import { parseArgs } from 'node:util';
import { initEngine, tf } from '@convlab/core';
import type { Scalar, Tensor2D } from '@convlab/core';
import { loadFlickr, loadFeatureCache, tokenize, rng } from '@convlab/caption';

const STOP = new Set('a an the is are of in on and with at to his her their its it while for from into by as two three one some other front near down up its over has who that there this through'.split(' '));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { features: { type: 'string' }, subsets: { type: 'string' }, epochs: { type: 'string' }, 'min-count': { type: 'string' }, backend: { type: 'string' } },
});
await initEngine({ backend: values.backend ?? 'native' });
const ds = loadFlickr({ root: positionals[0] ?? '../shared/data/flickr8k' });
const cache = loadFeatureCache(values.features!);
const spec = cache.spec;
const layers = spec.pooledLayers ?? [spec.layer];
const { loadModel } = await import('@convlab/models');
const net = await loadModel(spec.model!, {});
const perLayer = spec.pool === 'mean+max' ? 2 : 1;
const dims = layers.map((l) => perLayer * (net.outputShapeFor(l, spec.inputSize)[2] as number));
net.dispose();
const offsets = dims.map((_, i) => dims.slice(0, i).reduce((a, b) => a + b, 0));

// Images that failed in `extract` (listed in the cache's index) have no features: left out.
const train = ds.items.filter((i) => i.split === 'train' && cache.row.has(i.image));
const val = ds.items.filter((i) => i.split === 'val' && cache.row.has(i.image));
const counts = new Map<string, number>();
for (const it of train) for (const w of new Set(it.captions.flatMap(tokenize))) counts.set(w, (counts.get(w) ?? 0) + 1);
const words = [...counts].filter(([w, c]) => c >= Number(values['min-count'] ?? 30) && !STOP.has(w)).map(([w]) => w);
const wordIndex = new Map(words.map((w, i) => [w, i]));
const labels = (items: typeof train) => {
  const y = new Float32Array(items.length * words.length);
  items.forEach((it, r) => {
    for (const w of new Set(it.captions.flatMap(tokenize))) {
      const k = wordIndex.get(w);
      if (k !== undefined) y[r * words.length + k] = 1;
    }
  });
  return tf.tensor2d(y, [items.length, words.length]);
};
const yTrain = labels(train);
const yVal = labels(val);

function columns(items: typeof train, subset: string[]): Tensor2D {
  // "mixed6" takes all of a layer's columns; "mixed6.mean" / "mixed6.max" one half of a mean+max cache.
  const cols = subset.flatMap((item) => {
    const [l, part] = item.split('.');
    const k = layers.indexOf(l);
    if (k < 0) throw new Error(`layer ${l} is not in the cache (${layers.join(', ')})`);
    if (part && perLayer !== 2) throw new Error(`${item}: the cache has no mean/max halves (pool ${spec.pool})`);
    const c = dims[k] / perLayer;
    const start = offsets[k] + (part === 'max' ? c : 0);
    return Array.from({ length: part ? c : dims[k] }, (_, j) => start + j);
  });
  const out = new Float32Array(items.length * cols.length);
  items.forEach((it, r) => {
    const base = cache.row.get(it.image)! * cache.pooledDim;
    for (let j = 0; j < cols.length; j++) out[r * cols.length + j] = cache.pooled[base + cols[j]];
  });
  return tf.tensor2d(out, [items.length, cols.length]);
}

/** Average precision of one word's scores over the val images. */
function averagePrecision(scores: Float32Array, truth: Float32Array, k: number, n: number, stride: number): number {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b * stride + k] - scores[a * stride + k]);
  let hits = 0;
  let sum = 0;
  order.forEach((i, rank) => {
    if (truth[i * stride + k] > 0) {
      hits++;
      sum += hits / (rank + 1);
    }
  });
  return hits ? sum / hits : 0;
}

const subsets = (values.subsets ?? layers.join('|')).split('|').map((s) => s.split(','));
const epochs = Number(values.epochs ?? 40);
console.log(`${words.length} content words (e.g. ${words.slice(0, 8).join(', ')}); train ${train.length}, val ${val.length} images`);
for (const subset of subsets) {
  const t0 = Date.now();
  const [xTrain, xVal] = [columns(train, subset), columns(val, subset)];
  const mean = tf.mean(xTrain, 0);
  const std = tf.add(tf.sqrt(tf.mean(tf.square(tf.sub(xTrain, mean)), 0)), 1e-3);
  const norm = (x: Tensor2D) => tf.div(tf.sub(x, mean), std) as Tensor2D;
  const [a, b] = [norm(xTrain), norm(xVal)];
  const w = tf.variable(tf.zeros([a.shape[1], words.length]));
  const bias = tf.variable(tf.zeros([words.length]));
  const opt = tf.train.adam(1e-3);
  const random = rng(1);
  for (let e = 0; e < epochs; e++) {
    const order = Array.from({ length: train.length }, (_, i) => i).sort(() => random() - 0.5);
    for (let i = 0; i < order.length; i += 500) {
      const idx = tf.tensor1d(order.slice(i, i + 500), 'int32');
      opt.minimize(() => {
        const logits = tf.add(tf.matMul(tf.gather(a, idx), w), bias);
        const l2 = tf.mul(1e-4, tf.sum(tf.square(w)));
        return tf.add(tf.losses.sigmoidCrossEntropy(tf.gather(yTrain, idx), logits), l2) as Scalar;
      });
      idx.dispose();
    }
  }
  const scores = tf.tidy(() => tf.add(tf.matMul(b, w), bias)).dataSync() as Float32Array;
  const truth = yVal.dataSync() as Float32Array;
  const aps = words.map((_, k) => averagePrecision(scores, truth, k, val.length, words.length));
  const mAP = aps.reduce((s, x) => s + x, 0) / aps.length;
  const top = ['dog', 'man', 'water', 'snow', 'grass', 'ball', 'bike', 'beach'].filter((x) => wordIndex.has(x));
  console.log(`${subset.join(',').padEnd(48)} dim ${String(a.shape[1]).padStart(5)}  mAP ${mAP.toFixed(4)}  ` + top.map((x) => `${x} ${aps[wordIndex.get(x)!].toFixed(2)}`).join(' ') + `  (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  tf.dispose([xTrain, xVal, mean, std, a, b, w, bias]);
  opt.dispose();
}
