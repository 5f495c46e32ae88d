/**
 * Gradients: the executor's conv input gradients (forward-conv trick) against tfjs's own autodiff on the
 * cpu backend, the same model gradient on wasm and cpu, and the deconvnet/guided ReLU backward rules.
 * Serial: some tests switch the tfjs backend.
 */
import test from 'ava';
import { initEngine, tf } from '@convlab/core';
import { conv2d, depthwiseConv2d, loadModel, reluLike, createConvNet, type ConvGradientMode } from '../src/index.js';
import { relDiff, grad4 } from './helpers.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;

test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
});

/** The same kernel with (d - 1) zeros between taps: a dilated conv as an ordinary one. */
function dilateKernel(w: Tensor4D, d: number): Tensor4D {
  if (d === 1) return w;
  const [kh, kw, a, b] = w.shape;
  const r = tf.reshape(w, [kh, 1, kw, 1, a, b]);
  const p = tf.pad(r, [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(p, [kh * d, kw * d, a, b]), [0, 0, 0, 0], [(kh - 1) * d + 1, (kw - 1) * d + 1, a, b]) as Tensor4D;
}

test.serial('forward-conv input gradients equal tfjs autodiff (conv, depthwise, strides, padding, dilation)', async (t) => {
  await tf.setBackend('cpu');
  try {
    const cases: [number, number, number, 'same' | 'valid', number][] = [
      [7, 3, 1, 'same', 1], [8, 3, 2, 'same', 1], [7, 3, 2, 'same', 1], [9, 3, 2, 'valid', 1], [8, 1, 1, 'valid', 1],
      [10, 5, 2, 'same', 1], [9, 3, 1, 'same', 2], [11, 3, 1, 'valid', 2], [6, 2, 2, 'same', 1], [7, 4, 3, 'valid', 1],
    ];
    for (const [h, k, s, pad, d] of cases) {
      tf.tidy(() => {
        const x = tf.randomNormal([2, h, h + 1, 3], 0, 1, 'float32', 1) as Tensor4D;
        for (const [op, w] of [
          [conv2d, tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2)],
          [depthwiseConv2d, tf.randomNormal([k, k, 3, 1], 0, 1, 'float32', 3)],
          [depthwiseConv2d, tf.randomNormal([k, k, 3, 2], 0, 1, 'float32', 4)],
        ] as const) {
          const loss = (kernel: Tensor4D, dil: number, mode: ConvGradientMode) => (input: Tensor) => {
            const y = op(input as Tensor4D, kernel, [s, s], pad, [dil, dil], mode);
            return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', 9)));
          };
          const ref = tf.grad(loss(dilateKernel(w as Tensor4D, d), 1, 'tfjs'))(x);
          const ours = tf.grad(loss(w as Tensor4D, d, 'forward-conv'))(x);
          const diff = relDiff(ours, ref);
          t.true(diff < 1e-5, `${op.name} h=${h} k=${k} s=${s} ${pad} d=${d} m=${w.shape[3]}: ${diff}`);
        }
      });
    }
  } finally {
    await tf.setBackend('wasm');
  }
});

test.serial('mobilenet_v2 and inception_v3 input gradients on wasm equal cpu autodiff', async (t) => {
  // The reference must be right: tfjs's own cpu AvgPoolGrad divides by the full window at 'same'
  // borders (InceptionV3's avg pools), so use the corrected cpu kernels the engine installs.
  const { installCpuParityKernels } = await import('@convlab/native');
  installCpuParityKernels();
  for (const [name, layer, size] of [
    ['mobilenet_v2', 'block_6_expand_relu', 64],
    ['inception_v3', 'mixed2', 75],
  ] as const) {
    const net = await loadModel(name);
    const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 11) as Tensor4D;
    const f = (input: Tensor4D, convGradient?: ConvGradientMode) =>
      tf.sum(tf.square(net.forward(input, { outputs: [layer], convGradient })[layer]));
    const g = grad4((input) => f(input))(x);
    await tf.setBackend('cpu');
    try {
      const ref = grad4((input) => f(input, 'tfjs'))(x);
      const d = relDiff(g, ref);
      t.true(d < 1e-4, `${name}: relative difference to cpu autodiff ${d}`);
      t.true(tf.norm(ref).dataSync()[0] > 0);
      ref.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
    tf.dispose([x, g]);
    net.dispose();
  }
});

test.serial('relu backward rules: normal, deconvnet, guided (relu and relu6)', (t) => {
  tf.tidy(() => {
    const x = tf.tensor1d([-2, -0.5, 0.5, 3, 7]);
    const dy = tf.tensor1d([1, -1, -1, 2, 1]);
    const grad = (cap6: boolean, mode: 'normal' | 'deconvnet' | 'guided') =>
      Array.from(tf.grad((z: Tensor) => tf.sum(tf.mul(reluLike(z, cap6, mode), dy)))(x).dataSync(), (v) => v + 0);
    t.deepEqual(grad(false, 'normal'), [0, 0, -1, 2, 1]);
    t.deepEqual(grad(false, 'deconvnet'), [1, 0, 0, 2, 1]);
    t.deepEqual(grad(false, 'guided'), [0, 0, 0, 2, 1]);
    t.deepEqual(grad(true, 'normal'), [0, 0, -1, 2, 0]);
    // deconvnet/guided do not gate at relu6's cap (x = 7 still passes the signal).
    t.deepEqual(grad(true, 'deconvnet'), [1, 0, 0, 2, 1]);
    t.deepEqual(grad(true, 'guided'), [0, 0, 0, 2, 1]);
    // Forward values never change.
    t.deepEqual(Array.from(reluLike(x, true, 'guided').dataSync()), [0, 0, 0.5, 3, 6]);
  });
});

test.serial('relu modes apply to ReLU layers and to activations fused into conv layers', (t) => {
  // x [1, 1, 2, 1] -> conv 1x1 (relu fused, 2 channels) -> conv 1x1 -> ReLU layer -> conv 1x1 (sum).
  const input = tf.input({ shape: [1, 2, 1] });
  const c1 = tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu', useBias: false, name: 'c1' });
  const c2 = tf.layers.conv2d({ filters: 1, kernelSize: 1, useBias: false, name: 'c2' });
  const r = tf.layers.reLU({ name: 'r' });
  const output = r.apply(c2.apply(c1.apply(input))) as ReturnType<typeof tf.input>;
  const model = tf.model({ inputs: input, outputs: output });
  c1.setWeights([tf.tensor4d([1, -1], [1, 1, 1, 2])]);
  c2.setWeights([tf.tensor4d([-1, 2], [1, 1, 2, 1])]);
  const net = createConvNet({
    name: 'tiny', family: 'custom', model, inputSize: [1, 2], preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'hand-set', quantized: false }, minInputSize: 1,
  });
  // Pixel 0: x = 2 -> c1 = relu([2, -2]) = [2, 0] -> c2 = -2 -> r = 0.
  // Pixel 1: x = -1 -> c1 = relu([-1, 1]) = [0, 1] -> c2 = 2 -> r = 2.
  const x = tf.tensor4d([2, -1], [1, 1, 2, 1]);
  const grad = (mode: 'normal' | 'deconvnet' | 'guided') =>
    Array.from(grad4((z: Tensor4D) => tf.sum(net.forward(z, { outputs: ['r'], relu: mode }).r))(x).dataSync());
  // normal: pixel 0 blocked at r (c2 < 0); pixel 1: dr=1 -> dc1 = [-1, 2] -> relu' mask [0, 1] -> dx = 2 * -1 = -2.
  t.deepEqual(grad('normal'), [0, -2]);
  // deconvnet: r passes relu(1) = 1 at both pixels; dc1 = [-1, 2] -> relu -> [0, 2] -> dx = 0*1 + 2*(-1) = -2.
  t.deepEqual(grad('deconvnet'), [-2, -2]);
  // guided: r masks pixel 0 (c2 = -2 <= 0); pixel 1: [-1, 2] -> relu & mask [0, 1] -> [0, 2] -> dx = -2.
  t.deepEqual(grad('guided'), [0, -2]);
  t.is(net.layer('c1').kind, 'conv');
  t.is(net.layer('c1').activation, 'relu');
  t.is(net.layer('r').kind, 'relu');
  net.dispose();
});

test.serial('layer classes the executor does not know run through tfjs-layers with a one-time warning', (t) => {
  const input = tf.input({ shape: [6, 6, 2] });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' });
  const norm = tf.layers.layerNormalization({ name: 'norm' });
  const model = tf.model({ inputs: input, outputs: norm.apply(conv.apply(input)) as ReturnType<typeof tf.input> });
  const net = createConvNet({
    name: 'odd', family: 'custom', model, inputSize: [6, 6], preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'random', quantized: false }, minInputSize: 1,
  });
  const writes: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 5) as Tensor4D;
      const ours = net.forward(x, { outputs: ['norm'] }).norm;
      net.forward(x, { outputs: ['norm'] });
      t.true(relDiff(ours, model.predict(x) as Tensor) < 1e-5);
    });
  } finally {
    process.stderr.write = original;
  }
  t.is(writes.filter((w) => /LayerNormalization/.test(w)).length, 1);
  net.dispose();
});
