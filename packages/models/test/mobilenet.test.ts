import test from 'ava';
import { ConvlabError, initEngine, tf } from '@convlab/core';
import { loadModel, type ConvNet } from '../src/index.js';
import { cosine, cropResized, photo, relDiff, grad4 } from './helpers.js';

type Tensor4D = ReturnType<typeof tf.tensor4d>;

let net: ConvNet;
test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
  net = await loadModel('mobilenet_v2');
});
test.after.always(() => net?.dispose());

test('mobilenet_v2 loads offline with nsfwjs weights, float32, with provenance', (t) => {
  t.is(net.name, 'mobilenet_v2');
  t.deepEqual(net.inputSize, [224, 224]);
  t.is(net.minInputSize, 32);
  t.true(net.weights.quantized);
  t.regex(net.weights.description, /nsfwjs .*MobileNetV2.*ImageNet.*fine-tuned/);
  t.deepEqual(net.classNames, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
  t.true(net.model.weights.every((w) => w.dtype === 'float32'));
  t.is(net.layers.length, 162);
  t.is(net.layers[0].kind, 'input');
});

test('runs a 224x224 and a 320x256 image through the trunk', async (t) => {
  const img = await photo('dog.jpg');
  for (const size of [[224, 224], [320, 256]] as [number, number][]) {
    const feats = tf.tidy(() => {
      const x = tf.expandDims(tf.image.resizeBilinear(tf.tensor3d(img.data, [img.height, img.width, 3], 'float32'), size));
      const out = net.taps(['features'])(x);
      return out.features;
    });
    t.deepEqual(feats.shape, [1, Math.ceil(size[0] / 32), Math.ceil(size[1] / 32), 1280]);
    t.deepEqual(net.outputShapeFor('features', size), feats.shape.slice(1));
    t.true(Number.isFinite(tf.sum(feats).dataSync()[0]));
    feats.dispose();
  }
});

test('taps of 4 layers give the expected shapes at two sizes', (t) => {
  const names = ['Conv1_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu'];
  const expected224 = [[112, 112, 32], [56, 56, 144], [28, 28, 192], [14, 14, 576]];
  const expected320x256 = [[160, 128, 32], [80, 64, 144], [40, 32, 192], [20, 16, 576]];
  for (const [size, expected] of [[[224, 224], expected224], [[320, 256], expected320x256]] as const) {
    const shapes = tf.tidy(() => {
      const out = net.taps(names)(tf.randomUniform([2, size[0], size[1], 3], 0, 255, 'float32', 3));
      return names.map((n) => out[n].shape);
    });
    t.deepEqual(shapes, expected.map((s) => [2, ...s]));
    names.forEach((n, i) => t.deepEqual(net.outputShapeFor(n, size as [number, number]), expected[i]));
  }
  t.deepEqual(net.layer('block_6_expand_relu').outputShape, [null, 28, 28, 192]);
});

test('executor matches tfjs-layers predict and layer outputs within 1e-4', (t) => {
  const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 7) as Tensor4D;
  const relus = net.layers.filter((l) => l.kind === 'relu').map((l) => l.name);
  const names = [...relus, 'block_16_project_BN', 'dense_3'];
  const sub = tf.model({ inputs: net.model.inputs, outputs: names.map((n) => net.model.getLayer(n).output as never) });
  const refs = sub.predict(x) as ReturnType<typeof tf.tensor>[];
  const outs = net.forward(x, { outputs: names });
  let worst = 0;
  names.forEach((n, i) => (worst = Math.max(worst, relDiff(outs[n], refs[i]))));
  t.true(worst < 1e-4, `worst relative difference ${worst}`);
  t.is(relus.length, 35);
  tf.dispose([x, ...refs, ...Object.values(outs)]);
});

test('trunk features of two crops of one photo are closer than those of two photos', async (t) => {
  const dog = await photo('dog.jpg');
  const horses = await photo('horses.jpg');
  const size: [number, number] = [224, 224];
  const a = await cropResized(dog, 0.0, 0.0, 0.85, 0.85, size);
  const b = await cropResized(dog, 0.15, 0.15, 0.85, 0.85, size);
  const c = await cropResized(horses, 0.05, 0.05, 0.85, 0.85, size);
  const pooled = tf.tidy(() => {
    const out = net.taps(['features'])(tf.stack([a, b, c]));
    return tf.unstack(tf.mean(out.features, [1, 2]));
  });
  const same = cosine(pooled[0], pooled[1]);
  const different = Math.max(cosine(pooled[0], pooled[2]), cosine(pooled[1], pooled[2]));
  t.log(`cosine same photo ${same.toFixed(3)}, different photos ${different.toFixed(3)}`);
  t.true(same > different + 0.05, `same ${same} vs different ${different}`);
  tf.dispose([a, b, c, ...pooled]);
});

test('gradient of a tap w.r.t. the input works on wasm', (t) => {
  const x = tf.randomUniform([1, 96, 80, 3], 0, 1, 'float32', 11) as Tensor4D;
  const g = grad4((input: Tensor4D) => tf.sum(net.forward(input, { outputs: ['block_13_expand_relu'] }).block_13_expand_relu))(x);
  t.deepEqual(g.shape, [1, 96, 80, 3]);
  const norm = tf.norm(g).dataSync()[0];
  t.true(Number.isFinite(norm) && norm > 0);
  tf.dispose([x, g]);
});

test('memory stays flat across forward passes', (t) => {
  const x = tf.randomUniform([1, 128, 128, 3], 0, 1, 'float32', 5) as Tensor4D;
  const run = (): void => tf.tidy(() => void net.forward(x, { outputs: ['features', 'block_3_expand_relu'] }));
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) run();
  t.is(tf.memory().numTensors, before);
  x.dispose();
});

test('unknown layer names throw a ConvlabError that lists valid names', (t) => {
  const err = t.throws(() => net.resolveLayer('block_6_expand_rleu'), { instanceOf: ConvlabError });
  t.regex(err!.message, /unknown layer "block_6_expand_rleu"/);
  t.regex(err!.message, /did you mean block_6_expand_relu/);
  const hint = (err as ConvlabError & { hint?: string }).hint ?? '';
  t.regex(hint, /Conv1_relu/);
  t.regex(hint, /out_relu/);
  t.throws(() => net.forward(tf.zeros([1, 64, 64, 3]) as Tensor4D, { outputs: ['nope'] }), { instanceOf: ConvlabError });
  t.is(net.resolveLayer('features'), 'out_relu');
});

test('too-small inputs and the head at the wrong size fail clearly', (t) => {
  t.throws(() => net.forward(tf.zeros([1, 16, 16, 3]) as Tensor4D, { outputs: ['features'] }), {
    instanceOf: ConvlabError,
    message: /too small/,
  });
  t.throws(() => tf.tidy(() => net.forward(tf.zeros([1, 448, 448, 3]) as Tensor4D, { outputs: ["head"] })), {
    instanceOf: ConvlabError,
    message: /dense_1/,
  });
});

test('override replaces a layer output and changes what follows', (t) => {
  const x = tf.randomUniform([1, 96, 96, 3], 0, 1, 'float32', 21) as Tensor4D;
  tf.tidy(() => {
    const plain = net.forward(x, { outputs: ['block_2_add'] }).block_2_add;
    const zeroed = net.forward(x, {
      outputs: ['block_2_add', 'block_1_project_BN'],
      override: (layer, out) => (layer === 'block_1_project_BN' ? tf.zerosLike(out) : undefined),
    });
    t.is(tf.max(tf.abs(zeroed.block_1_project_BN)).dataSync()[0], 0);
    t.true(relDiff(zeroed.block_2_add, plain) > 1e-3);
    t.throws(
      () => net.forward(x, { outputs: ['block_2_add'], override: (layer) => (layer === 'block_1_project_BN' ? tf.zeros([1, 2]) : undefined) }),
      { instanceOf: ConvlabError, message: /override/ },
    );
  });
  x.dispose();
});

test('preprocess and deprocess are inverse', (t) => {
  tf.tidy(() => {
    const img = tf.randomUniform([8, 8, 3], 0, 255, 'float32', 1);
    const x = net.preprocess(img);
    t.deepEqual(x.shape, [1, 8, 8, 3]);
    t.true(tf.max(x).dataSync()[0] <= 1 && tf.min(x).dataSync()[0] >= 0);
    t.true(relDiff(net.deprocess(x), tf.expandDims(img)) < 1e-5);
  });
});

test('fused conv+BN+relu inference equals the layer-by-layer path', (t) => {
  tf.tidy(() => {
    const x = tf.randomUniform([1, 128, 96, 3], 0, 1, 'float32', 8) as Tensor4D;
    const fused = net.forward(x, { outputs: ['features', 'block_5_add'] });
    const plain = net.forward(x, { outputs: ['features', 'block_5_add'], fusedInference: false });
    t.true(relDiff(fused.features, plain.features) < 1e-5);
    t.true(relDiff(fused.block_5_add, plain.block_5_add) < 1e-5);
  });
});

test('feature info and layer roles (early block_3, mid block_6, late block_13, last-conv out_relu)', (t) => {
  t.deepEqual(net.layerRoles(), { early: 'block_3_expand_relu', mid: 'block_6_expand_relu', late: 'block_13_expand_relu', 'last-conv': 'out_relu' });
  t.is(net.resolveLayer('@last-conv'), 'out_relu');
  const info = net.featureInfo();
  t.is(info.length, net.layers.length);
  t.deepEqual(net.layers[0].inbound, [], 'the input layer is a source');
  t.like(info.find((f) => f.name === 'out_relu'), { channels: 1280, reduction: 32, receptiveField: [491, 491], outputShape: [7, 7, 1280], blockOutput: true, roles: ['last-conv'] });
  t.like(info.find((f) => f.name === 'block_2_add'), { channels: 24, reduction: 4, blockOutput: true });
  // Inside a residual block nothing is a block output (the skip connection bypasses it).
  t.like(info.find((f) => f.name === 'block_2_expand_relu'), { reduction: 4, blockOutput: false });
  t.deepEqual(
    [...new Set(info.filter((f) => f.blockOutput).map((f) => f.reduction))],
    [2, 4, 8, 16, 32],
  );
  // At another size the trunk is described and the head, which needs the native size, is not.
  const small = net.featureInfo([160, 128]);
  t.like(small.find((f) => f.name === 'out_relu'), { reduction: 32, outputShape: [5, 4, 1280] });
  t.is(small.find((f) => f.name === 'dense_3')?.outputShape, null);
});
