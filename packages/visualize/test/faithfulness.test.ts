/**
 * Deletion and insertion (Petsiuk et al. 2018) on a synthetic model whose relevant pixels are known:
 * its class-0 logit is the sum of the pixels of a 5x5 square, so the map that ranks that square first
 * must have the lowest deletion area and the highest insertion area, a random map must do worse, and a
 * map that ranks the square last worst of all.
 */
import test from 'ava';
import { initEngine, tf, type Tensor1D, type Tensor4D } from '@convlab/core';
import { createConvNet, type ConvNet } from '@convlab/models';
import { deletionInsertion, faithfulness, rankPixels, trapezoidArea } from '../src/faithfulness.js';
import { createMethod } from '../src/methods/index.js';
import { fixedValues } from './helpers/nets.js';

test.before(async () => {
  await initEngine({ backend: 'cpu', log: false });
});

const N = 16;
const inSquare = (i: number) => {
  const y = Math.floor(i / N);
  const x = i % N;
  return y >= 9 && y < 14 && x >= 3 && x < 8;
};

/** conv N x N (valid) with weights 1/(255 * 25) on the square (all channels): s = mean over it (0..3), then logits [8 s - 20, 0]. */
function squareNet(): ConvNet {
  const input = tf.input({ shape: [N, N, 3], name: 'input' });
  let x = tf.layers.conv2d({ filters: 1, kernelSize: N, name: 'detector' }).apply(input);
  x = tf.layers.flatten({ name: 'flat' }).apply(x);
  x = tf.layers.dense({ units: 2, name: 'logits' }).apply(x);
  const model = tf.model({ inputs: input, outputs: x as ReturnType<typeof tf.input> });
  const k = new Float32Array(N * N * 3);
  for (let i = 0; i < N * N; i++) if (inSquare(i)) k.fill(1 / (255 * 25), i * 3, i * 3 + 3);
  model.getLayer('detector').setWeights([tf.tensor4d(k, [N, N, 3, 1]), tf.tensor1d([0])]);
  model.getLayer('logits').setWeights([tf.tensor2d([8, 0], [1, 2]), tf.tensor1d([-20, 0])]);
  return createConvNet({
    name: 'square',
    family: 'custom',
    model,
    inputSize: [N, N],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'a 5x5 square detector', quantized: false },
    classNames: ['square', 'other'],
    headLayer: 'logits',
  });
}

function photo(): Float32Array {
  // Bright square on a mid-grey, textured background.
  return Float32Array.from({ length: N * N * 3 }, (_, i) => (inSquare(Math.floor(i / 3)) ? 230 : 100 + 40 * fixedValues(1, i + 1)[0]));
}

test('trapezoidArea and rankPixels', (t) => {
  t.is(trapezoidArea([0, 0.5, 1], [1, 1, 0]), 0.75);
  t.deepEqual(Array.from(rankPixels([0.1, 0.5, 0.5, 0.9])), [3, 1, 2, 0]);
});

test('the true map has the best deletion and insertion areas; a random map is worse; the inverted map worst', async (t) => {
  const net = squareNet();
  const x = photo();
  const image = tf.tensor3d(x, [N, N, 3]);
  const truth = Float32Array.from({ length: N * N }, (_, i) => (inSquare(i) ? 1 : 0));
  const random = fixedValues(N * N, 99).map(Math.abs);
  const inverted = truth.map((v) => 1 - v);
  const results: Record<string, Awaited<ReturnType<typeof faithfulness>>> = {};
  for (const [name, heat] of Object.entries({ truth, random, inverted })) {
    results[name] = await faithfulness(net, image, { heat }, { classIndex: 0 }, { steps: 32 });
  }
  // A method on this model: the gradient is the square itself.
  const saliency = await createMethod('saliency', net).attribute(image, { classIndex: 0 });
  results.saliency = await faithfulness(net, image, saliency, undefined, { steps: 32 });
  const d = (k: string) => results[k].deletion.auc;
  const ins = (k: string) => results[k].insertion.auc;
  t.log(Object.entries(results).map(([k, r]) => `${k}: deletion ${r.deletion.auc.toFixed(3)}, insertion ${r.insertion.auc.toFixed(3)}`).join('\n'));
  t.true(d('truth') < d('random') && d('random') < d('inverted'));
  t.true(ins('truth') > ins('random') && ins('random') > ins('inverted'));
  t.true(Math.abs(d('saliency') - d('truth')) < 1e-6 && Math.abs(ins('saliency') - ins('truth')) < 1e-6);
  // The curves start at the image's probability (deletion) and end at it (insertion).
  const p = results.truth.score;
  t.true(Math.abs(p - 1 / (1 + Math.exp(-(8 * ((3 * 230) / 255) - 20)))) < 1e-4);
  t.true(Math.abs(results.truth.insertion.scores.at(-1)! - p) < 1e-5);
  t.is(results.truth.deletion.fractions.length, 33);
  // The truth map's deletion falls as soon as the square's 25 pixels (~10% of 256) are gone.
  const tenth = results.truth.deletion.fractions.findIndex((f) => f >= 25 / 256);
  t.true(results.truth.deletion.scores[tenth] < results.truth.deletion.scores[0] * 0.2);
  image.dispose();
  net.dispose();
});

test('deletionInsertion works with any scorer (no model): a linear score of the square', async (t) => {
  const x = photo();
  const image = tf.tensor4d(x, [1, N, N, 3]);
  const mask = tf.tensor4d(Float32Array.from({ length: N * N * 3 }, (_, i) => (inSquare(Math.floor(i / 3)) ? 1 : 0)), [1, N, N, 3]);
  const scorer = (b: Tensor4D) => tf.sum(tf.mul(b, mask), [1, 2, 3]) as Tensor1D;
  const zeros = tf.zerosLike(image);
  const truth = Float32Array.from({ length: N * N }, (_, i) => (inSquare(i) ? 1 : 0));
  const res = await deletionInsertion(image, truth, scorer, { deletion: zeros, insertion: zeros }, { steps: 256 });
  // Deleting the square first: the score falls linearly to 0 over the first 25 pixels.
  const full = 230 * 75;
  t.is(res.score, full);
  t.true(Math.abs(res.deletion.auc - (full * (25 / 256)) / 2) < 1e-3 * full);
  tf.dispose([image, mask, zeros]);
});
