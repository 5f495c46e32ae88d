/**
 * The executor's pieces on small hand-built tfjs-layers models: the layer-handler registry (built-in
 * kinds, a user-registered kind), fusion planning as a pure function, fusion and conv-gradient modes as
 * options, and the InputLayer self-inbound quirk handled in graph collection.
 */
import test from 'ava';
import { initEngine, receptiveFields, tf } from '@convlab/core';
import {
  BUILTIN_LAYER_HANDLERS,
  createConvNet,
  GraphExecutor,
  layerHandlerFor,
  planFusion,
  registerLayerHandler,
  type ConvNet,
  type FusionNode,
  type GraphExecutorOptions,
} from '../src/index.js';
import { relDiff } from './helpers.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;
type SymbolicTensor = ReturnType<typeof tf.input>;
type LayersModel = ReturnType<typeof tf.model>;

test.before(async () => {
  await initEngine({ backend: 'wasm', log: false });
});

/** input 12x12x3 -> conv (no bias) -> BN -> relu6 -> depthwise -> BN -> relu -> add with a skip conv -> pool. */
function smallNet(): LayersModel {
  let seed = 1;
  const init = () => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: seed++ });
  const input = tf.input({ shape: [12, 12, 3], name: 'image' });
  const apply = (layer: { apply: (x: SymbolicTensor | SymbolicTensor[]) => unknown }, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;
  let x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'conv', kernelInitializer: init() }), input);
  x = apply(tf.layers.batchNormalization({ name: 'conv_bn', movingMeanInitializer: init(), gammaInitializer: init() }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: 'conv_relu' }), x);
  let y = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'dw', depthwiseInitializer: init() }), x);
  y = apply(tf.layers.batchNormalization({ name: 'dw_bn', movingMeanInitializer: init() }), y);
  y = apply(tf.layers.activation({ activation: 'relu', name: 'dw_relu' }), y);
  const skip = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, strides: 2, name: 'skip', kernelInitializer: init(), biasInitializer: init() }), x);
  const sum = apply(tf.layers.add({ name: 'add' }), [y, skip]);
  const out = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }), sum);
  return tf.model({ inputs: input, outputs: out, name: 'small' });
}

function wrap(model: LayersModel, options: GraphExecutorOptions = {}): ConvNet {
  const [, h, w] = model.inputs[0].shape as number[];
  return createConvNet(
    {
      name: 'small',
      family: 'custom',
      model,
      inputSize: [h, w],
      preprocessing: { kind: 'none' },
      weights: { source: 'test', description: 'seeded', quantized: false },
    },
    options,
  );
}

test('every built-in Keras class has one handler; kinds as before', (t) => {
  const names = BUILTIN_LAYER_HANDLERS.flatMap((h) => [...h.classNames]);
  t.is(new Set(names).size, names.length, 'a class name is handled twice');
  const kinds = Object.fromEntries(
    ['InputLayer', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'BatchNormalization', 'ReLU', 'MaxPooling2D', 'GlobalAveragePooling2D', 'ZeroPadding2D', 'Add', 'Concatenate', 'Dense', 'Flatten', 'Dropout', 'Cropping2D'].map(
      (c) => [c, layerHandlerFor(c)?.kind],
    ),
  );
  t.deepEqual(kinds, {
    InputLayer: 'input',
    Conv2D: 'conv',
    DepthwiseConv2D: 'depthwise_conv',
    SeparableConv2D: 'conv',
    BatchNormalization: 'batchnorm',
    ReLU: 'relu',
    MaxPooling2D: 'maxpool',
    GlobalAveragePooling2D: 'global_pool',
    ZeroPadding2D: 'pad',
    Add: 'add',
    Concatenate: 'concat',
    Dense: 'dense',
    Flatten: 'flatten',
    Dropout: 'dropout',
    Cropping2D: 'other',
  });
  t.is(layerHandlerFor('NoSuchLayer'), undefined);
});

test('the small net matches tfjs-layers predict; LayerInfo kinds and geometry come from the handlers', (t) => {
  const model = smallNet();
  const net = wrap(model);
  const x = tf.randomUniform([2, 12, 12, 3], -1, 1, 'float32', 5) as Tensor4D;
  const names = ['conv_relu', 'dw_relu', 'skip', 'add', 'pool'];
  const sub = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as SymbolicTensor) });
  const refs = sub.predict(x) as Tensor[];
  for (const fusedInference of [true, false]) {
    const out = net.forward(x, { outputs: names, fusedInference });
    names.forEach((n, i) => t.true(relDiff(out[n], refs[i]) < 1e-5, `${n} (fused ${fusedInference}): ${relDiff(out[n], refs[i])}`));
    tf.dispose(Object.values(out));
  }
  t.deepEqual(
    net.layers.map((l) => [l.name, l.kind]),
    [['image', 'input'], ['conv', 'conv'], ['conv_bn', 'batchnorm'], ['conv_relu', 'relu'], ['dw', 'depthwise_conv'], ['dw_bn', 'batchnorm'], ['dw_relu', 'relu'], ['skip', 'conv'], ['add', 'add'], ['pool', 'maxpool']],
  );
  t.like(net.layer('dw'), { kernel: [3, 3], strides: [2, 2], dilation: [1, 1], padding: 'same' });
  t.like(net.layer('pool'), { kernel: [2, 2], strides: [2, 2], padding: 'valid' });
  t.is(net.layer('conv_relu').activation, 'relu6');
  tf.dispose([x, ...refs]);
  net.dispose();
});

// Serial: tf.profile's records are engine-wide, so two profiles at once lose kernels.
test.serial('fusion plan of the small net; fused kernels run only when fusion is on', async (t) => {
  const model = smallNet();
  const executor = new GraphExecutor(model);
  t.deepEqual(Object.fromEntries(executor.fusionPlan), {
    conv: { nodes: ['conv', 'conv_bn', 'conv_relu'], activation: 'relu6' },
    dw: { nodes: ['dw', 'dw_bn', 'dw_relu'], activation: 'relu' },
    skip: { nodes: ['skip'], activation: 'linear' }, // bias add fused
  });
  const x = tf.randomUniform([1, 12, 12, 3], -1, 1, 'float32', 6) as Tensor4D;
  const kernels = async (options: GraphExecutorOptions, perCall?: boolean) => {
    const ex = new GraphExecutor(model, options);
    const info = await tf.profile(() => {
      const out = ex.run(x, ['pool'], perCall === undefined ? {} : { fusedInference: perCall });
      return out.pool;
    });
    ex.dispose();
    return info.kernelNames;
  };
  t.true((await kernels({})).includes('FusedConv2D'));
  t.true((await kernels({})).includes('FusedDepthwiseConv2D'));
  t.false((await kernels({ fusedInference: false })).some((k) => k.startsWith('Fused')));
  t.false((await kernels({}, false)).some((k) => k.startsWith('Fused')), 'per-call option overrides the default');
  t.true((await kernels({ fusedInference: false }, true)).includes('FusedConv2D'));
  // Asking for a chain member as an output runs that chain layer by layer (the skip conv stays fused).
  const fusedConvs = async (outputs: string[]) =>
    (await tf.profile(() => Object.values(executor.run(x, outputs)))).kernels.filter((k) => k.name === 'FusedConv2D').length;
  t.is(await fusedConvs(['pool']), 2);
  t.is(await fusedConvs(['conv_bn', 'pool']), 1);
  x.dispose();
  executor.dispose();
});

test('planFusion is a pure function of the node list', (t) => {
  const conv = (name: string, inbound: string[], activation = 'linear', bias = false): FusionNode => ({ name, inbound, fusion: { op: 'conv', activation, bias } });
  const bn = (name: string, inbound: string[]): FusionNode => ({ name, inbound, fusion: { op: 'scale-shift' } });
  const relu = (name: string, inbound: string[], flavour: 'relu' | 'relu6' = 'relu'): FusionNode => ({ name, inbound, fusion: { op: 'relu', flavour } });
  const plain = (name: string, inbound: string[]): FusionNode => ({ name, inbound });
  const plan = planFusion([
    plain('in', []),
    conv('a', ['in']), bn('a_bn', ['a']), relu('a_relu', ['a_bn'], 'relu6'), // full chain
    conv('b', ['a_relu'], 'relu'), // conv with its own relu: one-node chain
    conv('c', ['b']), bn('c_bn', ['c']), plain('c_use1', ['c_bn']), plain('c_use2', ['c_bn']), // BN feeds two: conv+BN, linear
    conv('d', ['b']), plain('d_use1', ['d']), plain('d_use2', ['d']), // conv feeds two, no bias: no chain
    conv('e', ['b'], 'linear', true), plain('e_use1', ['e']), plain('e_use2', ['e']), // ... with bias: bias fused
    conv('f', ['b'], 'sigmoid', true), // another activation: never fused
    conv('g', ['b']), relu('g_relu', ['g']), // conv -> relu without BN
  ]);
  t.deepEqual(Object.fromEntries(plan), {
    a: { nodes: ['a', 'a_bn', 'a_relu'], activation: 'relu6' },
    b: { nodes: ['b'], activation: 'relu' },
    c: { nodes: ['c', 'c_bn'], activation: 'linear' },
    e: { nodes: ['e'], activation: 'linear' },
    g: { nodes: ['g', 'g_relu'], activation: 'relu' },
  });
});

test.serial('conv gradient mode is an option of the model and of each call', async (t) => {
  const x = tf.randomUniform([1, 12, 12, 3], -1, 1, 'float32', 7) as Tensor4D;
  // Through the skip conv only: stock wasm has no depthwise input-gradient kernel for 'tfjs' to use.
  const gradKernels = async (net: ConvNet, convGradient?: 'tfjs' | 'forward-conv') => {
    let g: Tensor | undefined;
    const info = await tf.profile(() => {
      g = tf.grad((input: Tensor) => tf.sum(net.forward(input as Tensor4D, { outputs: ['skip'], convGradient }).skip))(x);
      return g;
    });
    return { names: info.kernelNames, g: g! };
  };
  const tfjsNet = wrap(smallNet(), { convGradient: 'tfjs' });
  const fwdNet = wrap(smallNet(), { convGradient: 'forward-conv' });
  const a = await gradKernels(tfjsNet);
  const b = await gradKernels(fwdNet);
  const c = await gradKernels(fwdNet, 'tfjs');
  t.true(a.names.includes('Conv2DBackpropInput'), a.names.join(' '));
  t.false(b.names.includes('Conv2DBackpropInput'), b.names.join(' '));
  t.true(c.names.includes('Conv2DBackpropInput'), 'per-call convGradient overrides the model default');
  t.true(relDiff(b.g, a.g) < 1e-5);
  tf.dispose([x, a.g, b.g, c.g]);
  tfjsNet.dispose();
  fwdNet.dispose();
});

test('a user-registered layer kind runs through its handler; unregistering restores the fallback', (t) => {
  class Doubler extends tf.layers.Layer {
    static className = 'ConvlabTestDoubler';
    override computeOutputShape(shape: never) {
      return shape;
    }
    override call(inputs: Tensor | Tensor[]) {
      return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
    }
  }
  const input = tf.input({ shape: [4, 4, 2], name: 'x' });
  const doubled = new Doubler({ name: 'double' }).apply(input) as SymbolicTensor;
  const out = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(doubled) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  let calls = 0;
  const unregister = registerLayerHandler({
    classNames: ['ConvlabTestDoubler'],
    kind: 'activation',
    build: () => (xs) => {
      calls++;
      return tf.mul(xs[0], 2);
    },
    geometry: () => ({ kernel: [1, 1], strides: [1, 1] }),
  });
  const x = tf.randomUniform([1, 4, 4, 2], -1, 1, 'float32', 8) as Tensor4D;
  try {
    const net = wrap(model);
    t.is(net.layer('double').kind, 'activation');
    t.deepEqual(net.layer('double').kernel, [1, 1]);
    const y = net.forward(x, { outputs: ['relu'] }).relu;
    t.is(calls, 1);
    t.true(relDiff(y, tf.relu(tf.mul(x, 2))) < 1e-7);
    y.dispose();
  } finally {
    unregister();
  }
  t.is(layerHandlerFor('ConvlabTestDoubler'), undefined);
  const fallback = new GraphExecutor(model);
  const y = fallback.run(x, ['relu']).relu;
  t.is(calls, 1, 'after unregistering, tfjs-layers runs the layer');
  t.true(relDiff(y, tf.relu(tf.mul(x, 2))) < 1e-7);
  // Handlers given to one executor only.
  const local = new GraphExecutor(model, { layerHandlers: [{ classNames: ['ConvlabTestDoubler'], kind: 'other', build: () => (xs) => tf.mul(xs[0], 3) }] });
  t.true(relDiff(local.run(x, ['relu']).relu, tf.relu(tf.mul(x, 3))) < 1e-7);
  t.is(layerHandlerFor('ConvlabTestDoubler'), undefined);
  tf.dispose([x, y]);
});

test('InputLayer quirk: tfjs lists an input as its own inbound; models reports it as a source', (t) => {
  const input = tf.input({ shape: [16, 16, 3], name: 'pixels' });
  const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }).apply(input) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: c });
  const inputLayer = model.getLayer('pixels');
  // The quirk, as tfjs builds it: the input layer's node lists the input layer's own output as its input.
  t.is(inputLayer.inboundNodes[0].inputTensors[0].sourceLayer, inputLayer);
  const net = wrap(model);
  t.deepEqual(net.layers[0], { name: 'pixels', aliases: [], className: 'InputLayer', kind: 'input', outputShape: [null, 16, 16, 3], inbound: [] });
  // So receptive-field arithmetic takes model.layers as they are (no patching of the input's inbound).
  t.deepEqual(receptiveFields(net.layers, [16, 16]).get('c1'), { size: [3, 3], stride: [2, 2], start: [1, 1], outputSize: [8, 8] });
  // A source whatever its class name says (e.g. a Keras 3 file's input layer under another name).
  (inputLayer as unknown as { getClassName: () => string }).getClassName = () => 'SomeInputLayer';
  const renamed = wrap(model);
  t.deepEqual(renamed.layers[0].inbound, []);
  t.is(renamed.layers[0].kind, 'input');
  const x = tf.ones([1, 16, 16, 3]) as Tensor4D;
  const y = renamed.forward(x, { outputs: ['c1'] }).c1;
  t.deepEqual(y.shape, [1, 8, 8, 2]);
  tf.dispose([x, y]);
});

test('feature info and roles of a small VGG-like net', (t) => {
  const input = tf.input({ shape: [32, 32, 3], name: 'in' });
  let x = input;
  let seed = 1;
  for (const [b, filters] of [[1, 4], [2, 8], [3, 8]]) {
    for (let c = 1; c <= 2; c++) {
      x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `b${b}_conv${c}`, kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }).apply(x) as SymbolicTensor;
    }
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `b${b}_pool` }).apply(x) as SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as SymbolicTensor;
  x = tf.layers.dense({ units: 3, name: 'logits' }).apply(x) as SymbolicTensor;
  const net = createConvNet({
    name: 'tiny',
    family: 'custom',
    model: tf.model({ inputs: input, outputs: x }),
    inputSize: [32, 32],
    preprocessing: { kind: 'none' },
    weights: { source: 'test', description: 'seeded', quantized: false },
    aliases: { conv3: 'b3_conv2' },
  });
  // Reduction 8 is reached (b3_pool), so roles go by reduction: <= 4, <= 8, <= 16, last non-pool.
  t.deepEqual(net.layerRoles(), { 'last-conv': 'b3_conv2', early: 'b3_conv2', mid: 'b3_pool', late: 'b3_pool' });
  t.is(net.layerForRole('mid'), 'b3_pool');
  t.is(net.resolveLayer('@early'), 'b3_conv2');
  t.throws(() => net.layerForRole('middle' as never), { message: /unknown layer role/ });
  const info = net.featureInfo();
  t.deepEqual(info.find((f) => f.name === 'b3_conv2'), {
    name: 'b3_conv2',
    aliases: ['conv3'],
    className: 'Conv2D',
    kind: 'conv',
    index: 8,
    channels: 8,
    reduction: 4,
    receptiveField: [32, 32],
    outputShape: [8, 8, 8],
    blockOutput: true,
    roles: ['early', 'last-conv'],
  });
  t.deepEqual(info.filter((f) => f.blockOutput).map((f) => f.name), ['b1_conv1', 'b1_conv2', 'b1_pool', 'b2_conv1', 'b2_conv2', 'b2_pool', 'b3_conv1', 'b3_conv2', 'b3_pool']);
  t.like(info.find((f) => f.name === 'logits'), { reduction: null, outputShape: [3], channels: 3, blockOutput: false });
  const at64 = net.featureInfo([64, 48]);
  t.deepEqual(at64.find((f) => f.name === 'b3_conv2')?.outputShape, [16, 12, 8]);
  t.deepEqual(at64.find((f) => f.name === 'logits')?.outputShape, [3], 'global pooling: the head fits any size');
  net.dispose();
});

/** input 13x13x3 -> conv+bias+relu (VGG) -> conv (no bias) -> BN -> relu (Inception, stride 2, valid) -> conv+bias (linear) -> relu6 conv chain -> avg pool. */
function frozenNet(): LayersModel {
  let seed = 40;
  const init = () => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: seed++ });
  const input = tf.input({ shape: [13, 13, 3], name: 'image' });
  const apply = (layer: { apply: (x: SymbolicTensor | SymbolicTensor[]) => unknown }, x: SymbolicTensor) => layer.apply(x) as SymbolicTensor;
  let x = apply(tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'vgg', kernelInitializer: init(), biasInitializer: init() }), input);
  x = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'inc', kernelInitializer: init() }), x);
  x = apply(tf.layers.batchNormalization({ name: 'inc_bn', scale: false, movingMeanInitializer: init(), movingVarianceInitializer: 'ones' }), x);
  x = apply(tf.layers.activation({ activation: 'relu', name: 'inc_relu' }), x);
  x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'lin', kernelInitializer: init(), biasInitializer: init() }), x);
  x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'r6', kernelInitializer: init() }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: 'r6_relu' }), x);
  const out = apply(tf.layers.averagePooling2d({ poolSize: 2, name: 'pool' }), x);
  return tf.model({ inputs: input, outputs: out, name: 'frozen' });
}

test.serial('frozenWeights: the same image gradient as layer by layer, from fused kernels, only when asked (every backend)', async (t) => {
  const backends = ['wasm', 'cpu'];
  try {
    await initEngine({ backend: 'native', log: false });
    backends.push('native');
  } catch {
    t.log('native backend not built here: checked on wasm and cpu');
  }
  try {
    for (const backend of backends) {
      await initEngine({ backend, log: false });
      await frozenMatchesPlain(t, backend);
    }
  } finally {
    await initEngine({ backend: 'wasm', log: false });
  }
});

async function frozenMatchesPlain(t: import('ava').ExecutionContext, backend: string): Promise<void> {
  const model = frozenNet();
  const x = tf.randomUniform([2, 13, 13, 3], -1, 1, 'float32', 9) as Tensor4D;
  const outputs = ['vgg', 'inc_relu', 'lin', 'pool'];
  const r = Object.fromEntries(outputs.map((o, i) => [o, tf.randomNormal([2, ...(model.getLayer(o).outputShape as number[]).slice(1)], 0, 1, 'float32', 20 + i)]));
  const grads = async (options: GraphExecutorOptions, perCall?: { frozenWeights: boolean }) => {
    const ex = new GraphExecutor(model, options);
    const loss = (input: Tensor) => {
      const out = ex.run(input as Tensor4D, outputs, perCall ?? {});
      return tf.addN(outputs.map((o) => tf.sum(tf.mul(out[o], r[o]))));
    };
    let g: Tensor | undefined;
    const info = await tf.profile(() => {
      g = tf.grad(loss)(x);
      return g;
    });
    const values = await g!.data();
    const value = (loss(x).dataSync() as Float32Array)[0];
    ex.dispose();
    return { values, value, kernels: info.kernelNames };
  };
  const plain = await grads({});
  const frozen = await grads({ frozenWeights: true });
  const perCall = await grads({}, { frozenWeights: true });
  t.false(plain.kernels.includes('FusedConv2D'), `${backend}: off by default under a tape`);
  t.true(frozen.kernels.includes('FusedConv2D'), backend);
  t.true(perCall.kernels.includes('FusedConv2D'), `${backend}: per-call option`);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < plain.values.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(plain.values[i] - frozen.values[i]));
    maxAbs = Math.max(maxAbs, Math.abs(plain.values[i]));
  }
  t.true(maxAbs > 0);
  t.true(maxDiff / maxAbs < 1e-5, `${backend}: image gradient differs by ${maxDiff / maxAbs} (relative to its largest value)`);
  t.true(Math.abs(plain.value - frozen.value) <= 1e-5 * Math.abs(plain.value), `${backend}: loss ${plain.value} vs ${frozen.value}`);
  // The relu6 chain runs layer by layer (its gradient at the cap needs the input), the others fused: 3 fused convs per forward.
  const fusedPerForward = (await tf.profile(() => {
    const ex = new GraphExecutor(model, { frozenWeights: true });
    const g = tf.grad((input: Tensor) => tf.sum(ex.run(input as Tensor4D, ['pool']).pool))(x);
    return g;
  })).kernels.filter((k) => k.name === 'FusedConv2D').length;
  t.is(fusedPerForward, 3, backend);
  tf.dispose([x, ...Object.values(r)]);
  model.dispose();
}
