import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { loadCustomModel, parsePreprocessing } from '../src/custom.js';
import { fileIOHandler, readTfjsLayerWeights } from '../src/custom-tfjs-io.js';
import { writeKerasWeightsH5 } from '../src/keras-h5.js';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

let dir = '';
let model: LayersModel;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-custom-'));
  // A tiny fully convolutional net with a head: conv-relu-pool-conv-bn-relu-gap-dense.
  const input = tf.input({ shape: [null, null, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }).apply(x) as SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, name: 'c2', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn', movingMeanInitializer: tf.initializers.randomUniform({ seed: 3 }) }).apply(x) as SymbolicTensor;
  x = tf.layers.reLU({ name: 'r2' }).apply(x) as SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as SymbolicTensor;
  x = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(x) as SymbolicTensor;
  model = tf.model({ inputs: input, outputs: x, name: 'tinynet' });
});
test.after.always(async () => {
  model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

async function checkLoads(t: import('ava').ExecutionContext, path: string): Promise<void> {
  const net = await loadCustomModel({ weights: path });
  t.is(net.family, 'custom');
  t.deepEqual(net.inputSize, [224, 224]);
  t.is(net.headLayer, 'logits');
  const image = tf.randomUniform([2, 40, 36, 3], 0, 255, 'float32', 5);
  // default 'tf' preprocessing: [-1, 1]
  const x = net.preprocess(image);
  t.true(maxAbsDiff(x, tf.sub(tf.div(image, 127.5), 1)) < 1e-5);
  const expected = model.predict(x) as Tensor;
  const out = net.forward(x, { outputs: ['logits', 'c2'] });
  t.true(maxAbsDiff(out.logits, expected) < 1e-5);
  t.deepEqual(out.c2.shape, [2, 9, 8, 8]);
  t.deepEqual(net.outputShapeFor('c2', [64, 64]), [15, 15, 8]);
  tf.dispose([image, x, expected, ...Object.values(out)]);
  net.dispose();
}

test('a tfjs layers folder (and its model.json) loads from disk and computes the same outputs', async (t) => {
  const folder = join(dir, 'tfjs');
  await model.save(fileIOHandler(folder));
  const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
  t.is(json.format, 'layers-model');
  t.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
  await checkLoads(t, folder);
  await checkLoads(t, join(folder, 'model.json'));
  const { weights } = await readTfjsLayerWeights(folder);
  t.deepEqual([...weights.keys()], ['c1', 'c2', 'bn', 'logits']);
  t.deepEqual(
    weights.get('bn')!.map((w) => w.name.split('/').pop()),
    ['gamma', 'beta', 'moving_mean', 'moving_variance'],
  );
});

test('a full-model Keras .h5 loads: architecture from model_config, weights by name', async (t) => {
  const path = join(dir, 'tinynet.h5');
  await writeKerasWeightsH5(model, path, { includeModel: true });
  await checkLoads(t, path);
});

test('preprocessing option', async (t) => {
  const path = join(dir, 'tinynet-p.h5');
  await writeKerasWeightsH5(model, path, { includeModel: true });
  const net = await loadCustomModel({ weights: path, preprocessing: 'caffe' });
  const pixel = tf.tensor4d([10, 20, 30], [1, 1, 1, 3]);
  t.deepEqual(Array.from(net.preprocess(pixel).dataSync()).map((v) => Math.round(v * 1000) / 1000), [30 - 103.939, 20 - 116.779, 10 - 123.68]);
  net.dispose();
  t.deepEqual(parsePreprocessing('torch'), { kind: 'torch' });
  t.throws(() => parsePreprocessing('bgr' as never), { instanceOf: ConvlabError, message: /unknown preprocessing 'bgr'/ });
});

test('clear errors: no path, weights-only h5, missing shard, truncated shard, not a model folder', async (t) => {
  await t.throwsAsync(loadCustomModel({}), { instanceOf: ConvlabError, message: /needs weights/ });
  await t.throwsAsync(loadCustomModel({ weights: join(dir, 'absent') }), { instanceOf: ConvlabError, message: /custom model not found/ });

  const weightsOnly = join(dir, 'weights-only.h5');
  await writeKerasWeightsH5(model, weightsOnly);
  await t.throwsAsync(loadCustomModel({ weights: weightsOnly }), { instanceOf: ConvlabError, message: /holds weights only/ });

  const folder = join(dir, 'broken');
  await model.save(fileIOHandler(folder));
  const bin = await readFile(join(folder, 'weights.bin'));
  await writeFile(join(folder, 'weights.bin'), bin.subarray(0, 100));
  await t.throwsAsync(loadCustomModel({ weights: folder }), { instanceOf: ConvlabError, message: /hold 100 bytes, the manifest needs/ });
  await rm(join(folder, 'weights.bin'));
  await t.throwsAsync(loadCustomModel({ weights: folder }), { instanceOf: ConvlabError, message: /weight shard .* is missing/ });

  await t.throwsAsync(loadCustomModel({ weights: dir }), { instanceOf: ConvlabError, message: /no model.json in/ });
});
