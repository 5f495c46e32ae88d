import test from 'ava';
import { ConvlabError, initEngine, tf } from '@convlab/core';
import { getModelEntry, listModels, loadModel } from '../src/index.js';

type Tensor4D = ReturnType<typeof tf.tensor4d>;

test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
});

test('lists the offline models with their native sizes', async (t) => {
  const names = listModels().map((e) => e.name);
  t.true(names.includes('mobilenet_v2'));
  t.true(names.includes('inception_v3'));
  t.deepEqual(getModelEntry('inception_v3').inputSize, [299, 299]);
  const where = await getModelEntry('mobilenet_v2').weightsAvailable();
  t.true(where.available);
  t.regex(where.where, /nsfwjs/);
});

test('unknown model names list the valid ones', async (t) => {
  const err = await t.throwsAsync(loadModel('resnet18'), { instanceOf: ConvlabError });
  t.regex(err!.message, /unknown model "resnet18"/);
  t.regex((err as ConvlabError & { hint?: string }).hint ?? '', /mobilenet_v2.*inception_v3/);
  await t.throwsAsync(loadModel('mobilenet_v2', { weights: '/no/such/file.h5' }), { instanceOf: ConvlabError, message: /mobilenet_v2 weights not found: \/no\/such\/file\.h5/ });
  const e = await t.throwsAsync(loadModel('resnet50'), { instanceOf: ConvlabError });
  t.regex(e!.message, /no ImageNet weights for resnet50 on this machine: neither resnet50_weights_tf_dim_ordering_tf_kernels\.h5 nor resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5 is in /);
  t.regex((e as ConvlabError).hint ?? '', /convlab-models pull resnet50 --top/);
});

test('random weights are seeded, differ from the default ones, and keep activations alive', async (t) => {
  const a = await loadModel('mobilenet_v2', { weights: 'random', seed: 1 });
  const b = await loadModel('mobilenet_v2', { weights: 'random', seed: 1 });
  const c = await loadModel('mobilenet_v2', { weights: 'random', seed: 2 });
  const d = await loadModel('mobilenet_v2');
  t.is(a.weights.source, 'random');
  t.is(a.classNames, undefined);
  tf.tidy(() => {
    const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 4) as Tensor4D;
    const f = (n: typeof a) => n.forward(x, { outputs: ['features'] }).features;
    const [fa, fb, fc, fd] = [f(a), f(b), f(c), f(d)];
    t.is(tf.max(tf.abs(tf.sub(fa, fb))).dataSync()[0], 0);
    t.true(tf.max(tf.abs(tf.sub(fa, fc))).dataSync()[0] > 0);
    t.true(tf.max(tf.abs(tf.sub(fa, fd))).dataSync()[0] > 0);
    t.true(tf.mean(fa).dataSync()[0] > 1e-3, 'He init keeps the top features non-zero');
  });
  [a, b, c, d].forEach((n) => n.dispose());
});

test('includeHead: false drops the nsfwjs head', async (t) => {
  const net = await loadModel('mobilenet_v2', { includeHead: false });
  t.is(net.headLayer, undefined);
  t.is(net.layers[net.layers.length - 1].name, 'out_relu');
  t.throws(() => net.resolveLayer('dense_3'), { instanceOf: ConvlabError });
  net.dispose();
});

test('upTo cuts the model after a layer (style transfer uses inception_v3 up to mixed4)', async (t) => {
  const net = await loadModel('inception_v3', { upTo: 'mixed4' });
  t.is(net.layers[net.layers.length - 1].name, 'mixed4');
  t.is(net.headLayer, undefined);
  t.throws(() => net.resolveLayer('mixed5'), { instanceOf: ConvlabError });
  tf.tidy(() => {
    const out = net.forward(tf.zeros([1, 100, 100, 3]) as Tensor4D, { outputs: ['mixed4', 'activation_1'] });
    t.deepEqual(out.mixed4.shape, [1, 4, 4, 768]);
  });
  net.dispose();
  await t.throwsAsync(loadModel('inception_v3', { upTo: 'mixed44' }), { instanceOf: ConvlabError, message: /upTo: unknown layer/ });
});
