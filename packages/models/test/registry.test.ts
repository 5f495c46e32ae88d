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
  const err = await t.throwsAsync(loadModel('resnet50'), { instanceOf: ConvlabError });
  t.regex(err!.message, /unknown model "resnet50"/);
  t.regex((err as ConvlabError & { hint?: string }).hint ?? '', /mobilenet_v2.*inception_v3/);
  await t.throwsAsync(loadModel('mobilenet_v2', { weights: '/no/such/file.h5' }), { instanceOf: ConvlabError, message: /bundled weights/ });
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
