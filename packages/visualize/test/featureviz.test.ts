/**
 * Feature visualization by optimization: the objective language, the matmul irfft2d, and the check of
 * the issue: on the offline MobileNetV2 trunk at 96 px, 48 Adam steps from a seeded start raise the
 * target channel's mean activation (at the ReLU6 output itself) at least 4-fold over the start image,
 * the same seed gives the same image, and DeepDream raises its layer objective on a photo.
 */
import test from 'ava';
import { join } from 'node:path';
import { initEngine, loadImage, tf, type RgbImage, type Tensor4D } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import { parseObjectives } from '../src/featureviz/objectives.js';
import { irfft2d, rfft2dFreqs } from '../src/featureviz/parameterization.js';
import { deepDream, featureVisualization } from '../src/featureviz/optimize.js';
import { fitImage } from '../src/images.js';

test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
});

test('the objective language', (t) => {
  t.deepEqual(parseObjectives('mixed3:5'), [[{ kind: 'channel', layer: 'mixed3', channel: 5, weight: 1 }]]);
  t.deepEqual(parseObjectives('2*@late:3@1,2 - 0.5*class:1 + 100*diversity:mixed4 ; block_1_expand_relu'), [
    [
      { kind: 'neuron', layer: '@late', channel: 3, position: [1, 2], weight: 2 },
      { kind: 'class', index: 1, weight: -0.5 },
      { kind: 'diversity', layer: 'mixed4', weight: 100 },
    ],
    [{ kind: 'layer', layer: 'block_1_expand_relu', weight: 1 }],
  ]);
  t.deepEqual(parseObjectives('-L:[0.5, -1, 2]'), [[{ kind: 'direction', layer: 'L', vector: [0.5, -1, 2], weight: -1 }]]);
  t.deepEqual(parseObjectives('L:4@center'), [[{ kind: 'neuron', layer: 'L', channel: 4, position: 'center', weight: 1 }]]);
  t.throws(() => parseObjectives('L:4 + ; M'), { message: /objective/ });
});

test('irfft2d by matrix products: one frequency gives its cosine; the frequency grid is numpy fftfreq', (t) => {
  const [h, w] = [6, 8];
  const k = w / 2 + 1;
  const re = new Float32Array(h * k);
  const im = new Float32Array(h * k);
  re[1 * k + 2] = 3; // ky = 1, kx = 2
  im[5 * k + 1] = 2; // ky = -1, kx = 1
  const x = tf.tidy(() => irfft2d(tf.tensor3d(re, [1, h, k]), tf.tensor3d(im, [1, h, k]), h, w).dataSync());
  for (let y = 0; y < h; y++)
    for (let u = 0; u < w; u++) {
      const expected = (2 / (h * w)) * (3 * Math.cos(2 * Math.PI * (y / h + (2 * u) / w)) - 2 * Math.sin(2 * Math.PI * ((5 * y) / h + u / w)));
      t.true(Math.abs(x[y * w + u] - expected) < 1e-5);
    }
  const f = rfft2dFreqs(4, 4);
  t.is(f[2 * 3 + 2], Math.fround(Math.hypot(-0.5, 0.5))); // row 2 is frequency -1/2
});

function channelMean(net: ConvNet, image: RgbImage, layer: string, c: number): number {
  return tf.tidy(() => {
    const act = net.forward(net.preprocess(tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3])), { outputs: [layer] })[layer] as Tensor4D;
    return tf.mean(tf.slice(act, [0, 0, 0, c], [1, -1, -1, 1])).dataSync()[0];
  });
}

test.serial('mobilenet_v2 at 96 px: 48 steps raise a channel at least 4x over the start image, reproducibly', async (t) => {
  const net = await loadModel('mobilenet_v2');
  const options = { objective: 'block_6_expand_relu:5', size: [96, 96] as [number, number], steps: 48, learningRate: 0.05, seed: 1 };
  const res = await featureVisualization(net, options);
  t.deepEqual(res.layers, ['block_6_expand_BN'], 'the ReLU6 layer is optimized on its input');
  const before = channelMean(net, res.startImages[0], 'block_6_expand_relu', 5);
  const after = channelMean(net, res.images[0], 'block_6_expand_relu', 5);
  t.log(`block_6_expand_relu:5 mean activation ${before.toFixed(3)} -> ${after.toFixed(3)} (${(after / before).toFixed(1)}x), ${res.seconds.toFixed(1)} s`);
  t.true(before > 0 && after >= 4 * before);
  t.true(res.final[0] > res.start[0]);
  const again = await featureVisualization(net, { ...options, steps: 4 });
  const again2 = await featureVisualization(net, { ...options, steps: 4 });
  t.deepEqual(Array.from(again.images[0].data), Array.from(again2.images[0].data), 'same seed, same image');
  // Two units batched in one optimization, pixel parameterization, regularizers: both rise.
  const two = await featureVisualization(net, { objective: 'block_6_expand_relu:5; block_6_expand_relu:9', size: [96, 96], steps: 16, param: 'pixel', tv: 0.5, l1: 0.1, blur: 0.5, seed: 2 });
  t.is(two.images.length, 2);
  t.true(two.final[0] > two.start[0] && two.final[1] > two.start[1]);
  net.dispose();
});

test.serial('DeepDream raises a layer objective on a photo', async (t) => {
  const net = await loadModel('mobilenet_v2');
  const photo = await fitImage(await loadImage(join(import.meta.dirname, '../../../assets/content', 'dog.jpg')), 96, 96);
  const res = await deepDream(net, photo, { objective: 'block_3_expand_relu', steps: 12, octaves: [0.75, 1] });
  t.deepEqual(res.octaves, [[72, 72], [96, 96]]);
  t.true(res.final[0] > res.start[0], `${res.start[0]} -> ${res.final[0]}`);
  t.is(res.images[0].width, 96);
  net.dispose();
});
