import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { assignLayerWeights, readKerasH5, writeKerasWeightsH5, writeStringList, loadKerasWeightsH5 } from '../src/keras-h5.js';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-h5-'));
  await h5wasm.ready;
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Conv + batch norm (trainable and non-trainable weights) + dense head. */
function tinyModel(seed: number, filters = 4): LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  let x = tf.layers
    .conv2d({ filters, kernelSize: 3, padding: 'same', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomUniform({ seed: seed + 1 }) })
    .apply(input) as SymbolicTensor;
  x = tf.layers
    .batchNormalization({ name: 'bn', gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed + 2 }), movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: seed + 3 }), movingMeanInitializer: tf.initializers.randomUniform({ seed: seed + 4 }) })
    .apply(x) as SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(x) as SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as SymbolicTensor;
  x = tf.layers.dense({ units: 5, activation: 'softmax', name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 5 }) }).apply(x) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: 'tiny' });
}

function same(t: import('ava').ExecutionContext, a: LayersModel, b: LayersModel): void {
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 9);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.predict(x) as Tensor, b.predict(x) as Tensor))).dataSync()[0]);
  t.is(diff, 0);
  x.dispose();
}

test('weights-only layout: the Keras tree, read back in layer weight order', async (t) => {
  const a = tinyModel(1);
  const path = join(dir, 'tiny.h5');
  await writeKerasWeightsH5(a, path);

  const file = new h5wasm.File(path, 'r');
  t.deepEqual(file.attrs['layer_names'].value, ['image', 'conv', 'bn', 'relu', 'gap', 'head']);
  const bn = file.get('bn') as InstanceType<typeof h5wasm.Group>;
  t.deepEqual(bn.attrs['weight_names'].value, ['bn/gamma:0', 'bn/beta:0', 'bn/moving_mean:0', 'bn/moving_variance:0']);
  const kernel = file.get('conv/conv/kernel:0') as InstanceType<typeof h5wasm.Dataset>;
  t.deepEqual(kernel.shape, [3, 3, 3, 4]);
  t.is(kernel.dtype, '<f');
  file.close();

  const contents = await readKerasH5(path);
  t.is(contents.layout, 'weights');
  t.deepEqual([...contents.weights.keys()], ['conv', 'bn', 'head']);
  const b = tinyModel(100);
  const report = assignLayerWeights(b, contents.weights, { source: path });
  t.deepEqual(report, { layers: 3, tensors: 8, skipped: 0, renumbered: [] });
  same(t, a, b);
  a.dispose();
  b.dispose();
});

test('full-model layout: weights under /model_weights and the architecture in model_config', async (t) => {
  const a = tinyModel(2);
  const path = join(dir, 'tiny-model.h5');
  await writeKerasWeightsH5(a, path, { includeModel: true });
  const contents = await readKerasH5(path);
  t.is(contents.layout, 'model');
  const config = JSON.parse(contents.modelConfig!);
  t.is(config.class_name, 'Functional');
  t.is(config.config.layers.length, 6);
  const b = tinyModel(200);
  await loadKerasWeightsH5(b, path);
  same(t, a, b);
  a.dispose();
  b.dispose();
});

test('files written by h5py conventions: chunked attributes, float64 data, old weight names', async (t) => {
  const a = tinyModel(3);
  const path = join(dir, 'h5py-style.h5');
  const file = new h5wasm.File(path, 'w');
  // Keras splits long lists: layer_names0, layer_names1, ...
  writeStringList(file, 'layer_names0', ['image', 'conv', 'bn']);
  writeStringList(file, 'layer_names1', ['relu', 'gap', 'head']);
  for (const layer of a.layers) {
    const g = file.create_group(layer.name);
    // Keras 1 names (as in the original VGG notop files): conv_W_1:0 / conv_b_1:0, stored flat.
    const names = layer.weights.map((_, i) => `${layer.name}_${i}_1:0`);
    if (names.length) writeStringList(g, 'weight_names', names);
    layer.getWeights().forEach((w, i) => {
      g.create_dataset({ name: names[i], data: Float64Array.from(w.dataSync()), shape: w.shape, dtype: '<d' });
    });
  }
  file.close();
  const b = tinyModel(300);
  const report = await loadKerasWeightsH5(b, path);
  t.is(report.tensors, 8);
  same(t, a, b);
  a.dispose();
  b.dispose();
});

test('long layer lists are chunked on write and joined on read', async (t) => {
  const path = join(dir, 'chunks.h5');
  const names = Array.from({ length: 3000 }, (_, i) => `a_rather_long_layer_name_${String(i).padStart(6, '0')}`);
  const file = new h5wasm.File(path, 'w', { libver: ['earliest', 'latest'] });
  writeStringList(file, 'layer_names', names);
  for (const n of names) file.create_group(n);
  file.close();
  const check = new h5wasm.File(path, 'r');
  t.false('layer_names' in check.attrs);
  t.true('layer_names1' in check.attrs);
  check.close();
  t.deepEqual((await readKerasH5(path)).layerNames, names);
});

test('missing, unmapped and mis-shaped weights are listed, and the model is left unchanged', async (t) => {
  const a = tinyModel(4, 6); // 6 conv filters: conv and bn shapes differ from a 4-filter model
  const path = join(dir, 'wide.h5');
  await writeKerasWeightsH5(a, path);
  const b = tinyModel(5);
  const before = b.getLayer('head').getWeights()[0].dataSync().slice();
  const err = await t.throwsAsync(loadKerasWeightsH5(b, path), { instanceOf: ConvlabError });
  t.regex(err!.message, /shape mismatch: conv\/kernel: model \[3,3,3,4\] vs file \[3,3,3,6\]/);
  t.regex(err!.message, /bn\/gamma/);
  t.deepEqual(b.getLayer('head').getWeights()[0].dataSync(), before);

  // A file with a layer the model lacks, and lacking one the model has.
  const contents = await readKerasH5(path);
  const renamed = new Map([...contents.weights].map(([k, v]) => [k === 'head' ? 'classifier' : k, v]));
  const c = tinyModel(6, 6);
  const err2 = t.throws(() => assignLayerWeights(c, renamed, { source: 'x.h5' }), { instanceOf: ConvlabError });
  t.regex(err2!.message, /missing weights for head \(kernel \[6,5\], bias \[5\]\)/);
  t.regex(err2!.message, /unmapped weights in the file: classifier \(head\/kernel:0 \[6,5\], head\/bias:0 \[5\]\)/);
  // skipLayers accepts leftovers on purpose.
  const c2 = tinyModel(7, 6);
  const partial = new Map([...contents.weights].filter(([k]) => k !== 'head'));
  t.throws(() => assignLayerWeights(c2, partial, { source: 'x.h5' }));
  [a, b, c, c2].forEach((m) => m.dispose());
});

test('an HDF5 file that is not a Keras file says so', async (t) => {
  const path = join(dir, 'other.h5');
  const file = new h5wasm.File(path, 'w');
  file.create_dataset({ name: 'data', data: new Float32Array(4) });
  file.close();
  const err = await t.throwsAsync(readKerasH5(path), { instanceOf: ConvlabError });
  t.regex(err!.message, /no 'layer_names' attribute: not a Keras HDF5 weights file/);
});
