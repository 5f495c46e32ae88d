import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, parseOptions, saveImage, tf, type Tensor4D } from '@convlab/core';
import { createConvNet } from '@convlab/models';
import { runDossier } from '../src/dossier.js';
import { runAttribute, runDeepDream, runFeatureViz, runOcclusion, withDiversity } from '../src/runs.js';
import { classNameOf, predictTopK, resolveClassIndex } from '../src/target.js';
import { AttributeOptions } from '../src/options.js';
import { tinyVgg } from './helpers/nets.js';

/** A tiny net with a 1000-way head and no class names of its own: ImageNet's names apply. */
function tinyImagenet() {
  const input = tf.input({ shape: [32, 32, 3], name: 'input_1' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as ReturnType<typeof tf.input>;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as typeof x;
  x = tf.layers.dense({ units: 1000, name: 'predictions', activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(x) as typeof x;
  return createConvNet({
    name: 'tiny_imagenet',
    family: 'vgg',
    model: tf.model({ inputs: input, outputs: x }),
    inputSize: [32, 32],
    preprocessing: { kind: 'caffe', meanRgb: [123.68, 116.779, 103.939] },
    weights: { source: 'random', description: 'seeded', quantized: false, kind: 'random' },
    headLayer: 'predictions',
  });
}

async function photos(dir: string, n: number, size = 32): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = join(dir, 'photos', `p${i}.png`);
    await saveImage({ width: size, height: size, data: Uint8Array.from({ length: size * size * 3 }, (_, k) => ((k % 97) * (i + 3) + (k >> 5) * 7) % 256) }, file);
    files.push(file);
  }
  return files;
}

test('--class by name: the model\'s class names (case-insensitive), ImageNet names for a 1000-way head, one error with suggestions', (t) => {
  const net = tinyVgg(32);
  t.is(resolveClassIndex(net, 'b'), 1);
  t.is(resolveClassIndex(net, ' C '), 2);
  t.is(resolveClassIndex(net, '2'), 2);
  t.is(resolveClassIndex(net, 0), 0);
  const err = t.throws(() => resolveClassIndex(net, 'zebra'), { instanceOf: ConvlabError });
  t.regex(err.message, /--class "zebra" is not one of tiny_vgg's 3 classes/);
  t.regex(err.hint ?? '', /closest: .*\d a/);
  t.throws(() => resolveClassIndex(net, 7), { message: /class 7 out of range/ });
  net.dispose();

  const inet = tinyImagenet();
  t.is(resolveClassIndex(inet, 'bull mastiff'), 243);
  t.is(resolveClassIndex(inet, 'Bull_Mastiff'), 243);
  t.is(resolveClassIndex(inet, '243'), 243);
  t.is(classNameOf(inet, 243), 'bull mastiff');
  const e2 = t.throws(() => resolveClassIndex(inet, 'bull mastif'), { instanceOf: ConvlabError });
  t.regex(e2.message, /--class "bull mastif"/);
  t.regex(e2.hint ?? '', /bull mastiff/);
  // The schema keeps a name as text and turns digits into an index.
  t.is(parseOptions(AttributeOptions, { images: ['x.png'], class: 'bull mastiff' }, 'cli').class, 'bull mastiff');
  t.is(parseOptions(AttributeOptions, { images: ['x.png'], class: '243' }, 'cli').class, 243);
  const grey = tf.fill([1, 32, 32, 3], 128) as Tensor4D;
  const top = predictTopK(inet, grey, 5);
  grey.dispose();
  t.is(top?.length, 5);
  t.true(top!.every((e, i) => i === 0 || e.probability <= top![i - 1].probability));
  t.true(top!.every((e) => e.name.length > 0 && !e.name.startsWith('class ')));
  inet.dispose();
});

test('runAttribute: a class named by text, a top-5 table, deletion / insertion AUC per map in the HTML and the record, weights in the record', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-names-'));
  const [image] = await photos(dir, 1);
  const net = tinyVgg(32);
  const out = join(dir, 'out');
  const r = await runAttribute(net, { images: [image], out, class: 'B', methods: ['saliency', 'gradcam'], faithfulnessSteps: 4 });
  const record = JSON.parse(await readFile(r.record, 'utf8'));
  t.is(record.model.weights.source, 'random');
  const m = record.extra.maps[0];
  t.is(m.top5.length, 3, 'a 3-class head: all three');
  t.deepEqual(m.top5.map((e: { name: string }) => e.name).sort(), ['a', 'b', 'c']);
  t.is(m.maps[0].target.index, 1);
  t.regex(m.maps[0].target.label, /class 1 \(b\)/);
  for (const map of m.maps) {
    t.true(map.faithfulness.deletion >= 0 && map.faithfulness.deletion <= 1);
    t.true(map.faithfulness.insertion >= 0 && map.faithfulness.insertion <= 1);
  }
  const html = await readFile(r.report!, 'utf8');
  for (const s of ['deletion AUC', 'insertion AUC', 'top-5 predictions', 'weights: seeded He-normal']) t.true(html.includes(s), s);
  // Off: no faithfulness.
  const r2 = await runAttribute(net, { images: [image], out: join(dir, 'out2'), class: 0, methods: ['saliency'], faithfulnessSteps: 0 });
  t.is(JSON.parse(await readFile(r2.record, 'utf8')).extra.maps[0].maps[0].faithfulness, undefined);
  await t.throwsAsync(runAttribute(net, { images: [image], out: join(dir, 'out3'), class: 'zebra', methods: ['saliency'] }), { message: /--class "zebra"/ });
  t.false((await readdir(dir)).includes('out3'), 'refused before anything is written');
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('runOcclusion: the most-probable-class map carries a legend with class names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-occl-'));
  const [image] = await photos(dir, 1);
  const net = tinyVgg(32);
  const r = await runOcclusion(net, { images: [image], out: join(dir, 'out'), class: 'a', square: 8, stride: 4 });
  const rec = JSON.parse(await readFile(r.record, 'utf8'));
  const res = rec.extra.results[0];
  t.true(res.classLegend.length >= 1);
  const names = new Set(['a', 'b', 'c']);
  let total = 0;
  for (const e of res.classLegend) {
    t.true(names.has(e.name));
    t.regex(e.color, /^#[0-9a-f]{6}$/);
    total += e.fraction;
  }
  t.true(Math.abs(total - 1) < 1e-9);
  // The legend's shares are the map's.
  const top = res.topClass as number[];
  t.is(res.classLegend[0].fraction, top.filter((c) => c === res.classLegend[0].index).length / top.length);
  t.truthy(r.sections[0].html?.includes(res.classLegend[0].name));
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('runFeatureViz raises its objective and writes images + record; runDeepDream changes the photo', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-fv-'));
  const net = tinyVgg(32);
  t.is(withDiversity('block2_conv1:3', 10, 2), 'block2_conv1:3 + 10*diversity:block2_conv1');
  t.is(withDiversity('block2_conv1:3', 10, 1), 'block2_conv1:3');
  const r = await runFeatureViz(net, { objective: 'block2_conv1:3', copies: 2, diversity: 10, steps: 24, lr: 0.1, param: 'pixel', transforms: 'none', out: join(dir, 'fv') });
  t.is(r.images.length, 2);
  for (let i = 0; i < 2; i++) t.true(r.final[i] > r.start[i], `copy ${i}: ${r.start[i]} -> ${r.final[i]}`);
  const rec = JSON.parse(await readFile(r.record, 'utf8'));
  t.is(rec.parameters.objective, 'block2_conv1:3');
  t.is(rec.extra.objective, 'block2_conv1:3 + 10*diversity:block2_conv1');
  t.true((await readdir(join(dir, 'fv'))).includes('featureviz-block2_conv1_3-grid.png'));
  const [photo] = await photos(dir, 1, 48);
  const d = await runDeepDream(net, { image: photo, objective: 'block2_conv1', steps: 6, octaves: 2, out: join(dir, 'dd') });
  t.true(d.final[0] > d.start[0]);
  t.true(d.files.some((f) => f.endsWith('-pair.png')));
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('runDossier: top-k with both projections, diverse feature visualizations, receptive field, maps with faithfulness and the sanity check in one report', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-dossier-'));
  await photos(dir, 3);
  const net = tinyVgg(32);
  const r = await runDossier(net, {
    layer: 'block2_conv1',
    unit: 3,
    images: join(dir, 'photos'),
    class: 'c',
    methods: ['saliency', 'gradcam', 'guided'],
    k: 4,
    mapImages: 2,
    copies: 2,
    steps: 6,
    param: 'pixel',
    sanitySteps: 2,
    faithfulnessSteps: 4,
    out: join(dir, 'out'),
  });
  t.is(r.top9.tops[0].entries.length, 4);
  t.deepEqual(Object.keys(r.top9.figures[0].projections).sort(), ['deconvnet', 'guided']);
  t.is(r.featureViz.images.length, 2);
  t.deepEqual(r.receptiveField.size, [10, 10]);
  t.truthy(r.receptiveField.box);
  t.is(r.maps?.maps.length, 2);
  t.is(r.sanity?.results.length, 3);
  const html = await readFile(r.report, 'utf8');
  for (const s of ['Top-4 dataset patches', 'Feature visualization by optimization', 'Receptive field', 'class 2 (c)', 'deletion AUC', 'sanity: Spearman', 'Sanity check (cascading randomization)']) t.true(html.includes(s), s);
  t.false(/<img[^>]+src="(?!data:)/.test(html), 'every image is inlined');
  const rec = JSON.parse(await readFile(r.record, 'utf8'));
  t.is(rec.extra.maps.summary.rows.length, 3);
  t.truthy(rec.model.weights);
  // Refused before any work: a unit the layer does not have.
  await t.throwsAsync(runDossier(net, { layer: 'block2_conv1', unit: 16, images: join(dir, 'photos'), out: join(dir, 'out2') }), { message: /--units 16 is out of range/ });
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});
