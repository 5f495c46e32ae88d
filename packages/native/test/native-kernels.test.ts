/**
 * Every native cpu kernel against the original tfjs cpu kernel, on seeded random inputs over a grid
 * of shapes, strides, paddings, dilations, depth multipliers, transposes and broadcasts.
 */
import { installNativeKernels, nativeKernelStats, resetKernelStats, uninstallNativeKernels } from '../src/index.js';
import { TOLERANCE, nativeTest, rand, relErr, tf } from './helpers.js';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

type Inputs = Record<string, tf.Tensor>;

/** Run a kernel with the original cpu kernels and with the native ones; returns both outputs. */
async function both(name: string, inputs: Inputs, attrs: NamedAttrMap): Promise<[tf.Tensor, tf.Tensor, number]> {
  uninstallNativeKernels();
  const ref = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
  await installNativeKernels();
  resetKernelStats();
  const got = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
  return [ref, got, nativeKernelStats()[name]?.native ?? 0];
}

interface Case {
  name: string;
  inputs: Inputs;
  attrs: NamedAttrMap;
  label: string;
  /** The native path must take it (false: a documented fallback case). */
  native?: boolean;
  /** A reference other than the cpu kernel (where that kernel is wrong). */
  reference?: () => tf.Tensor;
}

/**
 * The exact gradient of average pooling that excludes padding from the divisor (the forward op of
 * every tfjs backend). tfjs's cpu AvgPoolGrad divides by the full window size instead, which is not
 * the gradient of its own forward pass wherever a window overlaps the padding.
 */
function avgPoolGradReference(dy: tf.Tensor, xShape: number[], filterSize: number, strides: number, pad: 'same' | 'valid'): tf.Tensor {
  const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], filterSize, strides, 1, pad);
  const [n, h, w, c] = xShape;
  const g = dy.dataSync();
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < info.outHeight; oy++) {
      for (let ox = 0; ox < info.outWidth; ox++) {
        const y0 = oy * strides - info.padInfo.top, x0 = ox * strides - info.padInfo.left;
        const ys = [], xs = [];
        for (let y = Math.max(0, y0); y < Math.min(h, y0 + filterSize); y++) ys.push(y);
        for (let x = Math.max(0, x0); x < Math.min(w, x0 + filterSize); x++) xs.push(x);
        const count = ys.length * xs.length;
        for (const y of ys) for (const x of xs) for (let ch = 0; ch < c; ch++) {
          dx[((b * h + y) * w + x) * c + ch] += g[((b * info.outHeight + oy) * info.outWidth + ox) * c + ch] / count;
        }
      }
    }
  }
  return tf.tensor(dx, xShape);
}

/** SplitV returns several tensors: compare each. */
async function checkSplit(t: import('ava').ExecutionContext, x: tf.Tensor, attrs: NamedAttrMap, label: string) {
  uninstallNativeKernels();
  const ref = tf.engine().runKernel('SplitV', { x }, attrs) as unknown as tf.Tensor[];
  await installNativeKernels();
  resetKernelStats();
  const got = tf.engine().runKernel('SplitV', { x }, attrs) as unknown as tf.Tensor[];
  t.is(got.length, ref.length, label);
  ref.forEach((r, i) => t.true(relErr(got[i], r) <= TOLERANCE, `SplitV ${label} part ${i}`));
  t.is(nativeKernelStats().SplitV?.native, 1, `SplitV ${label} native`);
}

async function check(t: import('ava').ExecutionContext, cases: Case[]) {
  await tf.setBackend('cpu');
  for (const c of cases) {
    const [cpuRef, got, nativeCalls] = await both(c.name, c.inputs, c.attrs);
    const ref = c.reference ? c.reference() : cpuRef;
    if (ref !== cpuRef) cpuRef.dispose();
    const err = relErr(got, ref);
    t.true(err <= TOLERANCE, `${c.name} ${c.label}: relative error ${err} (shape ${got.shape} vs ${ref.shape})`);
    if (c.native !== false) t.is(nativeCalls, 1, `${c.name} ${c.label}: expected the native path (stats ${JSON.stringify(nativeKernelStats()[c.name])})`);
    ref.dispose();
    got.dispose();
  }
  for (const c of cases) for (const v of Object.values(c.inputs)) v.dispose();
}

const PADS: [string, NamedAttrMap['pad']][] = [
  ['same', 'same'],
  ['valid', 'valid'],
  ['explicit', [[0, 0], [1, 2], [0, 1], [0, 0]]],
];

function convGrid(depthwise: boolean): { x: number[]; f: number[]; strides: number; dilations: number; pad: NamedAttrMap['pad']; label: string }[] {
  const out = [];
  const shapes = depthwise
    ? [{ x: [2, 9, 11, 4], f: [3, 3, 4, 1] }, { x: [1, 10, 7, 3], f: [3, 3, 3, 3] }, { x: [2, 8, 8, 5], f: [5, 3, 5, 2] }]
    : [
        { x: [2, 9, 11, 5], f: [3, 3, 5, 7] }, { x: [1, 10, 8, 3], f: [1, 1, 3, 6] }, { x: [3, 7, 9, 4], f: [5, 3, 4, 2] },
        // 32 or more channels each side: the stride-1 input gradient runs as a forward convolution (csrc/conv.cc).
        { x: [2, 9, 11, 32], f: [3, 3, 32, 40] }, { x: [1, 7, 6, 33], f: [5, 3, 33, 48] }, { x: [1, 5, 6, 40], f: [1, 1, 40, 32] },
      ];
  for (const s of shapes) {
    for (const [padName, pad] of PADS) {
      for (const [strides, dilations] of [[1, 1], [2, 1], [1, 2]]) {
        if (outShapeOf(s.x, s.f, strides, dilations, pad, depthwise).some((d) => d <= 0)) continue;
        out.push({ ...s, strides, dilations, pad, label: `x${s.x} f${s.f} stride ${strides} dilation ${dilations} ${padName}` });
      }
    }
  }
  return out;
}

function outShapeOf(x: number[], f: number[], strides: number, dilations: number, pad: NamedAttrMap['pad'], depthwise: boolean): number[] {
  return tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], strides, dilations, pad as 'same', undefined, depthwise).outShape;
}

nativeTest('Conv2D and DepthwiseConv2dNative match the cpu kernels', async (t) => {
  const cases: Case[] = [];
  for (const depthwise of [false, true]) {
    for (const g of convGrid(depthwise)) {
      cases.push({
        name: depthwise ? 'DepthwiseConv2dNative' : 'Conv2D',
        inputs: { x: rand(g.x), filter: rand(g.f) },
        attrs: { strides: g.strides, pad: g.pad, dilations: g.dilations, dataFormat: 'NHWC' },
        label: g.label,
      });
    }
  }
  await check(t, cases);
});

nativeTest('Conv2DBackpropInput / Filter and the depthwise backprops match the cpu kernels', async (t) => {
  const cases: Case[] = [];
  for (const depthwise of [false, true]) {
    // tfjs computes these gradients only for dilation 1.
    for (const g of convGrid(depthwise).filter((c) => c.dilations === 1)) {
      const dyShape = outShapeOf(g.x, g.f, g.strides, 1, g.pad, depthwise);
      const common = { strides: g.strides, pad: g.pad, dilations: 1, dataFormat: 'NHWC' };
      cases.push({
        name: depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput',
        inputs: { dy: rand(dyShape), filter: rand(g.f) },
        attrs: { ...common, inputShape: g.x },
        label: g.label,
      });
      cases.push({
        name: depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter',
        inputs: { x: rand(g.x), dy: rand(dyShape) },
        attrs: { ...common, filterShape: g.f },
        label: g.label,
      });
    }
  }
  await check(t, cases);
});

nativeTest('cached filters: a filter used again is read from the cache, and a new filter of the same shape is not', async (t) => {
  await tf.setBackend('cpu');
  const { loadAddon } = await import('../src/addon.js');
  // Shapes that take each path: oneDNN's forward and backward-data kernels, and the input gradient run as a
  // forward convolution with the flipped filter (32 or more channels each side).
  for (const [x, f] of [[[1, 9, 11, 5], [3, 3, 5, 7]], [[1, 9, 11, 32], [3, 3, 32, 40]], [[1, 6, 7, 40], [1, 1, 40, 32]]]) {
    const input = rand(x), dy = rand(outShapeOf(x, f, 1, 1, 'same', false));
    const attrs = { strides: 1, pad: 'same' as const, dilations: 1, dataFormat: 'NHWC' as const };
    for (let round = 0; round < 2; round++) {
      // A new filter each round, with the same shape: the cache must not hand back the last round's.
      const filter = rand(f);
      uninstallNativeKernels();
      const refY = tf.engine().runKernel('Conv2D', { x: input, filter }, attrs) as tf.Tensor;
      const refDx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: x }) as tf.Tensor;
      await installNativeKernels();
      // Three uses: the second and third pass the filter's id (the third reads the cached copy).
      for (let use = 0; use < 3; use++) {
        const y = tf.engine().runKernel('Conv2D', { x: input, filter }, attrs) as tf.Tensor;
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: x }) as tf.Tensor;
        t.true(relErr(y, refY) <= TOLERANCE, `x${x} f${f} round ${round} use ${use}: forward ${relErr(y, refY)}`);
        t.true(relErr(dx, refDx) <= TOLERANCE, `x${x} f${f} round ${round} use ${use}: input gradient ${relErr(dx, refDx)}`);
        tf.dispose([y, dx]);
      }
      tf.dispose([filter, refY, refDx]);
    }
    tf.dispose([input, dy]);
  }
  t.true((loadAddon()?.info().filterCacheBytes ?? 0) > 0, 'filters were cached');
});

nativeTest('FusedConv2D and FusedDepthwiseConv2D (bias, activations) match the cpu kernels', async (t) => {
  const cases: Case[] = [];
  const acts = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'];
  for (const depthwise of [false, true]) {
    const x = depthwise ? [2, 9, 8, 4] : [2, 9, 8, 5];
    const f = depthwise ? [3, 3, 4, 2] : [3, 3, 5, 6];
    const oc = depthwise ? 8 : 6;
    for (const act of acts) {
      for (const strides of [1, 2]) {
        cases.push({
          name: depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D',
          inputs: { x: rand(x, -3, 3), filter: rand(f), bias: rand([oc]) },
          attrs: { strides, pad: 'same', dilations: 1, dataFormat: 'NHWC', activation: act, leakyreluAlpha: 0.1 },
          label: `${act} stride ${strides}`,
        });
      }
    }
    cases.push({
      name: depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D',
      inputs: { x: rand(x), filter: rand(f) },
      attrs: { strides: 1, pad: 'valid', dilations: 1, dataFormat: 'NHWC', activation: 'relu' },
      label: 'no bias',
    });
    cases.push({
      name: depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D',
      inputs: { x: rand(x), filter: rand(f), bias: rand([oc]), preluActivationWeights: rand([oc]) },
      attrs: { strides: 1, pad: 'same', dilations: 1, dataFormat: 'NHWC', activation: 'prelu' },
      label: 'prelu (fallback)',
      native: false,
    });
  }
  await check(t, cases);
});

nativeTest('MaxPool, AvgPool and their gradients match the cpu kernels (ties after relu included)', async (t) => {
  const cases: Case[] = [];
  for (const x of [[2, 9, 11, 3], [1, 8, 8, 5], [1, 7, 9, 33]]) {
    for (const [filterSize, strides] of [[2, 2], [3, 2], [3, 1], [2, 1], [3, 3]]) {
      for (const pad of ['same', 'valid'] as const) {
        const attrs = { filterSize, strides, pad };
        const label = `x${x} k${filterSize} s${strides} ${pad}`;
        // relu'd input: many zeros, so windows with tied maxima.
        const input = tf.relu(rand(x));
        const info = tf.backend_util.computePool2DInfo(x as [number, number, number, number], filterSize, strides, 1, pad);
        const output = tf.maxPool(input as tf.Tensor4D, filterSize, strides, pad);
        cases.push({ name: 'MaxPool', inputs: { x: input.clone() }, attrs, label });
        cases.push({ name: 'AvgPool', inputs: { x: input.clone() }, attrs, label });
        cases.push({ name: 'MaxPoolGrad', inputs: { dy: rand(info.outShape), input, output }, attrs, label });
        const dy = rand(info.outShape);
        cases.push({
          name: 'AvgPoolGrad', inputs: { dy, input: input.clone() }, attrs, label,
          reference: () => avgPoolGradReference(dy, x, filterSize, strides, pad),
        });
      }
    }
  }
  await check(t, cases);
});

nativeTest('BatchMatMul (all transposes, broadcast batch) and _FusedMatMul match the cpu kernels', async (t) => {
  const cases: Case[] = [];
  const shapes: [number[], number[], string][] = [
    [[3, 5, 7], [3, 7, 4], 'batch 3'],
    [[1, 5, 7], [3, 7, 4], 'broadcast a'],
    [[3, 5, 7], [7, 4], 'broadcast b (rank 2)'],
    [[13, 17], [17, 9], 'rank 2 odd'],
    [[2, 2, 6, 3], [2, 2, 3, 5], 'rank 4'],
  ];
  const tr = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
  for (const [sa, sb, label] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        cases.push({
          name: 'BatchMatMul',
          inputs: { a: rand(tr(sa, ta)), b: rand(tr(sb, tb)) },
          attrs: { transposeA: ta, transposeB: tb },
          label: `${label} ta=${ta} tb=${tb}`,
        });
      }
    }
  }
  for (const act of ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu']) {
    for (const [ta, tb] of [[false, false], [true, true]]) {
      cases.push({
        name: '_FusedMatMul',
        inputs: { a: rand(ta ? [1, 33, 16] : [1, 16, 33], -2, 2), b: rand(tb ? [1, 21, 33] : [1, 33, 21]), bias: rand([21]) },
        attrs: { transposeA: ta, transposeB: tb, activation: act, leakyreluAlpha: 0.3 },
        label: `${act} ta=${ta} tb=${tb}`,
      });
    }
  }
  cases.push({
    name: '_FusedMatMul',
    inputs: { a: rand([1, 4, 6]), b: rand([1, 6, 5]), bias: rand([4, 5]) },
    attrs: { transposeA: false, transposeB: false, activation: 'linear' },
    label: '2-D bias (fallback)',
    native: false,
  });
  await check(t, cases);
});

nativeTest('element-wise kernels match the cpu kernels (equal shapes, scalars, trailing broadcasts)', async (t) => {
  const cases: Case[] = [];
  const pairs: [number[], number[], boolean][] = [
    [[2, 5, 7, 3], [2, 5, 7, 3], true],
    [[2, 5, 7, 3], [], true],
    [[1], [4, 6], true],
    [[2, 5, 7, 3], [3], true],
    [[7, 3], [2, 5, 7, 3], true],
    [[2, 5, 1, 3], [1, 1, 7, 3], false], // general broadcast: original kernel
    [[300, 200], [300, 200], true], // large enough for the threaded path
    [[64, 3000], [64, 1], true], // row broadcast (softmax, normalization)
    [[2, 1, 1], [2, 5, 7], true],
    [[3, 1], [2, 1, 5], false], // broadcasts both ways: original kernel
  ];
  for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference', 'Maximum', 'Minimum']) {
    for (const [sa, sb, native] of pairs) {
      cases.push({ name, inputs: { a: rand(sa), b: name === 'RealDiv' ? rand(sb, 0.5, 2) : rand(sb) }, attrs: {}, label: `${sa} ${sb}`, native });
    }
  }
  const unary: [string, NamedAttrMap][] = [
    ['Relu', {}], ['Relu6', {}], ['Step', { alpha: 0 }], ['Step', { alpha: 0.25 }], ['Sigmoid', {}], ['Tanh', {}],
    ['Square', {}], ['Neg', {}], ['LeakyRelu', { alpha: 0.2 }], ['Elu', {}], ['Exp', {}], ['Sqrt', {}],
  ];
  for (const [name, attrs] of unary) {
    for (const shape of [[3, 7, 5], [256, 300]]) {
      const x = name === 'Sqrt' ? rand(shape, 0, 9) : rand(shape, -8, 8);
      cases.push({ name, inputs: { x }, attrs, label: `${shape} ${JSON.stringify(attrs)}` });
    }
  }
  // Reductions and data movement.
  // Middle axes ([b, h, w, c] over h, w: a broadcast gradient) too; axes that are not adjacent fall back.
  for (const [shape, axis, keepDims] of [[[5, 7, 3], 0, false], [[5, 7, 3], [0, 1], true], [[5, 7, 3], 2, false], [[5, 7, 3], [1, 2], false], [[64, 2048], 0, false], [[5, 7, 3], 1, false], [[2, 6, 5, 4], [1, 2], true], [[5, 7, 3], [0, 2], false]] as const) {
    const adjacent = !(Array.isArray(axis) && axis[0] === 0 && axis[1] === 2);
    cases.push({ name: 'Sum', inputs: { x: rand([...shape]) }, attrs: { axis: axis as number | number[], keepDims }, label: `${shape} axis ${axis}`, native: adjacent });
  }
  // General broadcasts (per-sample statistics with a batch > 1, both operands broadcast, a middle axis).
  for (const [sa, sb] of [[[2, 5, 6, 3], [2, 1, 1, 3]], [[2, 1, 1, 3], [2, 5, 6, 3]], [[2, 5, 6, 3], [2, 5, 1, 1]], [[1, 5, 1, 3], [4, 1, 6, 1]], [[3, 1, 4], [3, 5, 1]]]) {
    for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference', 'Maximum']) {
      const b = name === 'RealDiv' ? tf.add(tf.abs(rand(sb)), 0.5) : rand(sb);
      cases.push({ name, inputs: { a: rand(sa), b }, attrs: {}, label: `${sa} with ${sb}` });
    }
  }
  for (const axis of [0, 1, 2, -1]) {
    cases.push({ name: 'Concat', inputs: [rand([2, 3, 4]), rand([2, 3, 4]), rand([2, 3, 4])] as unknown as Inputs, attrs: { axis }, label: `axis ${axis}` });
  }
  cases.push({ name: 'Concat', inputs: [rand([4, 5]), rand([4, 9])] as unknown as Inputs, attrs: { axis: 1 }, label: 'uneven' });
  for (const perm of [[0, 1, 2], [0, 2, 1], [1, 0], [2, 0, 1]]) {
    const shape = perm.length === 2 ? [37, 45] : [3, 37, 45];
    cases.push({ name: 'Transpose', inputs: { x: rand(shape) }, attrs: { perm }, label: `perm ${perm}`, native: perm.join() !== '2,0,1' });
  }
  for (const paddings of [[[0, 0], [0, 1], [0, 1], [0, 0]], [[0, 0], [1, 2], [3, 0], [0, 0]], [[1, 0], [0, 0], [0, 0], [2, 1]], [[0, 0], [0, 0], [0, 0], [0, 0]]]) {
    cases.push({ name: 'PadV2', inputs: { x: rand([2, 5, 6, 3]) }, attrs: { paddings, constantValue: 0.5 }, label: JSON.stringify(paddings) });
  }
  cases.push({
    name: 'UnsortedSegmentSum', inputs: { x: rand([50, 8]), segmentIds: tf.tensor1d(Array.from({ length: 50 }, (_, i) => (i * 7) % 13), 'int32') },
    attrs: { numSegments: 13 }, label: 'embedding gradient',
  });
  // NaN handling and int32 fallback.
  cases.push({ name: 'Relu', inputs: { x: tf.tensor1d([NaN, -1, 2, -0]) }, attrs: {}, label: 'NaN' });
  cases.push({ name: 'Add', inputs: { a: tf.tensor1d([1, 2, 3], 'int32'), b: tf.tensor1d([4, 5, 6], 'int32') }, attrs: {}, label: 'int32 (fallback)', native: false });
  await check(t, cases);
  await checkSplit(t, rand([64, 2048]), { numOrSizeSplits: 4, axis: 1 }, '4 equal on axis 1');
  await checkSplit(t, rand([6, 5, 4]), { numOrSizeSplits: [1, -1, 2], axis: 1 }, 'sizes with -1');
  await checkSplit(t, rand([6, 5, 4]), { numOrSizeSplits: 2, axis: 0 }, 'axis 0');
});
