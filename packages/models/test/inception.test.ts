import test from 'ava';
import { initEngine, tf } from '@convlab/core';
import { loadModel, type ConvNet } from '../src/index.js';
import { cosine, cropResized, photo, relDiff } from './helpers.js';

type Tensor4D = ReturnType<typeof tf.tensor4d>;

let net: ConvNet;
test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
  net = await loadModel('inception_v3');
});
test.after.always(() => net?.dispose());

test('inception_v3 loads offline with its nsfwjs weights', (t) => {
  t.deepEqual(net.inputSize, [299, 299]);
  t.is(net.minInputSize, 75);
  t.is(net.layers.length, 318);
  t.true(net.model.weights.every((w) => w.dtype === 'float32'));
  t.regex(net.weights.description, /InceptionV3.*fine-tuned/);
  t.deepEqual(net.layer('mixed4').outputShape, [null, 17, 17, 768]);
  t.deepEqual(net.outputShapeFor('features', [299, 299]), [8, 8, 2048]);
  t.deepEqual(net.outputShapeFor('mixed4', [256, 320]), [14, 18, 768]);
});

test('executor matches tfjs-layers predict and layer outputs within 1e-4', (t) => {
  const x = tf.randomUniform([1, 299, 299, 3], 0, 1, 'float32', 3) as Tensor4D;
  const names = ['activation_1', 'mixed0', 'mixed4', 'mixed7', 'mixed10', 'dense_3'];
  const sub = tf.model({ inputs: net.model.inputs, outputs: names.map((n) => net.model.getLayer(n).output as never) });
  const refs = sub.predict(x) as ReturnType<typeof tf.tensor>[];
  const outs = net.forward(x, { outputs: names });
  names.forEach((n, i) => {
    const d = relDiff(outs[n], refs[i]);
    t.true(d < 1e-4, `${n}: relative difference ${d}`);
  });
  tf.dispose([x, ...refs, ...Object.values(outs)]);
});

test('evaluates only what the outputs need (cut at mixed4) at another input size', (t) => {
  tf.tidy(() => {
    const before = tf.memory().numTensors;
    const out = net.forward(tf.randomUniform([1, 160, 200, 3], 0, 1, 'float32', 1) as Tensor4D, {
      outputs: ['activation_1', 'mixed4'],
    });
    t.deepEqual(out.mixed4.shape, [1, 8, 10, 768]);
    t.deepEqual(out.mixed4.shape.slice(1), net.outputShapeFor('mixed4', [160, 200]));
    // Intermediates after the last requested layer were never computed and the rest were freed early.
    t.true(tf.memory().numTensors - before < 10);
  });
});

test('pool: avg replaces max pooling', (t) => {
  tf.tidy(() => {
    const x = tf.randomUniform([1, 120, 120, 3], 0, 1, 'float32', 2) as Tensor4D;
    const plain = net.forward(x, { outputs: ['activation_3', 'max_pooling2d_1'] });
    const avg = net.forward(x, { outputs: ['max_pooling2d_1'], pool: 'avg' });
    t.true(relDiff(plain.max_pooling2d_1, tf.maxPool(plain.activation_3 as Tensor4D, 3, 2, 'valid')) < 1e-6);
    t.true(relDiff(avg.max_pooling2d_1, tf.avgPool(plain.activation_3 as Tensor4D, 3, 2, 'valid')) < 1e-6);
  });
});

test('trunk features of two crops of one photo are closer than those of two photos', async (t) => {
  const a = await cropResized(await photo('giraffe.jpg'), 0.0, 0.0, 0.85, 0.85, [299, 299]);
  const b = await cropResized(await photo('giraffe.jpg'), 0.15, 0.15, 0.85, 0.85, [299, 299]);
  const c = await cropResized(await photo('kite.jpg'), 0.05, 0.05, 0.85, 0.85, [299, 299]);
  const pooled = tf.tidy(() => tf.unstack(tf.mean(net.taps(['features'])(tf.stack([a, b, c])).features, [1, 2])));
  const same = cosine(pooled[0], pooled[1]);
  const different = Math.max(cosine(pooled[0], pooled[2]), cosine(pooled[1], pooled[2]));
  t.log(`cosine same photo ${same.toFixed(3)}, different photos ${different.toFixed(3)}`);
  t.true(same > different + 0.05, `same ${same} vs different ${different}`);
  tf.dispose([a, b, c, ...pooled]);
});

test('feature info and layer roles (early activation_5, mid mixed2, late mixed7, last-conv mixed10)', (t) => {
  t.deepEqual(net.layerRoles(), { early: 'activation_5', mid: 'mixed2', late: 'mixed7', 'last-conv': 'mixed10' });
  const blocks = net.featureInfo().filter((f) => f.blockOutput);
  t.deepEqual(
    blocks.filter((f) => f.name.startsWith('mixed')).map((f) => f.name),
    Array.from({ length: 11 }, (_, i) => `mixed${i}`),
  );
  t.like(blocks.find((f) => f.name === 'mixed10'), { channels: 2048, reduction: 32, receptiveField: [1311, 1311], outputShape: [8, 8, 2048] });
  t.like(blocks.find((f) => f.name === 'mixed7'), { channels: 768, reduction: 16, outputShape: [17, 17, 768], roles: ['late'] });
});
