import test from 'ava';
import { tf, type Tensor, type Tensor4D } from '@convlab/core';
import { createConvNet } from '@convlab/models';
import { createMethod } from '../src/methods/index.js';
import { fixedValues, handNet } from './helpers/nets.js';

const H = 8;
const C_IN = 3;

function image(): Float32Array {
  return fixedValues(H * H * C_IN, 5).map((v) => v * 2);
}

/** Plain JS forward + backward of handNet with a given ReLU backward rule, from relu2 unit (c, y, x). */
function handProjection(W1: Float32Array, b1: Float32Array, W2: Float32Array, b2: Float32Array, x: Float32Array, target: [number, number, number], rule: 'deconvnet' | 'guided' | 'normal') {
  const at4 = (W: Float32Array, ci: number, co: number) => (dy: number, dx: number, i: number, o: number) => W[((dy * 3 + dx) * ci + i) * co + o];
  const w1 = at4(W1, 3, 4);
  const w2 = at4(W2, 4, 2);
  // conv1 (same padding 1) -> z1 [8, 8, 4]
  const z1 = new Float32Array(H * H * 4);
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < H; xx++)
      for (let o = 0; o < 4; o++) {
        let acc = b1[o];
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++) {
            const yy = y + dy - 1;
            const xq = xx + dx - 1;
            if (yy < 0 || yy >= H || xq < 0 || xq >= H) continue;
            for (let i = 0; i < 3; i++) acc += x[(yy * H + xq) * 3 + i] * w1(dy, dx, i, o);
          }
        z1[(y * H + xx) * 4 + o] = acc;
      }
  const r1 = z1.map((v) => Math.max(v, 0));
  // pool 2x2 with switches -> p [4, 4, 4]
  const p = new Float32Array(4 * 4 * 4);
  const sw = new Int32Array(4 * 4 * 4);
  for (let y = 0; y < 4; y++)
    for (let xx = 0; xx < 4; xx++)
      for (let o = 0; o < 4; o++) {
        let best = -Infinity;
        let where = -1;
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const idx = ((2 * y + dy) * H + 2 * xx + dx) * 4 + o;
            if (r1[idx] > best) {
              best = r1[idx];
              where = idx;
            }
          }
        p[(y * 4 + xx) * 4 + o] = best;
        sw[(y * 4 + xx) * 4 + o] = where;
      }
  // conv2 valid -> z2 [2, 2, 2]
  const z2 = new Float32Array(2 * 2 * 2);
  for (let y = 0; y < 2; y++)
    for (let xx = 0; xx < 2; xx++)
      for (let o = 0; o < 2; o++) {
        let acc = b2[o];
        for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) for (let i = 0; i < 4; i++) acc += p[((y + dy) * 4 + xx + dx) * 4 + i] * w2(dy, dx, i, o);
        z2[(y * 2 + xx) * 2 + o] = acc;
      }
  const relu = (signal: number, forwardInput: number) =>
    rule === 'deconvnet' ? Math.max(signal, 0) : rule === 'guided' ? (forwardInput > 0 ? Math.max(signal, 0) : 0) : forwardInput > 0 ? signal : 0;
  // Backward from one unit of relu2.
  const [c, ty, tx] = target;
  const g2 = new Float32Array(8);
  g2[(ty * 2 + tx) * 2 + c] = relu(1, z2[(ty * 2 + tx) * 2 + c]);
  // transposed conv2
  const gp = new Float32Array(4 * 4 * 4);
  for (let y = 0; y < 2; y++)
    for (let xx = 0; xx < 2; xx++)
      for (let o = 0; o < 2; o++) {
        const g = g2[(y * 2 + xx) * 2 + o];
        if (g === 0) continue;
        for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) for (let i = 0; i < 4; i++) gp[((y + dy) * 4 + xx + dx) * 4 + i] += g * w2(dy, dx, i, o);
      }
  // unpool with switches, then the ReLU rule
  const gr = new Float32Array(H * H * 4);
  for (let k = 0; k < gp.length; k++) gr[sw[k]] += gp[k];
  for (let k = 0; k < gr.length; k++) gr[k] = relu(gr[k], z1[k]);
  // transposed conv1 (same padding)
  const gx = new Float32Array(H * H * 3);
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < H; xx++)
      for (let o = 0; o < 4; o++) {
        const g = gr[(y * H + xx) * 4 + o];
        if (g === 0) continue;
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++) {
            const yy = y + dy - 1;
            const xq = xx + dx - 1;
            if (yy < 0 || yy >= H || xq < 0 || xq >= H) continue;
            for (let i = 0; i < 3; i++) gx[(yy * H + xq) * 3 + i] += g * w1(dy, dx, i, o);
          }
      }
  return { gx, z1, z2, switches: sw };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const RULES = [
  ['deconvnet', 'deconvnet'],
  ['guided', 'guided'],
  ['saliency', 'normal'],
] as const;

for (const [method, rule] of RULES) {
  test(`${method} on conv->relu->maxpool->conv->relu equals the hand computation for every unit`, async (t) => {
    const { net, W1, b1, W2, b2 } = handNet();
    const x = image();
    const img = tf.tensor3d(x, [H, H, 3]);
    const m = createMethod(method, net);
    let nonzero = 0;
    for (const c of [0, 1])
      for (const y of [0, 1])
        for (const xx of [0, 1]) {
          const map = await m.attribute(img, { layer: 'relu2', unit: c, position: [y, xx] });
          const hand = handProjection(W1, b1, W2, b2, x, [c, y, xx], rule);
          t.true(maxAbsDiff(map.pixels!, hand.gx) < 1e-5, `unit ${c} at (${y}, ${xx})`);
          if (hand.gx.some((v) => v !== 0)) nonzero += 1;
          t.deepEqual(map.target.position, [y, xx]);
        }
    // The comparison must not be vacuous.
    t.true(nonzero >= 2);
    img.dispose();
    net.dispose();
  });
}

test('the three ReLU rules give different maps on this network', async (t) => {
  const { net } = handNet();
  const img = tf.tensor3d(image(), [H, H, 3]);
  const target = { layer: 'relu2', unit: 0, position: [1, 1] as [number, number] };
  const [d, g, s] = await Promise.all(['deconvnet', 'guided', 'saliency'].map((n) => createMethod(n, net).attribute(img, target)));
  t.true(maxAbsDiff(d.pixels!, g.pixels!) > 1e-3);
  t.true(maxAbsDiff(d.pixels!, s.pixels!) > 1e-3);
  img.dispose();
  net.dispose();
});

test('saliency equals tf.grad of the same network written with plain tf ops', async (t) => {
  const { net, W1, b1, W2, b2 } = handNet();
  const x = image();
  const img = tf.tensor4d(x, [1, H, H, 3]);
  for (const [c, y, xx] of [
    [0, 0, 0],
    [1, 1, 0],
    [0, 1, 1],
  ]) {
    const f = (input: Tensor) =>
      tf.tidy(() => {
        const a = tf.relu(tf.add(tf.conv2d(input as Tensor4D, tf.tensor4d(W1, [3, 3, 3, 4]), 1, 'same'), tf.tensor1d(b1)));
        const p = tf.maxPool(a as Tensor4D, 2, 2, 'valid');
        const z = tf.relu(tf.add(tf.conv2d(p, tf.tensor4d(W2, [3, 3, 4, 2]), 1, 'valid'), tf.tensor1d(b2)));
        return tf.sum(tf.slice(z, [0, y, xx, c], [1, 1, 1, 1]));
      });
    const expected = tf.grad(f)(img);
    const map = await createMethod('saliency', net).attribute(img, { layer: 'relu2', unit: c, position: [y, xx] });
    t.true(maxAbsDiff(map.pixels!, expected.dataSync()) < 1e-5);
    expected.dispose();
  }
  img.dispose();
  net.dispose();
});

test('max-unpooling switches route the signal to the argmax of each pooling window', async (t) => {
  // 1x1 identity conv -> relu -> 2x2 max pool: the projection of a pool unit is non-zero only at
  // the pixel that won the max in its window.
  const input = tf.input({ shape: [6, 6, 3], name: 'input' });
  const c = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'conv', useBias: false }).apply(input);
  const r = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(c);
  const p = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool' }).apply(r);
  const model = tf.model({ inputs: input, outputs: p as ReturnType<typeof tf.input> });
  model.getLayer('conv').setWeights([tf.reshape(tf.eye(3), [1, 1, 3, 3])]);
  const net = createConvNet({
    name: 'pool-test',
    family: 'custom',
    model,
    inputSize: [6, 6],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'identity', quantized: false },
  });
  const x = fixedValues(6 * 6 * 3, 77).map((v) => v + 1.2); // mostly positive, all distinct
  const img = tf.tensor3d(x, [6, 6, 3]);
  const m = createMethod('deconvnet', net);
  for (let ch = 0; ch < 3; ch++) {
    for (let py = 0; py < 3; py++) {
      for (let px = 0; px < 3; px++) {
        const map = await m.attribute(img, { layer: 'pool', unit: ch, position: [py, px] });
        let best = -Infinity;
        let arg = -1;
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const idx = ((2 * py + dy) * 6 + 2 * px + dx) * 3 + ch;
            if (Math.max(x[idx], 0) > best) {
              best = Math.max(x[idx], 0);
              arg = idx;
            }
          }
        const nonzero = [...map.pixels!.keys()].filter((i) => map.pixels![i] !== 0);
        t.deepEqual(nonzero, [arg], `channel ${ch} window (${py}, ${px})`);
        t.is(map.pixels![arg], 1);
      }
    }
  }
  // Default position: the argmax of the channel over the whole map.
  const auto = await m.attribute(img, { layer: 'pool', unit: 1 });
  const pooled = tf.tidy(() => tf.maxPool(tf.relu(tf.reshape(img, [1, 6, 6, 3])) as Tensor4D, 2, 2, 'valid').arraySync()[0]);
  let best = -Infinity;
  let pos: [number, number] = [0, 0];
  for (let y = 0; y < 3; y++) for (let xx = 0; xx < 3; xx++) if (pooled[y][xx][1] > best) [best, pos] = [pooled[y][xx][1], [y, xx]];
  t.deepEqual(auto.target.position, pos);
  t.true(Math.abs(auto.target.value - best) < 1e-6);
  img.dispose();
  net.dispose();
});

test('guided backprop is zero wherever the forward ReLU input was negative; deconvnet is not', async (t) => {
  // 1x1 conv: identity with bias -0.5, so relu1's input is (pixel - 0.5) per channel; then a 3x3 conv.
  const input = tf.input({ shape: [6, 6, 3], name: 'input' });
  const c1 = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'conv1' }).apply(input);
  const r1 = tf.layers.activation({ activation: 'relu', name: 'relu1' }).apply(c1);
  const c2 = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'conv2', activation: 'relu' }).apply(r1);
  const model = tf.model({ inputs: input, outputs: c2 as ReturnType<typeof tf.input> });
  model.getLayer('conv1').setWeights([tf.reshape(tf.eye(3), [1, 1, 3, 3]), tf.fill([3], -0.5)]);
  model.getLayer('conv2').setWeights([tf.tensor4d(fixedValues(3 * 3 * 3 * 2, 9), [3, 3, 3, 2]), tf.zeros([2])]);
  const net = createConvNet({
    name: 'guided-test',
    family: 'custom',
    model,
    inputSize: [6, 6],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'fixed', quantized: false },
  });
  const x = fixedValues(6 * 6 * 3, 3).map((v) => (v + 1) / 2); // in [0, 1): about half below 0.5
  const img = tf.tensor3d(x, [6, 6, 3]);
  const target = { layer: 'conv2', unit: 0 }; // argmax position: a positive activation
  const guided = await createMethod('guided', net).attribute(img, target);
  const deconv = await createMethod('deconvnet', net).attribute(img, target);
  let negatives = 0;
  let deconvNonzeroThere = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] - 0.5 < 0) {
      negatives += 1;
      t.is(guided.pixels![i], 0);
      if (deconv.pixels![i] !== 0) deconvNonzeroThere += 1;
    }
  }
  t.true(negatives > 20);
  t.true(deconvNonzeroThere > 0);
  t.true(guided.pixels!.some((v) => v !== 0));
  img.dispose();
  net.dispose();
});
