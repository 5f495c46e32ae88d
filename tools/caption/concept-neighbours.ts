/**
 * How semantic is an encoder layer for captioning? For N dev images, the cosine nearest neighbour (among the
 * same N) of each image's global-average-pooled feature; report the fraction of images whose neighbour shares
 * at least one concept noun (from a short list) in their captions, among images that have one.
 * Usage: npx tsx --conditions=@convlab/source tools/caption/concept-neighbours.ts <flickr8k dir>
 *        --model inception_v3 --layers mixed4,mixed5,mixed6 --size 299 [--count 500] [--backend native]
 */
import { parseArgs } from 'node:util';
import { initEngine, loadImage, imagesToBatch, tf } from '@convlab/core';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { loadFlickr } from '@convlab/caption';

const CONCEPTS = ['dog', 'man', 'woman', 'child', 'water', 'snow', 'grass', 'bike', 'ball', 'beach', 'street', 'girl', 'boy'];
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string' }, layers: { type: 'string' }, size: { type: 'string' }, count: { type: 'string' }, backend: { type: 'string' } },
});
await initEngine({ backend: values.backend ?? 'native' });
const ds = loadFlickr({ root: positionals[0] ?? '../shared/data/flickr8k' });
const items = ds.items.filter((i) => i.split === 'val').slice(0, Number(values.count ?? 500));
const concepts = items.map((it) => new Set(CONCEPTS.filter((c) => it.captions.some((cap) => new RegExp(`\\b${c}s?\\b`, 'i').test(cap)))));
const { loadModel } = await import('@convlab/models');
const net = await loadModel(values.model ?? 'inception_v3', {});
const layers = (values.layers ?? 'mixed5').split(',').map((l) => net.resolveLayer(l));
const size = Number(values.size ?? 299);
const pooled: number[][][] = layers.map(() => []);
const t0 = Date.now();
for (let i = 0; i < items.length; i += 8) {
  const imgs = await Promise.all(items.slice(i, i + 8).map((it) => loadImage(it.path, { size: { width: size, height: size } })));
  const outs = tf.tidy(() => {
    const o = net.forward(net.preprocess(imagesToBatch(imgs)), { outputs: layers });
    return layers.map((l) => tf.mean(o[l] as Tensor4D, [1, 2]));
  });
  for (let k = 0; k < layers.length; k++) pooled[k].push(...((await outs[k].array()) as number[][]));
  tf.dispose(outs);
}
console.log(`${items.length} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (let k = 0; k < layers.length; k++) {
  const f = tf.tidy(() => {
    const x = tf.tensor2d(pooled[k]);
    const n = tf.div(x, tf.add(tf.norm(x, 2, 1, true), 1e-8));
    const sim = tf.matMul(n, n, false, true);
    const masked = tf.sub(sim, tf.mul(tf.eye(x.shape[0]), 10));
    return tf.argMax(masked, 1);
  });
  const nn = (await f.array()) as number[];
  f.dispose();
  let shared = 0, counted = 0;
  nn.forEach((j, i) => {
    if (concepts[i].size === 0) return;
    counted++;
    if ([...concepts[i]].some((c) => concepts[j].has(c))) shared++;
  });
  console.log(`${values.model ?? 'inception_v3'} ${layers[k]}: ${(100 * shared / counted).toFixed(1)}% of ${counted} images share a concept with their nearest neighbour`);
}
