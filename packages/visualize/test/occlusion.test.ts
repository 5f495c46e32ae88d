import test from 'ava';
import { tf } from '@convlab/core';
import { createConvNet } from '@convlab/models';
import { occlusion, occlusionForModel, occlusionGrid } from '../src/methods/occlusion.js';

const SIZE = 48;

/** Dark image with one bright 8x8 blob at rows 26..33, columns 10..17. */
function blobImage() {
  const data = new Uint8Array(SIZE * SIZE * 3).fill(20);
  for (let y = 26; y < 34; y++) for (let x = 10; x < 18; x++) data.fill(250, (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
  return { width: SIZE, height: SIZE, data };
}

/** A "bright blob" unit: relu(mean brightness / 255 * 3 - 2) summed over the map (fires above ~170 grey). */
function blobNet() {
  const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'input' });
  const conv = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'bright', activation: 'relu' }).apply(input);
  const model = tf.model({ inputs: input, outputs: conv as ReturnType<typeof tf.input> });
  model.getLayer('bright').setWeights([tf.fill([1, 1, 3, 1], 1 / 255), tf.fill([1], -2)]);
  return createConvNet({ name: 'blob', family: 'custom', model, inputSize: [SIZE, SIZE], preprocessing: { kind: 'none' }, weights: { source: 'test', description: 'blob detector', quantized: false } });
}

test('occlusion grid covers the image in stride cells', (t) => {
  const { rows, cols, boxes } = occlusionGrid(48, 40, 12, 8);
  t.is(rows, 6);
  t.is(cols, 5);
  t.deepEqual(boxes[0], { y0: 0, x0: 0, y1: 10, x1: 10 });
  for (const b of boxes) t.true(b.y1 <= 48 && b.x1 <= 40 && b.y0 >= 0 && b.x0 >= 0);
});

test('the occlusion map of a blob-detecting unit is lowest where the blob is covered', async (t) => {
  const net = blobNet();
  const image = blobImage();
  const res = await occlusionForModel(net, image, { layer: 'bright', unit: 0, position: 'all' }, { size: 8, stride: 4, batchSize: 7, fill: [128, 128, 128] });
  t.true(res.complete);
  t.is(res.rows * res.cols, res.target.length);
  let min = 0;
  for (let i = 1; i < res.target.length; i++) if (res.target[i] < res.target[min]) min = i;
  const row = Math.floor(min / res.cols);
  const col = min % res.cols;
  // Cell (7, 3) centres the 8 px square at (30, 14), on the blob: it is fully hidden.
  t.deepEqual([row, col], [7, 3]);
  t.true(res.target[min] < 1e-6);
  t.true(res.baseline > 60);
  // Far from the blob nothing changes.
  t.true(Math.abs(res.target[0] - res.baseline) < 1e-4);
  net.dispose();
});

test('occlusion batches give the same map whatever the batch size, and class maps come with the scorer', async (t) => {
  const image = blobImage();
  const base = tf.tensor3d(Float32Array.from(image.data), [SIZE, SIZE, 3]);
  // Scorer: mean of the red channel in the blob area; 'classes' = which half is brighter.
  const scorer = (images: ReturnType<typeof tf.tensor4d>) => {
    const red = tf.slice(images, [0, 0, 0, 0], [-1, -1, -1, 1]);
    const target = tf.reshape(tf.mean(tf.slice(red, [0, 26, 10, 0], [-1, 8, 8, 1]), [1, 2, 3]), [-1]) as ReturnType<typeof tf.tensor1d>;
    const top = tf.mean(tf.slice(red, [0, 0, 0, 0], [-1, SIZE / 2, -1, 1]), [1, 2, 3]);
    const bottom = tf.mean(tf.slice(red, [0, SIZE / 2, 0, 0], [-1, SIZE / 2, -1, 1]), [1, 2, 3]);
    const probs = tf.softmax(tf.stack([top, bottom], 1)) as ReturnType<typeof tf.tensor2d>;
    return { target, probs };
  };
  const a = await occlusion(base, scorer, { size: 10, stride: 6, batchSize: 1 });
  const b = await occlusion(base, scorer, { size: 10, stride: 6, batchSize: 64 });
  t.deepEqual(Array.from(a.target), Array.from(b.target));
  t.deepEqual(Array.from(a.topClass!), Array.from(b.topClass!));
  t.is(a.baselineClass, 1);
  t.true(a.topClass!.every((c) => c === 1));
  base.dispose();
});

test('occlusion stops early on abort and says so', async (t) => {
  const image = blobImage();
  const controller = new AbortController();
  const scorer = (images: ReturnType<typeof tf.tensor4d>) => ({ target: tf.mean(images, [1, 2, 3]) as ReturnType<typeof tf.tensor1d> });
  const res = await occlusion(image, scorer, { size: 8, stride: 4, batchSize: 4, signal: controller.signal, onProgress: (done) => done >= 8 && controller.abort() });
  t.false(res.complete);
});
