import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '../src/tf.js';
import {
  convOutputSize,
  convParamCount,
  denseParamCount,
  paddingFor,
  receptiveFieldBox,
  receptiveFields,
  samePadding,
  validPadding,
  type RfLayer,
} from '../src/conv-arithmetic.js';
import { ConvlabError } from '../src/errors.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

test('output sizes from the lecture', (t) => {
  t.is(convOutputSize(32, 5, 2, 1), 32); // 32x32 input, 5x5 filters, pad 2, stride 1 keeps 32x32
  t.is(convOutputSize(7, 3, 0, 2), 3); // (7 - 3)/2 + 1
  t.is(convOutputSize(7, 3, 0, 1), 5);
  t.is(convOutputSize(227, 11, 0, 4), 55); // AlexNet conv1
  t.is(convOutputSize(55, 3, 0, 2), 27); // AlexNet pool1
  t.is(convOutputSize(32, 3, 2, 1, { dilation: 2 }), 32);
});

test('non-integer output sizes are an error in exact mode, with a fix', (t) => {
  const err = t.throws(() => convOutputSize(7, 3, 0, 3), { instanceOf: ConvlabError });
  t.regex(err!.message, /\(7 \+ 2\*0 - 3\)\/3 \+ 1 = 2\.33\d* is not an integer \(input 7, filter 3, padding 0, stride 3\)/);
  t.regex((err as ConvlabError).hint!, /padding 1 fits exactly; or use mode 'floor' \(drops the last 1 px\) or 'ceil'/);
  const noPad = t.throws(() => convOutputSize(32, 5, 0, 2), { instanceOf: ConvlabError });
  t.regex((noPad as ConvlabError).hint!, /^or use mode 'floor'/);
  t.is(convOutputSize(7, 3, 0, 3, { mode: 'floor' }), 2);
  t.is(convOutputSize(7, 3, 0, 3, { mode: 'ceil' }), 3);
  // PyTorch ceil_mode drops a window that would start in the right padding: n=6, f=2, p=1, s=2.
  t.is(convOutputSize(6, 2, 1, 2, { mode: 'ceil' }), 4);
  t.is(convOutputSize(5, 2, 1, 2, { mode: 'ceil' }), 3);
  t.throws(() => convOutputSize(3, 5, 0, 1), { instanceOf: ConvlabError, message: /larger than the padded input/ });
  t.throws(() => convOutputSize(3, 1.5, 0, 1), { instanceOf: ConvlabError, message: /filter size f must be a positive integer/ });
});

test("'same' and 'valid' padding as TensorFlow computes them", (t) => {
  t.deepEqual(samePadding(224, 3, 2), { output: 112, padBefore: 0, padAfter: 1 });
  t.deepEqual(samePadding(225, 3, 2), { output: 113, padBefore: 1, padAfter: 1 });
  t.deepEqual(samePadding(224, 7, 2), { output: 112, padBefore: 2, padAfter: 3 });
  t.deepEqual(samePadding(10, 1, 2), { output: 5, padBefore: 0, padAfter: 0 });
  t.deepEqual(validPadding(299, 3, 2), { output: 149, padBefore: 0, padAfter: 0 });
  t.deepEqual(paddingFor(20, 3, 1, [2, 0]), { output: 20, padBefore: 2, padAfter: 0 });
  // Cross-check output sizes against tf.conv2d itself.
  for (const [n, f, s, pad] of [[23, 3, 2, 'same'], [22, 5, 3, 'same'], [23, 4, 2, 'valid'], [17, 3, 1, 'valid']] as const) {
    const y = tf.conv2d(tf.zeros([1, n, n, 1]) as tf.Tensor4D, tf.zeros([f, f, 1, 1]) as tf.Tensor4D, s, pad);
    t.is(y.shape[1], paddingFor(n, f, s, pad).output, `n=${n} f=${f} s=${s} ${pad}`);
  }
});

test('parameter counts from the lecture', (t) => {
  t.is(convParamCount({ kernel: [5, 5], inChannels: 3, outChannels: 10, bias: false }), 750);
  t.is(convParamCount({ kernel: [5, 5], inChannels: 3, outChannels: 10 }), 760);
  t.is(convParamCount({ kernel: [3, 3], inChannels: 64, outChannels: 64 }), 36_928); // VGG block1_conv2
  t.is(convParamCount({ kernel: [3, 3], inChannels: 32, depthwise: true }), 320);
  t.is(convParamCount({ kernel: [3, 3], inChannels: 32, depthwise: true, depthMultiplier: 2, bias: false }), 576);
  t.is(denseParamCount(4096, 1000), 4_097_000);
  t.is(denseParamCount(7 * 7 * 512, 4096, false), 102_760_448);
  t.throws(() => convParamCount({ kernel: [3, 3], inChannels: 3 }), { instanceOf: ConvlabError });
});

/** VGG16 as RfLayers (Keras names). */
function vgg16(): RfLayer[] {
  // tfjs reports an InputLayer as its own inbound node; that must not count as a cycle.
  const layers: RfLayer[] = [{ name: 'input_1', kind: 'input', inbound: ['input_1'] }];
  let prev = 'input_1';
  const add = (l: Omit<RfLayer, 'inbound'>) => {
    layers.push({ ...l, inbound: [prev] });
    prev = l.name;
  };
  [2, 2, 3, 3, 3].forEach((convs, b) => {
    for (let c = 1; c <= convs; c++) add({ name: `block${b + 1}_conv${c}`, kind: 'conv', kernel: [3, 3], strides: [1, 1], padding: 'same' });
    add({ name: `block${b + 1}_pool`, kind: 'maxpool', kernel: [2, 2], strides: [2, 2], padding: 'valid' });
  });
  add({ name: 'flatten', kind: 'flatten' });
  add({ name: 'fc1', kind: 'dense' });
  return layers;
}

test('VGG16 receptive fields: conv5_3 196 px (stride 16), pool5 212 px (stride 32)', (t) => {
  const rf = receptiveFields(vgg16());
  t.deepEqual(rf.get('block1_conv1'), { size: [3, 3], stride: [1, 1], start: [0, 0] });
  t.deepEqual(rf.get('block5_conv3'), { size: [196, 196], stride: [16, 16], start: [7.5, 7.5] });
  t.deepEqual(rf.get('block5_pool'), { size: [212, 212], stride: [32, 32], start: [15.5, 15.5] });
  t.false(rf.has('fc1'), 'fully connected layers need a known input size');
  // Araujo et al.: effective padding 90 for both, i.e. centre = (r - 1)/2 - 90.
  t.is(rf.get('block5_pool')!.start[0], (212 - 1) / 2 - 90);
  const sized = receptiveFields(vgg16(), [224, 224]);
  t.deepEqual(sized.get('block5_pool')!.outputSize, [7, 7]);
  // flatten sees all 7x7 positions: 212 + (7 - 1) * 32 = 404 px, i.e. the whole 224 image and its padding.
  t.deepEqual(sized.get('fc1')!.size, [404, 404]);
});

test('receptiveFieldBox clamps the field of a position to the image', (t) => {
  const rf = receptiveFields(vgg16()).get('block5_conv3')!;
  t.deepEqual(receptiveFieldBox(rf, 0, 0, [224, 224]), { x0: 0, y0: 0, x1: 106, y1: 106 });
  t.deepEqual(receptiveFieldBox(rf, 13, 13, [224, 224]), { x0: 118, y0: 118, x1: 224, y1: 224 });
  t.deepEqual(receptiveFieldBox(rf, 6, 7, [224, 224]), { x0: 22, y0: 6, x1: 218, y1: 202 });
  const pool1 = receptiveFields(vgg16()).get('block1_pool')!;
  // Two 3x3 convs then a 2x2 pool: 6 px, stride 2, centre 0.5; position (3, 1) is centred at (6.5, 2.5).
  t.deepEqual(pool1, { size: [6, 6], stride: [2, 2], start: [0.5, 0.5] });
  t.deepEqual(receptiveFieldBox(pool1, 3, 1, [224, 224]), { x0: 0, y0: 4, x1: 6, y1: 10 });
});

test('two branches merge by the union of their fields', (t) => {
  const layers: RfLayer[] = [
    { name: 'in', kind: 'input', inbound: [] },
    { name: 'a', kind: 'conv', inbound: ['in'], kernel: [3, 3], strides: [1, 1], padding: 'same' },
    { name: 'pad', kind: 'pad', inbound: ['in'], kernel: [1, 1], strides: [1, 1], padding: [[2, 0], [0, 0]] },
    { name: 'b', kind: 'conv', inbound: ['pad'], kernel: [3, 3], strides: [1, 1], padding: 'valid' },
    { name: 'sum', kind: 'add', inbound: ['a', 'b'] },
    { name: 'c', kind: 'conv', inbound: ['in'], kernel: [7, 1], strides: [1, 1], padding: 'same' },
    { name: 'cat', kind: 'concat', inbound: ['sum', 'c'] },
    { name: 'relu', kind: 'relu', inbound: ['cat'] },
  ];
  const rf = receptiveFields(layers);
  // a covers rows/cols [-1, 1]; b (valid conv after 2 rows of top padding) covers rows [-2, 0], cols [0, 2].
  // Union: rows [-2, 1], cols [-1, 2].
  t.deepEqual(rf.get('sum'), { size: [4, 4], stride: [1, 1], start: [-0.5, 0.5] });
  // c covers rows [-3, 3] and column 0: with sum, rows [-3, 3], cols [-1, 2].
  t.deepEqual(rf.get('cat'), { size: [7, 4], stride: [1, 1], start: [0, 0.5] });
  t.deepEqual(rf.get('relu'), rf.get('cat'));
  t.throws(() => receptiveFields([{ name: 'x', kind: 'add', inbound: ['nope'] }]), { instanceOf: ConvlabError, message: /"nope"/ });
});

test("'same' padding with stride 2 shifts the field depending on the input size", (t) => {
  const layers: RfLayer[] = [
    { name: 'in', kind: 'input', inbound: [], outputShape: [null, 225, 225, 3] },
    { name: 'conv', kind: 'conv', inbound: ['in'], kernel: [3, 3], strides: [2, 2], padding: 'same' },
    { name: 'gap', kind: 'global_pool', inbound: ['conv'] },
  ];
  t.deepEqual(receptiveFields(layers, [224, 224]).get('conv')!.start, [1, 1]); // pads (0, 1)
  t.deepEqual(receptiveFields(layers, [225, 225]).get('conv')!.start, [0, 0]); // pads (1, 1)
  t.deepEqual(receptiveFields(layers).get('conv')!.outputSize, [113, 113], 'size from outputShape');
  const gap = receptiveFields(layers, [224, 224]).get('gap')!;
  t.deepEqual(gap.outputSize, [1, 1]);
  t.true(gap.size[0] >= 224);
});

test('receptive fields agree with the support of real gradients through tf ops', (t) => {
  // A chain with odd sizes, stride-2 'same' convs, dilation, explicit padding and average pooling.
  const layers: RfLayer[] = [
    { name: 'in', kind: 'input', inbound: [] },
    { name: 'c1', kind: 'conv', inbound: ['in'], kernel: [3, 3], strides: [2, 2], padding: 'same' },
    { name: 'c2', kind: 'conv', inbound: ['c1'], kernel: [3, 3], strides: [1, 1], dilation: [2, 2], padding: 'same' },
    { name: 'p', kind: 'pad', inbound: ['c2'], kernel: [1, 1], strides: [1, 1], padding: [[1, 0], [2, 1]] },
    { name: 'pool', kind: 'avgpool', inbound: ['p'], kernel: [2, 2], strides: [2, 2], padding: 'valid' },
    { name: 'c3', kind: 'conv', inbound: ['pool'], kernel: [4, 3], strides: [1, 2], padding: 'same' },
  ];
  const [h, w] = [41, 38];
  const ones = (k: [number, number]) => tf.ones([k[0], k[1], 1, 1]) as tf.Tensor4D;
  const net = (x: tf.Tensor4D) => {
    let y = tf.conv2d(x, ones([3, 3]), 2, 'same');
    // tfjs has no conv2d gradient for dilation > 1: use the equivalent 5x5 filter with holes.
    const holes = tf.tensor4d([1, 0, 1, 0, 1].flatMap((r) => [1, 0, 1, 0, 1].map((c) => r * c)), [5, 5, 1, 1]);
    y = tf.conv2d(y, holes, 1, 'same');
    y = tf.pad(y, [[0, 0], [1, 0], [2, 1], [0, 0]]);
    y = tf.avgPool(y, 2, 2, 'valid');
    return tf.conv2d(y, ones([4, 3]), [1, 2], 'same');
  };
  const rf = receptiveFields(layers, [h, w]).get('c3')!;
  const out = tf.tidy(() => net(tf.ones([1, h, w, 1])));
  t.deepEqual(rf.outputSize, [out.shape[1], out.shape[2]]);
  for (const [y, x] of [[0, 0], [2, 3], [out.shape[1]! - 1, out.shape[2]! - 1], [3, 1]]) {
    const g = tf.tidy(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.slice(net(v as tf.Tensor4D), [0, y, x, 0], [1, 1, 1, 1])))(tf.ones([1, h, w, 1])).dataSync(),
    );
    let [y0, y1, x0, x1] = [h, 0, w, 0];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        if (g[i * w + j] !== 0) [y0, y1, x0, x1] = [Math.min(y0, i), Math.max(y1, i + 1), Math.min(x0, j), Math.max(x1, j + 1)];
      }
    }
    t.deepEqual(receptiveFieldBox(rf, y, x, [h, w]), { x0, y0, x1, y1 }, `output (${y}, ${x})`);
  }
});
