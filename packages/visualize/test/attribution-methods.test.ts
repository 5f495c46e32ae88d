/**
 * Integrated gradients, input x gradient, VarGrad, Grad-CAM++, Score-CAM, LayerCAM and the captum-style
 * occlusion against plain-arithmetic computations on a tiny network (every value below is computed in
 * JavaScript from the weights, with no tf op), plus the rough edges: ReLU6 units ranked on their
 * pre-activation, saturated and same-layer maps that say so.
 */
import test from 'ava';
import { initEngine, opSeed, tf, type Tensor4D } from '@convlab/core';
import { createConvNet, type ConvNet } from '@convlab/models';
import { createMethod } from '../src/methods/index.js';
import { imageGradient } from '../src/attribution.js';
import { resolveTarget } from '../src/target.js';
import { DEFAULT_IG_MAX_STEPS, DEFAULT_IG_STEPS, IntegratedGradients, pathPoints } from '../src/methods/integrated-gradients.js';
import { zeroPixel } from '../src/methods/scores.js';
import { windowStarts } from '../src/methods/occlusion-windows.js';
import { sharedScales } from '../src/render.js';
import { fixedValues, tinyVgg } from './helpers/nets.js';

test.before(async () => {
  await initEngine({ backend: 'cpu', log: false });
});

const S = 4; // input side
const P = 2; // pooled side

interface Weights {
  W1: Float32Array; // [3, 3] (c_in, k)
  b1: Float32Array; // [3]
  W2: Float32Array; // [3, 2] (k, j)
  b2: Float32Array; // [2]
  Wd: Float32Array; // [2, 2] (j, class)
  bd: Float32Array; // [2]
}

/** input 4x4x3 -> conv1 1x1 (3) -> relu1 -> pool1 2x2 max -> conv2 1x1 (2) -> relu2 -> global mean -> logits (2). */
function camNet(): { net: ConvNet; w: Weights } {
  const input = tf.input({ shape: [S, S, 3], name: 'input' });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'conv1' }).apply(input);
  x = tf.layers.activation({ activation: 'relu', name: 'relu1' }).apply(x);
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }).apply(x);
  x = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'conv2' }).apply(x);
  x = tf.layers.activation({ activation: 'relu', name: 'relu2' }).apply(x);
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x);
  x = tf.layers.dense({ units: 2, name: 'logits' }).apply(x);
  const model = tf.model({ inputs: input, outputs: x as ReturnType<typeof tf.input>, name: 'cam' });
  const w: Weights = {
    W1: Float32Array.from([0.8, -0.5, 0.3, -0.4, 0.9, 0.2, 0.3, -0.2, -0.6]),
    b1: Float32Array.from([0.2, -0.1, 0.3]),
    W2: Float32Array.from([0.7, -0.4, -0.3, 0.8, 0.5, 0.6]),
    b2: Float32Array.from([0.1, -0.2]),
    Wd: Float32Array.from([1.2, -0.7, 0.4, 0.9]),
    bd: Float32Array.from([0.05, -0.02]),
  };
  model.getLayer('conv1').setWeights([tf.tensor4d(w.W1, [1, 1, 3, 3]), tf.tensor1d(w.b1)]);
  model.getLayer('conv2').setWeights([tf.tensor4d(w.W2, [1, 1, 3, 2]), tf.tensor1d(w.b2)]);
  model.getLayer('logits').setWeights([tf.tensor2d(w.Wd, [2, 2]), tf.tensor1d(w.bd)]);
  const net = createConvNet({
    name: 'cam',
    family: 'custom',
    model,
    inputSize: [S, S],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'fixed test weights', quantized: false },
    classNames: ['a', 'b'],
    headLayer: 'logits',
  });
  return { net, w };
}

/** Plain-JS forward pass: pre-activations, pooled map A (with argmax switches), relu2 and the logits. */
function forward(w: Weights, x: ArrayLike<number>) {
  const pre1 = new Float64Array(S * S * 3);
  for (let p = 0; p < S * S; p++)
    for (let k = 0; k < 3; k++) {
      let acc = w.b1[k];
      for (let c = 0; c < 3; c++) acc += x[p * 3 + c] * w.W1[c * 3 + k];
      pre1[p * 3 + k] = acc;
    }
  const A = new Float64Array(P * P * 3);
  const sw = new Int32Array(P * P * 3);
  for (let qy = 0; qy < P; qy++)
    for (let qx = 0; qx < P; qx++)
      for (let k = 0; k < 3; k++) {
        let best = -Infinity;
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const p = (2 * qy + dy) * S + 2 * qx + dx;
            const v = Math.max(0, pre1[p * 3 + k]);
            if (v > best) {
              best = v;
              sw[(qy * P + qx) * 3 + k] = p;
            }
          }
        A[(qy * P + qx) * 3 + k] = best;
      }
  const pre2 = new Float64Array(P * P * 2);
  const mean = [0, 0];
  for (let q = 0; q < P * P; q++)
    for (let j = 0; j < 2; j++) {
      let acc = w.b2[j];
      for (let k = 0; k < 3; k++) acc += A[q * 3 + k] * w.W2[k * 2 + j];
      pre2[q * 2 + j] = acc;
      mean[j] += Math.max(0, acc) / (P * P);
    }
  const logits = [0, 1].map((c) => w.bd[c] + mean[0] * w.Wd[0 * 2 + c] + mean[1] * w.Wd[1 * 2 + c]);
  return { pre1, A, sw, pre2, logits };
}

/** dS_c/dA [P*P*3] and dS_c/dx [S*S*3] by the chain rule, written out. */
function gradients(w: Weights, x: ArrayLike<number>, c: number) {
  const f = forward(w, x);
  const gA = new Float64Array(P * P * 3);
  for (let q = 0; q < P * P; q++)
    for (let k = 0; k < 3; k++) {
      let acc = 0;
      for (let j = 0; j < 2; j++) if (f.pre2[q * 2 + j] > 0) acc += (w.Wd[j * 2 + c] / (P * P)) * w.W2[k * 2 + j];
      gA[q * 3 + k] = acc;
    }
  const gx = new Float64Array(S * S * 3);
  for (let q = 0; q < P * P; q++)
    for (let k = 0; k < 3; k++) {
      const p = f.sw[q * 3 + k];
      if (!(f.pre1[p * 3 + k] > 0)) continue; // relu gate (and a window of zeros routes nothing)
      for (let ci = 0; ci < 3; ci++) gx[p * 3 + ci] += gA[q * 3 + k] * w.W1[ci * 3 + k];
    }
  return { ...f, gA, gx };
}

function image(seed = 5): Float32Array {
  return fixedValues(S * S * 3, seed * 7919 + 12345).map((v) => (v + 1) * 1.5);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

test('the hand forward pass agrees with the network (so the hand computations below test the methods)', (t) => {
  const { net, w } = camNet();
  const x = image();
  const logits = tf.tidy(() => Array.from((net.model.predict(tf.tensor4d(x, [1, S, S, 3])) as ReturnType<typeof tf.tensor>).dataSync()));
  t.true(maxAbsDiff(logits, forward(w, x).logits) < 1e-5);
  // Not vacuous: some units are off, some pooled windows win at different pixels.
  const f = forward(w, x);
  t.true(Array.from(f.pre1).some((v) => v < 0) && Array.from(f.pre1).some((v) => v > 0));
  net.dispose();
});

test('Grad-CAM++ equals the closed form alpha = g^2 / (2 g^2 + sum_ab A_ab g^3), w_k = sum alpha relu(g)', async (t) => {
  const { net, w } = camNet();
  const x = image();
  for (const c of [0, 1]) {
    const map = await createMethod('gradcam-pp', net, { gradcam: { layer: 'pool1' } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
    const { A, gA } = gradients(w, x, c);
    const cam = new Float64Array(P * P);
    for (let k = 0; k < 3; k++) {
      let sumA = 0;
      for (let q = 0; q < P * P; q++) sumA += A[q * 3 + k];
      let wk = 0;
      for (let q = 0; q < P * P; q++) {
        const g = gA[q * 3 + k];
        const denom = 2 * g * g + sumA * g * g * g;
        const alpha = g !== 0 && denom !== 0 ? (g * g) / denom : 0;
        wk += alpha * Math.max(g, 0);
      }
      for (let q = 0; q < P * P; q++) cam[q] += wk * A[q * 3 + k];
    }
    const expected = cam.map((v) => Math.max(0, v));
    t.is(map.coarse!.layer, 'pool1');
    t.true(maxAbsDiff(map.coarse!.data, expected) < 1e-5, `class ${c}: ${Array.from(map.coarse!.data)} vs ${Array.from(expected)}`);
    t.true(expected.some((v) => v > 0), 'non-trivial');
    // It differs from Grad-CAM's channel means on this net.
    const gc = await createMethod('gradcam', net, { gradcam: { layer: 'pool1' } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
    t.is(gc.coarse!.data.length, 4);
  }
  net.dispose();
});

test('LayerCAM equals relu(sum_k relu(g_ij^k) A_ij^k) by hand', async (t) => {
  const { net, w } = camNet();
  const x = image(9);
  const map = await createMethod('layercam', net, { gradcam: { layer: 'pool1' } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: 1 });
  const { A, gA } = gradients(w, x, 1);
  const expected = Array.from({ length: P * P }, (_, q) => Math.max(0, [0, 1, 2].reduce((s, k) => s + Math.max(0, gA[q * 3 + k]) * A[q * 3 + k], 0)));
  t.true(maxAbsDiff(map.coarse!.data, expected) < 1e-5);
  t.true(expected.some((v) => v > 0));
  net.dispose();
});

/** tf.image.resizeBilinear(alignCorners false, halfPixelCenters true) of a P x P map to S x S, written out. */
function upsample(m: ArrayLike<number>): Float64Array {
  const out = new Float64Array(S * S);
  const scale = P / S;
  const axis = (i: number) => {
    const f = (i + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.floor(f));
    return { lo, hi: Math.min(P - 1, Math.ceil(f)), frac: f - lo };
  };
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const r = axis(y);
      const c = axis(x);
      const top = m[r.lo * P + c.lo] + (m[r.lo * P + c.hi] - m[r.lo * P + c.lo]) * c.frac;
      const bottom = m[r.hi * P + c.lo] + (m[r.hi * P + c.hi] - m[r.hi * P + c.lo]) * c.frac;
      out[y * S + x] = top + (bottom - top) * r.frac;
    }
  return out;
}

test('LayerCAM fusion of several layers: tanh(2 M / max M) per layer, bilinear to the largest map, element-wise max (by hand)', async (t) => {
  const { net, w } = camNet();
  const x = image(9);
  const c = 1;
  const { pre1, A, sw, pre2, gA } = gradients(w, x, c);
  // relu1 (S x S): the pooled gradient routed back to each window's argmax (max-pool's gradient).
  const m1 = new Float64Array(S * S);
  for (let q = 0; q < P * P; q++)
    for (let k = 0; k < 3; k++) {
      const p = sw[q * 3 + k];
      m1[p] += Math.max(0, gA[q * 3 + k]) * Math.max(0, pre1[p * 3 + k]);
    }
  // pool1 (P x P) and relu2 (P x P): dS/d relu2_j = Wd[j, c] / (P P) everywhere.
  const m2 = Array.from({ length: P * P }, (_, q) => Math.max(0, [0, 1, 2].reduce((s, k) => s + Math.max(0, gA[q * 3 + k]) * A[q * 3 + k], 0)));
  const m3 = Array.from({ length: P * P }, (_, q) => Math.max(0, [0, 1].reduce((s, j) => s + Math.max(0, w.Wd[j * 2 + c] / (P * P)) * Math.max(0, pre2[q * 2 + j]), 0)));
  for (const m of [m1, m2, m3]) t.true(Math.max(...m) > 0, 'every layer contributes');
  const scale = (m: ArrayLike<number>) => {
    const max = Math.max(...Array.from(m));
    return Array.from(m, (v) => Math.tanh((2 * v) / max));
  };
  const s1 = scale(m1);
  const s2 = upsample(scale(m2));
  const s3 = upsample(scale(m3));
  const expected = s1.map((v, i) => Math.max(v, s2[i], s3[i]));
  const map = await createMethod('layercam', net, { layercam: { layers: ['relu1', 'pool1', 'relu2'] } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.deepEqual(map.params.layers, ['relu1', 'pool1', 'relu2']);
  t.is(map.coarse!.height, S);
  t.true(maxAbsDiff(map.coarse!.data, expected) < 1e-5, `fused ${Array.from(map.coarse!.data).map((v) => v.toFixed(4))} vs ${expected.map((v) => v.toFixed(4))}`);
  // The coarse map is already at the image size, so the heat map is the same.
  t.true(maxAbsDiff(map.heat, expected) < 1e-5);
  // Each layer wins somewhere (otherwise the test would not tell max from one map alone).
  const winners = new Set(expected.map((v, i) => (v === s1[i] ? 1 : v === s2[i] ? 2 : 3)));
  t.true(winners.size >= 2, `winning layers ${[...winners]}`);
  // gamma: a larger gamma saturates more (tanh(g) at each layer's maximum).
  const sharp = await createMethod('layercam', net, { layercam: { layers: ['relu1', 'pool1'], gamma: 8 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.true(Math.abs(Math.max(...sharp.coarse!.data) - Math.tanh(8)) < 1e-6);
  // One layer in the list is the plain map of that layer (no scaling).
  const one = await createMethod('layercam', net, { layercam: { layers: ['pool1'] } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.true(maxAbsDiff(one.coarse!.data, m2) < 1e-5);
  net.dispose();
});

test('Score-CAM equals the hand computation: upsampled, normalized masks; softmax of masked logits, or the confidence gain', async (t) => {
  const { net, w } = camNet();
  const x = image(13);
  const c = 0;
  const { A } = forward(w, x);
  const scores: number[] = [];
  const probs: number[] = [];
  const used: number[] = [];
  const softmax = (l: number[]) => {
    const m = Math.max(...l);
    const e = l.map((v) => Math.exp(v - m));
    return e.map((v) => v / sum(e));
  };
  for (let k = 0; k < 3; k++) {
    const up = upsample(Array.from({ length: P * P }, (_, q) => A[q * 3 + k]));
    const lo = Math.min(...up);
    const hi = Math.max(...up);
    if (hi === lo) continue;
    used.push(k);
    // preprocessing 'none': the zero pixel is 0, so X o H = x * H.
    const masked = new Float64Array(S * S * 3).map((_, i) => x[i] * ((up[Math.floor(i / 3)] - lo) / (hi - lo)));
    const logits = forward(w, masked).logits;
    scores.push(logits[c]);
    probs.push(softmax(logits)[c]);
  }
  t.true(used.length >= 2, 'at least two channels give masks');
  const pBase = softmax(forward(w, new Float64Array(S * S * 3)).logits)[c];
  const camOf = (alpha: number[]) =>
    Array.from({ length: P * P }, (_, q) =>
      Math.max(
        0,
        used.reduce((s, k, i) => s + alpha[i] * A[q * 3 + k], 0),
      ),
    );
  const expectedSoftmax = camOf(softmax(scores));
  const expectedDiff = camOf(probs.map((p) => p - pBase));
  const soft = await createMethod('scorecam', net, { scorecam: { layer: 'pool1', batchSize: 2 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  const diff = await createMethod('scorecam', net, { scorecam: { layer: 'pool1', mode: 'difference' } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.true(maxAbsDiff(soft.coarse!.data, expectedSoftmax) < 1e-5, `${Array.from(soft.coarse!.data)} vs ${expectedSoftmax}`);
  t.true(maxAbsDiff(diff.coarse!.data, expectedDiff) < 1e-5, `${Array.from(diff.coarse!.data)} vs ${expectedDiff}`);
  t.true(expectedSoftmax.some((v) => v > 0) && maxAbsDiff(expectedSoftmax, expectedDiff) > 1e-4, 'the two modes differ here');
  t.is(soft.params.maskedChannels, used.length);
  // Faster Score-CAM (maxChannels): only the channels whose maps A_k have the largest spatial std, softmax over those.
  const std = used.map((k) => {
    const v = Array.from({ length: P * P }, (_, q) => A[q * 3 + k]);
    const mean = sum(v) / v.length;
    return Math.sqrt(sum(v.map((a) => (a - mean) ** 2)) / v.length);
  });
  const keep = used.map((_, i) => i).sort((a, b) => std[b] - std[a]).slice(0, used.length - 1);
  const keptAlpha = softmax(keep.map((i) => scores[i]));
  const expectedFast = Array.from({ length: P * P }, (_, q) => Math.max(0, keep.reduce((s, i, j) => s + keptAlpha[j] * A[q * 3 + used[i]], 0)));
  const fast = await createMethod('scorecam', net, { scorecam: { layer: 'pool1', maxChannels: used.length - 1 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.is(fast.params.maskedChannels, used.length - 1);
  t.true(maxAbsDiff(fast.coarse!.data, expectedFast) < 1e-5, `${Array.from(fast.coarse!.data)} vs ${expectedFast}`);
  t.true(maxAbsDiff(expectedFast, expectedSoftmax) > 1e-4, 'dropping a channel changes the map here');
  net.dispose();
});

test('integrated gradients: equals the quadrature of hand gradients, and completeness holds within 1% (256 steps; 2048 for noise)', async (t) => {
  const { net, w } = camNet();
  const x = image(21);
  const c = 1;
  // Hand IG with the right Riemann sum (the paper's) and a black baseline.
  const m = 8;
  const { alphas, weights } = pathPoints(m, 'riemann-right');
  t.deepEqual(alphas, [1, 2, 3, 4, 5, 6, 7, 8].map((k) => k / 8));
  const hand = new Float64Array(S * S * 3);
  alphas.forEach((a, i) => {
    const g = gradients(w, Array.from(x, (v) => a * v), c).gx;
    for (let j = 0; j < hand.length; j++) hand[j] += weights[i] * g[j] * x[j];
  });
  const ig = await createMethod('ig', net, { integratedGradients: { steps: m, rule: 'riemann-right', baseline: 'black' } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.true(maxAbsDiff(ig.pixels!, hand) < 1e-5);
  t.true(hand.some((v) => v !== 0));

  // Completeness: sum IG = F(x) - F(x'), within 1% of the difference at 256 trapezoid steps for every
  // baseline (2048 for the noise baseline: its path from pixels ~40 off the image crosses many ReLU kinks).
  const fx = forward(w, x).logits[c];
  for (const baseline of ['black', 'uniform', 'blur', 'noise'] as const) {
    const fine = await createMethod('integrated-gradients', net, { integratedGradients: { steps: baseline === 'noise' ? 2048 : 256, baseline, batchSize: 64 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
    const comp = fine.params.completeness as { sum: number; delta: number; scoreInput: number; relativeError: number };
    t.true(Math.abs(comp.scoreInput - fx) < 1e-5);
    t.true(Math.abs(sum(fine.pixels!) - comp.sum) < 1e-3);
    t.true(comp.relativeError < 0.01, `${baseline}: sum ${comp.sum} vs delta ${comp.delta}`);
    t.falsy(fine.warnings, baseline);
  }
  // The black baseline's score is hand-checkable too.
  const black = await createMethod('integrated-gradients', net, { integratedGradients: { steps: 256 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  const comp = black.params.completeness as { delta: number };
  t.true(Math.abs(comp.delta - (fx - forward(w, new Float64Array(S * S * 3)).logits[c])) < 1e-5);
  // Too few steps on a kinked path: the map says so.
  const coarse = await createMethod('integrated-gradients', net, { integratedGradients: { steps: 1, rule: 'riemann-left', tolerance: 1e-6 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
  t.regex((coarse.warnings ?? []).join(' '), /use more steps/);
  net.dispose();
});

test('integrated gradients: adaptive doubling reuses every gradient, equals the fixed count it stops at, and stops at the tolerance', async (t) => {
  const { net } = camNet();
  const input = () => tf.tensor3d(image(21), [S, S, 3]);
  const c = 1;
  type Params = { steps: number; gradients: number; rounds: { steps: number; relativeError: number }[]; completeness: { relativeError: number } };
  for (const rule of ['trapezoid', 'riemann-left', 'gauss-legendre'] as const) {
    // A tolerance no rule meets: doubling runs 2 -> 4 -> 8 -> 16 and stops below maxSteps.
    const adaptive = await createMethod('ig', net, { integratedGradients: { steps: 2, maxSteps: 16, rule, tolerance: 1e-9 } }).attribute(input(), { classIndex: c });
    const p = adaptive.params as unknown as Params;
    t.deepEqual(p.rounds.map((r) => r.steps), [2, 4, 8, 16], rule);
    t.is(p.steps, 16);
    const fixed = await createMethod('ig', net, { integratedGradients: { steps: 16, rule } }).attribute(input(), { classIndex: c });
    t.true(maxAbsDiff(adaptive.pixels!, fixed.pixels!) < 1e-5, `${rule}: the doubled map is the 16-step map`);
    t.is((fixed.params as unknown as Params).rounds.length, 1, 'steps without maxSteps is a fixed count');
    // Nested rules take each gradient once (trapezoid: 17 points for 16 intervals); the others recompute each round.
    t.is(p.gradients, rule === 'trapezoid' ? 17 : rule === 'riemann-left' ? 16 : 2 + 4 + 8 + 16, rule);
    t.true(Math.abs(p.rounds.at(-1)!.relativeError - p.completeness.relativeError) < 1e-6);
  }
  // A reachable tolerance: it stops at the first round within it.
  const loose = await createMethod('ig', net, { integratedGradients: { steps: 2, maxSteps: 1024, tolerance: 0.05 } }).attribute(input(), { classIndex: c });
  const lp = loose.params as unknown as Params;
  t.true(lp.completeness.relativeError <= 0.05);
  t.true(lp.rounds.slice(0, -1).every((r) => r.relativeError > 0.05));
  t.falsy(loose.warnings);
  // The defaults: adaptive from DEFAULT_IG_STEPS up to DEFAULT_IG_MAX_STEPS.
  const dflt = new IntegratedGradients(net);
  t.is(dflt.options.steps, DEFAULT_IG_STEPS);
  t.is(dflt.options.maxSteps, DEFAULT_IG_MAX_STEPS);
  // Gauss-Legendre: nodes and weights of the 3-point rule on [0, 1], exact for a degree-5 polynomial.
  const gl = pathPoints(3, 'gauss-legendre');
  t.true(maxAbsDiff(gl.alphas, [0.5 - Math.sqrt(0.15), 0.5, 0.5 + Math.sqrt(0.15)]) < 1e-14);
  t.true(maxAbsDiff(gl.weights, [5 / 18, 8 / 18, 5 / 18]) < 1e-14);
  const g20 = pathPoints(20, 'gauss-legendre');
  t.true(Math.abs(g20.alphas.reduce((s2, a, k) => s2 + g20.weights[k] * a ** 39, 0) - 1 / 40) < 1e-14);
  net.dispose();
});

test('input x gradient is (x - zero pixel) * dF/dx; the zero pixel is the model input zero (the mean pixel for caffe)', async (t) => {
  const { net, w } = camNet();
  const x = image(33);
  const map = await createMethod('input-x-gradient', net).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: 0 });
  const g = gradients(w, x, 0).gx;
  t.true(maxAbsDiff(map.pixels!, Array.from(g, (v, i) => v * x[i])) < 1e-5);
  net.dispose();
  const vgg = tinyVgg(32);
  t.true(maxAbsDiff(zeroPixel(vgg), [123.68, 116.779, 103.939]) < 1e-3);
  vgg.dispose();
});

test('VarGrad equals the variance of the per-sample gradients on the same noisy copies (Chan merges across uneven batches)', async (t) => {
  const { net } = camNet();
  const x = image(41);
  const img = tf.tensor4d(x, [1, S, S, 3]);
  const samples = 7;
  const batchSize = 3;
  const sigma = 0.2;
  const map = await createMethod('vargrad', net, { smoothgrad: { samples, batchSize, sigma, seed: 4 } }).attribute(img, { classIndex: 0 });
  const std = sigma * (Math.max(...x) - Math.min(...x));
  const target = resolveTarget(net, img, { classIndex: 0 });
  const grads: Float32Array[] = [];
  for (let start = 0, k = 0; start < samples; start += batchSize, k++) {
    const n = Math.min(batchSize, samples - start);
    const g = tf.tidy(() => imageGradient(net, tf.add(tf.tile(img, [n, 1, 1, 1]), tf.randomNormal([n, S, S, 3], 0, std, 'float32', opSeed(4, k))) as Tensor4D, target, 'normal').dataSync() as Float32Array);
    for (let i = 0; i < n; i++) grads.push(g.slice(i * S * S * 3, (i + 1) * S * S * 3));
  }
  const expected = new Float64Array(S * S * 3).map((_, j) => {
    const mean = grads.reduce((s, g) => s + g[j], 0) / samples;
    return grads.reduce((s, g) => s + (g[j] - mean) ** 2, 0) / samples;
  });
  t.true(maxAbsDiff(map.pixels!, expected) < 1e-5);
  t.true(expected.some((v) => v > 1e-4), 'the noise changes the gradient here');
  img.dispose();
  net.dispose();
});

test('captum-style occlusion: score drop to the baseline averaged over the windows covering each pixel, whole or per channel', async (t) => {
  const { net, w } = camNet();
  const x = image(55);
  const c = 1;
  const full = forward(w, x).logits[c];
  t.deepEqual(windowStarts(4, 2, 1), [0, 1, 2]);
  t.deepEqual(windowStarts(5, 2, 2), [0, 2, 3]);
  for (const perChannel of [false, true]) {
    const total = new Float64Array(S * S * 3);
    const count = new Float64Array(S * S * 3);
    for (const ch of perChannel ? [0, 1, 2] : [-1])
      for (const y0 of [0, 1, 2])
        for (const x0 of [0, 1, 2]) {
          const inside = (i: number) => {
            const p = Math.floor(i / 3);
            const py = Math.floor(p / S);
            const px = p % S;
            return py >= y0 && py < y0 + 2 && px >= x0 && px < x0 + 2 && (ch < 0 || i % 3 === ch);
          };
          const occ = Array.from(x, (v, i) => (inside(i) ? 0.5 : v)); // baseline colour 0.5
          const drop = full - forward(w, occ).logits[c];
          for (let i = 0; i < total.length; i++) {
            if (!inside(i)) continue;
            total[i] += drop;
            count[i] += 1;
          }
        }
    const expected = Array.from(total, (v, i) => v / count[i]);
    const map = await createMethod('occlusion', net, { occlusion: { window: 2, stride: 1, baseline: [0.5, 0.5, 0.5], perChannel, batchSize: 4 } }).attribute(tf.tensor3d(x, [S, S, 3]), { classIndex: c });
    t.true(maxAbsDiff(map.pixels!, expected) < 1e-5, `perChannel ${perChannel}`);
    t.is(map.params.positions, perChannel ? 27 : 9);
    t.true(expected.some((v) => Math.abs(v) > 1e-3));
  }
  net.dispose();
});

test('every new method runs on a VGG-style model for a unit and a class target', async (t) => {
  const net = tinyVgg(32);
  const img = tf.tensor3d(Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 251), [32, 32, 3]);
  for (const target of [{ layer: 'block2_conv1', unit: 3 }, { classIndex: 1 }]) {
    for (const name of ['integrated-gradients', 'input-x-gradient', 'vargrad', 'gradcam-pp', 'scorecam', 'layercam', 'occlusion']) {
      const map = await createMethod(name, net, { smoothgrad: { samples: 4 }, integratedGradients: { steps: 8 }, occlusion: { window: 8, stride: 8 } }).attribute(img, target);
      t.is(map.heat.length, 32 * 32, name);
      t.true(map.heat.every(Number.isFinite) && map.heat.some((v) => v > 0), `${name} on ${JSON.stringify(target)}`);
    }
  }
  img.dispose();
  net.dispose();
});

test('a CAM of a unit at its own layer says it is only the activation map; an earlier layer does not', async (t) => {
  const net = tinyVgg(32);
  const img = tf.tensor3d(Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 251), [32, 32, 3]);
  for (const name of ['gradcam', 'gradcam-pp', 'layercam']) {
    const own = await createMethod(name, net).attribute(img, { layer: 'block2_conv2', unit: 1 });
    t.regex((own.warnings ?? []).join(' '), /own layer \(block2_conv2\) is just the unit's activation map/, name);
    const earlier = await createMethod(name, net, { gradcam: { layer: 'block2_conv1' } }).attribute(img, { layer: 'block2_conv2', unit: 1 });
    t.falsy(earlier.warnings, name);
  }
  img.dispose();
  net.dispose();
});

test('--unit strongest on a ReLU6 layer ranks on the pre-activation and a saturated unit warns instead of drawing a flat map', async (t) => {
  const input = tf.input({ shape: [4, 4, 3], name: 'input' });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'conv' }).apply(input);
  const r6 = tf.layers.reLU({ maxValue: 6, name: 'relu6' }).apply(conv);
  const model = tf.model({ inputs: input, outputs: r6 as ReturnType<typeof tf.input> });
  // Unit 0: pre-activation 7 + small everywhere (capped); unit 1: below the cap; unit 2: up to 7 + 10 * x.
  model.getLayer('conv').setWeights([tf.tensor4d([0.01, 0.1, 10, 0, 0.1, 0, 0, 0.1, 0], [1, 1, 3, 3]), tf.tensor1d([7, 1, 7])]);
  const net = createConvNet({ name: 'r6', family: 'custom', model, inputSize: [4, 4], preprocessing: { kind: 'none' }, weights: { source: 'test', description: 'test', quantized: false } });
  const x = new Float32Array(48).fill(0.05);
  x[(2 * 4 + 1) * 3] = 0.9; // the strongest pre-activation of unit 2 at (2, 1)
  const img = tf.tensor3d(x, [4, 4, 3]);
  const target = resolveTarget(net, tf.expandDims(img, 0) as Tensor4D, { layer: 'relu6', unit: 'strongest' });
  t.is(target.index, 2, 'the ReLU6 outputs of units 0 and 2 tie at 6; the pre-activation ranks unit 2 first');
  t.deepEqual(target.position, [2, 1]);
  t.true(target.saturated);
  t.is(target.preActivationLayer, 'conv');
  const saliency = await createMethod('saliency', net).attribute(img, { layer: 'relu6', unit: 'strongest' });
  t.true(saliency.heat.every((v) => v === 0));
  t.regex((saliency.warnings ?? []).join(' '), /saturated .*--layer conv/);
  // The deconvnet rule does not stop at the cap: a real map, no warning.
  const deconv = await createMethod('deconvnet', net).attribute(img, { layer: 'relu6', unit: 'strongest' });
  t.true(deconv.heat.some((v) => v > 0));
  t.falsy(deconv.warnings);
  img.dispose();
  net.dispose();
});

test('shared scales: one per method, the largest of the maps, so a weaker map is drawn fainter', async (t) => {
  const { net } = camNet();
  const a = await createMethod('gradcam', net, { gradcam: { layer: 'pool1' } }).attribute(tf.tensor3d(image(1), [S, S, 3]), { classIndex: 0 });
  const b = await createMethod('gradcam', net, { gradcam: { layer: 'pool1' } }).attribute(tf.tensor3d(image(2).map((v) => v * 3), [S, S, 3]), { classIndex: 0 });
  const scales = sharedScales([a, b]);
  t.is(scales.get('gradcam'), Math.max(...a.heat, ...b.heat));
  net.dispose();
});
