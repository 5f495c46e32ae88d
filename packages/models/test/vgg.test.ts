import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, tf, type Tensor } from '@convlab/core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { createConvNet } from '../src/convnet.js';
import { fileIOHandler } from '../src/custom-tfjs-io.js';
import { loadKerasWeightsH5, writeKerasWeightsH5 } from '../src/keras-h5.js';
import { buildVgg, loadVgg, loadVggModel, VGG_MEAN_RGB, vggAliases, vggLayerNames } from '../src/vgg.js';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

let dir = '';
let h5Path = '';
let reference: LayersModel;

// One VGG19 with seeded random weights, written once as a Keras notop-layout .h5 (80 MB, ~1 s).
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-vgg-'));
  process.env.CONVLAB_HOME = join(dir, 'home');
  reference = (await loadVggModel(19, { weights: 'random', seed: 7 })).model;
  h5Path = join(dir, 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
  await writeKerasWeightsH5(reference, h5Path);
});

test.after.always(async () => {
  reference?.dispose();
  await rm(dir, { recursive: true, force: true });
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

test('VGG16/VGG19 have the Keras applications layer names and shapes', (t) => {
  const vgg16 = buildVgg(16, { init: 'zeros' });
  const vgg19 = buildVgg(19, { init: 'zeros' });
  try {
    t.deepEqual(
      vgg16.layers.map((l) => l.name),
      vggLayerNames(16),
    );
    t.is(vgg16.layers.length, 19);
    t.is(vgg19.layers.length, 22);
    t.is(vgg16.countParams(), 14_714_688); // Keras VGG16(include_top=False).count_params()
    t.is(vgg19.countParams(), 20_024_384); // Keras VGG19(include_top=False).count_params()
    const conv = vgg19.getLayer('block4_conv4').getConfig();
    t.is(conv.padding, 'same');
    t.is(conv.activation, 'relu');
    t.deepEqual(vgg19.outputs[0].shape, [null, null, null, 512]);
  } finally {
    vgg16.dispose();
    vgg19.dispose();
  }
});

test('VGG19 feature info and layer roles (random weights)', async (t) => {
  const net = await loadVgg(19, { weights: 'random', seed: 1 });
  try {
    t.deepEqual(net.layerRoles(), { early: 'block3_conv4', mid: 'block4_conv4', late: 'block5_conv4', 'last-conv': 'block5_conv4' });
    const info = net.featureInfo();
    t.like(info.find((f) => f.name === 'block5_conv4'), { aliases: ['conv5_4', 'relu5_4'], channels: 512, reduction: 16, receptiveField: [252, 252], outputShape: [14, 14, 512] });
    t.like(info.find((f) => f.name === 'block5_pool'), { reduction: 32, receptiveField: [268, 268], blockOutput: true, roles: [] });
    t.deepEqual(info.filter((f) => f.blockOutput).length, 21, 'a plain chain: every conv and pool');
  } finally {
    net.dispose();
  }
});

test('aliases: conv/relu name the fused conv output, pool names the pooling', (t) => {
  const aliases = vggAliases(19);
  t.is(aliases.conv4_2, 'block4_conv2');
  t.is(aliases.relu4_2, 'block4_conv2');
  t.is(aliases.relu5_4, 'block5_conv4');
  t.is(aliases.pool3, 'block3_pool');
  t.is(Object.keys(aliases).length, 16 * 2 + 5);
  t.false('conv5_4' in vggAliases(16));
});

test('a VGG19 .h5 with random weights maps every weight and reproduces the activations', async (t) => {
  const loaded = await loadKerasWeightsH5(buildVgg(19, { init: 'zeros' }), h5Path);
  t.is(loaded.layers, 16);
  t.is(loaded.tensors, 32);
  t.is(loaded.skipped, 0);
  t.is(loaded.contents.layout, 'weights');

  const fromFile = await loadVgg(19, { weights: h5Path });
  const direct = createConvNet({
    name: 'vgg19',
    family: 'vgg',
    model: reference,
    inputSize: [224, 224],
    preprocessing: { kind: 'caffe', meanRgb: VGG_MEAN_RGB },
    weights: { source: 'random', description: '', quantized: false },
    aliases: vggAliases(19),
  });
  const image = tf.randomUniform([1, 32, 48, 3], 0, 255, 'float32', 1);
  const layers = ['conv1_1', 'relu3_1', 'block4_conv4', 'pool5'];
  const a = fromFile.taps(layers)(image);
  const b = direct.taps(layers)(image);
  t.deepEqual(a.pool5.shape, [1, 1, 1, 512]);
  t.deepEqual(a.relu3_1.shape, [1, 8, 12, 256]);
  for (const name of layers) {
    t.is(maxAbsDiff(a[name], b[name]), 0, name);
    t.true(tf.max(a[name]).dataSync()[0] > 0, `${name} is not all zero`);
  }
  // The graph executor and tfjs-layers' own predict agree on the file-loaded model.
  const predicted = fromFile.model.predict(fromFile.preprocess(image)) as Tensor;
  t.true(maxAbsDiff(predicted, a.pool5) < 1e-4);
  t.is(fromFile.weights.source, h5Path);
  t.is(fromFile.minInputSize, 32);
  tf.dispose([image, predicted, ...Object.values(a), ...Object.values(b)]);
  fromFile.dispose();
});

test('upTo builds a shorter model and skips the file weights beyond it', async (t) => {
  const net = await loadVgg(19, { weights: h5Path, upTo: 'relu4_1' });
  t.is(net.layers[net.layers.length - 1].name, 'block4_conv1');
  t.is(net.resolveLayer('conv4_1'), 'block4_conv1');
  t.throws(() => net.resolveLayer('conv5_1'), { instanceOf: ConvlabError });
  net.dispose();

  const { model } = await loadVggModel(19, { weights: h5Path, upTo: 'conv3_1' });
  try {
    t.is(model.layers[model.layers.length - 1].name, 'block3_conv1');
    const x = tf.randomUniform([1, 32, 32, 3], -50, 50, 'float32', 2);
    const full = tf.model({ inputs: reference.inputs, outputs: reference.getLayer('block3_conv1').output as SymbolicTensor });
    t.is(maxAbsDiff(model.predict(x) as Tensor, full.predict(x) as Tensor), 0);
    x.dispose();
  } finally {
    model.dispose();
  }
});

test('the cache directory is used when no path is given', async (t) => {
  const cached = join(process.env.CONVLAB_HOME!, 'models', 'vgg19', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
  const err = await t.throwsAsync(loadVggModel(19, { upTo: 'block1_pool' }), { instanceOf: ConvlabError });
  t.true(err!.message.includes(cached), err!.message);
  t.regex(err!.hint ?? '', /convlab-models pull vgg19/);
  t.false(err!.message.includes('\n'));

  const { mkdir, copyFile } = await import('node:fs/promises');
  await mkdir(join(process.env.CONVLAB_HOME!, 'models', 'vgg19'), { recursive: true });
  await copyFile(h5Path, cached);
  const { model, weights } = await loadVggModel(19, { upTo: 'block1_pool' });
  t.is(weights.source, cached);
  t.regex(weights.description, /Keras applications VGG19/);
  model.dispose();
});

test('a tfjs layers folder of VGG weights loads by layer name', async (t) => {
  const small = buildVgg(19, { upTo: 'block2_pool', seed: 3 });
  const folder = join(dir, 'tfjs-vgg');
  await small.save(fileIOHandler(folder));
  const { model } = await loadVggModel(19, { weights: folder, upTo: 'pool2' });
  const x = tf.randomUniform([1, 32, 32, 3], -50, 50, 'float32', 4);
  t.is(maxAbsDiff(model.predict(x) as Tensor, small.predict(x) as Tensor), 0);
  // Asking for more layers than the folder holds names the missing ones.
  const err = await t.throwsAsync(loadVggModel(19, { weights: folder, upTo: 'block3_conv1' }), { instanceOf: ConvlabError });
  t.regex(err!.message, /missing weights for block3_conv1/);
  x.dispose();
  small.dispose();
  model.dispose();
});

test('wrong architecture, corrupt, truncated and missing files give clear errors', async (t) => {
  // A VGG16 file into VGG19: the four extra convs are missing.
  const vgg16 = buildVgg(16, { init: 'zeros' });
  const p16 = join(dir, 'vgg16.h5');
  await writeKerasWeightsH5(vgg16, p16);
  vgg16.dispose();
  const wrong = await t.throwsAsync(loadVggModel(19, { weights: p16 }), { instanceOf: ConvlabError });
  t.regex(wrong!.message, /missing weights for block3_conv4 \(kernel \[3,3,256,256\], bias \[256\]\), block4_conv4 \(kernel \[3,3,512,512\], bias \[512\]\), block5_conv4 \(kernel \[3,3,512,512\], bias \[512\]\)/);

  const corrupt = join(dir, 'corrupt.h5');
  await writeFile(corrupt, 'this is not an hdf5 file at all');
  const e1 = await t.throwsAsync(loadVggModel(19, { weights: corrupt }), { instanceOf: ConvlabError });
  t.regex(e1!.message, /not an HDF5 file/);

  const truncated = join(dir, 'truncated.h5');
  const bytes = await readFile(h5Path);
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const e2 = await t.throwsAsync(loadVggModel(19, { weights: truncated }), { instanceOf: ConvlabError });
  t.regex(e2!.message, /truncated or corrupt/);

  const e3 = await t.throwsAsync(loadVggModel(19, { weights: join(dir, 'nope.h5') }), { instanceOf: ConvlabError });
  t.regex(e3!.message, /VGG19 weights not found: .*nope\.h5/);

  const e4 = await t.throwsAsync(loadVggModel(19, { weights: 'random', upTo: 'conv9_9' }), { instanceOf: ConvlabError });
  t.regex(e4!.message, /unknown VGG19 layer 'conv9_9'/);
  t.regex(e4!.hint ?? '', /block5_conv4/);
});

test('random weights are seeded', async (t) => {
  const a = await loadVggModel(16, { weights: 'random', seed: 1, upTo: 'block1_conv2' });
  const b = await loadVggModel(16, { weights: 'random', seed: 1, upTo: 'block1_conv2' });
  const c = await loadVggModel(16, { weights: 'random', seed: 2, upTo: 'block1_conv2' });
  const wa = a.model.getLayer('block1_conv2').getWeights()[0];
  t.is(maxAbsDiff(wa, b.model.getLayer('block1_conv2').getWeights()[0]), 0);
  t.true(maxAbsDiff(wa, c.model.getLayer('block1_conv2').getWeights()[0]) > 0);
  t.is(a.weights.source, 'random');
  [a, b, c].forEach((m) => m.model.dispose());
});
