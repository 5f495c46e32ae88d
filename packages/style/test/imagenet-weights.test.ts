/**
 * `--weights imagenet` on VGG16/19 runs the classic Gatys setup, as a VGG file given by path does: content conv4_2,
 * style conv1_1..conv5_1, the network's own max pooling. The ImageNet file is written in the exact Keras layout
 * (the old `_W_1:0` names) with random values straight into the weights cache (CONVLAB_HOME): the trunk file is
 * all it needs.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, initEngine } from '@convlab/core';
import { buildVgg, cachedWeightsPath, kerasLayout, writeKerasLayoutH5 } from '@convlab/models';
import { defaultPool, loadFeatureNet, parseStylizeOptions } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'style-imagenet-'));
test.before(async () => {
  process.env.CONVLAB_HOME = join(dir, 'home');
  await initEngine({ log: false });
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const GATYS_STYLE = ['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1'];

test('VGG with imagenet or a file: Gatys layers and max pooling; random weights and the other backbones keep avg', (t) => {
  for (const backbone of ['vgg19', 'vgg16'] as const) {
    for (const weights of ['imagenet', 'default', '/some/vgg_notop.h5']) {
      const o = parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'], backbone, weights });
      t.deepEqual(o.contentLayers, ['conv4_2'], `${backbone} ${weights}`);
      t.deepEqual(o.styleLayers, GATYS_STYLE);
      t.is(o.pool, 'max', `${backbone} ${weights}`);
    }
    t.is(parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'], backbone, weights: 'random' }).pool, 'avg');
    t.is(parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'], backbone, weights: 'imagenet', pool: 'avg' }).pool, 'avg');
  }
  t.is(parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'] }).pool, 'avg');
  t.is(parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'], backbone: 'inception_v3', weights: 'imagenet' }).pool, 'avg');
  t.is(defaultPool('random_multiscale', 'default'), 'avg');
});

test.serial('vgg19 imagenet: a missing file is named, a notop file in the cache loads and serves the Gatys layers', async (t) => {
  const err = await t.throwsAsync(loadFeatureNet('vgg19', 'imagenet', 0), { instanceOf: ConvlabError });
  t.regex(err!.message, /^no ImageNet weights for vgg19 on this machine: neither vgg19_weights_tf_dim_ordering_tf_kernels\.h5 nor vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5 is in /);
  const model = buildVgg(19, { includeTop: false });
  const layout = kerasLayout(model, 'keras1');
  model.dispose();
  let s = 7;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  await writeKerasLayoutH5(cachedWeightsPath('vgg19:notop'), layout, (l, i) => {
    const w = layout.find((x) => x.name === l)!.weights[i];
    const n = w.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const scale = w.shape.length === 4 ? Math.sqrt(6 / (w.shape[0] * w.shape[1] * w.shape[2])) : 0.01;
    for (let j = 0; j < n; j++) v[j] = scale * rand();
    return v;
  }, { style: 'keras1' });
  const net = await loadFeatureNet('vgg19', 'imagenet', 0);
  try {
    t.regex(net.weights, /vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5 \(Keras applications VGG19, ImageNet, convolutional trunk \(notop\)\)/);
    const o = parseStylizeOptions({ content: 'c.jpg', style: ['s.jpg'], backbone: 'vgg19', weights: 'imagenet' });
    t.deepEqual(o.contentLayers.map((l) => net.resolveLayer(l)), ['block4_conv2']);
    t.deepEqual(o.styleLayers.map((l) => net.resolveLayer(l)), ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1', 'block5_conv1']);
  } finally {
    net.dispose();
  }
});
