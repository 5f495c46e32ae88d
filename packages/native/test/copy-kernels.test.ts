/**
 * Slice, the comparisons and AddN (src/copy-kernels.ts) against the original tfjs cpu kernels:
 * bit-identical outputs over a grid of ranks, begins and sizes (-1 included) and dtypes, and the
 * gradient of ZeroPadding2D-style padding that made MobileNetV2 input gradients slow.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { frozenConv2d, installNativeKernels, nativeKernelStats, resetKernelStats, uninstallNativeKernels } from '../src/index.js';
import { nativeTest, rand, tf } from './helpers.js';

/** One kernel call with the original cpu kernels and with the installed ones, and the native count. */
async function both(name: string, inputs: Record<string, tf.Tensor>, attrs: NamedAttrMap): Promise<[tf.Tensor, tf.Tensor, number]> {
  uninstallNativeKernels();
  const ref = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
  await installNativeKernels();
  resetKernelStats();
  const got = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
  return [ref, got, nativeKernelStats()[name]?.native ?? 0];
}

function same(a: tf.Tensor, b: tf.Tensor): boolean {
  if (a.dtype !== b.dtype || !tf.util.arraysEqual(a.shape, b.shape)) return false;
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

/** Every begin in {0, 1, d-1} per axis with sizes {rest, 1, -1, 0 where it fits}, sampled to stay small. */
function sliceCases(shape: number[]): { begin: number[]; size: number[] }[] {
  const perAxis = shape.map((d) => {
    const opts: [number, number][] = [[0, d], [0, -1], [0, 1]];
    if (d > 1) opts.push([1, d - 1], [1, -1], [d - 1, 1], [1, Math.max(0, d - 2)]);
    if (d > 2) opts.push([1, 1]);
    return opts;
  });
  let combos: [number, number][][] = [[]];
  for (const opts of perAxis) combos = combos.flatMap((c) => opts.map((o) => [...c, o]));
  // Deterministic thinning for rank 4 (thousands of combinations otherwise).
  const step = Math.max(1, Math.floor(combos.length / 150));
  return combos.filter((_, i) => i % step === 0).map((c) => ({ begin: c.map((o) => o[0]), size: c.map((o) => o[1]) }));
}

nativeTest('Slice matches the cpu kernel (ranks 1-4, begins, sizes with -1, float32 / int32 / bool)', async (t) => {
  await installNativeKernels();
  const shapes = [[7], [5, 6], [3, 4, 5], [2, 5, 4, 3], [1, 9, 9, 8]];
  let checked = 0;
  for (const shape of shapes) {
    const xf = rand(shape);
    const xi = tf.cast(tf.mul(xf, 100), 'int32');
    const xb = tf.greater(xf, 0);
    for (const { begin, size } of sliceCases(shape)) {
      for (const x of [xf, xi, xb]) {
        const [ref, got, native] = await both('Slice', { x }, { begin, size });
        t.true(same(got, ref), `Slice ${x.dtype} ${shape} begin ${begin} size ${size}: ${got.shape} vs ${ref.shape}`);
        t.is(native, 1, `Slice ${x.dtype} ${shape} begin ${begin} size ${size} took the fallback`);
        ref.dispose();
        got.dispose();
        checked++;
      }
    }
    for (const v of [xf, xi, xb]) v.dispose();
  }
  t.true(checked > 500, `only ${checked} slice cases`);
  // A scalar begin/size (tf.slice on rank 1 accepts numbers) goes through the same parsing.
  const x = rand([10]);
  const [ref, got] = await both('Slice', { x }, { begin: 3, size: 4 });
  t.true(same(got, ref));
  for (const v of [x, ref, got]) v.dispose();
});

nativeTest('the gradient of ZeroPadding2D-style padding (a Slice) matches the original kernels', async (t) => {
  const x = rand([1, 12, 12, 8]);
  const dy = rand([1, 13, 13, 8]);
  const grad = tf.grad((v: tf.Tensor) => tf.mul(tf.pad(v, [[0, 0], [0, 1], [0, 1], [0, 0]]), dy));
  uninstallNativeKernels();
  const ref = grad(x);
  await installNativeKernels();
  resetKernelStats();
  const got = grad(x);
  t.true(same(got, ref));
  t.true((nativeKernelStats().Slice?.native ?? 0) >= 1);
  for (const v of [x, dy, ref, got]) v.dispose();
});

nativeTest('comparisons match the cpu kernels (equal shapes, scalar either side, NaN, int32)', async (t) => {
  await installNativeKernels();
  const base = rand([2, 5, 7, 3], -8, 8);
  const nanMask = tf.less(rand([2, 5, 7, 3]), -0.8);
  const a = tf.where(nanMask, tf.fill([2, 5, 7, 3], NaN), tf.round(base));
  const b = tf.round(rand([2, 5, 7, 3], -8, 8));
  const six = tf.scalar(6), zero = tf.scalar(0), nan = tf.scalar(NaN), oneByOne = tf.tensor([[2]]);
  const ai = tf.cast(b, 'int32'), bi = tf.cast(tf.round(base), 'int32'), threeI = tf.scalar(3, 'int32');
  const pairs: [string, tf.Tensor, tf.Tensor][] = [
    ['equal shapes', a, b], ['scalar b', a, six], ['scalar a', zero, a], ['NaN scalar', a, nan],
    ['[1,1] b', tf.reshape(a, [70, 3]), oneByOne], ['int32', ai, bi], ['int32 scalar', ai, threeI],
  ];
  for (const name of ['LessEqual', 'Less', 'GreaterEqual', 'Greater', 'Equal', 'NotEqual']) {
    for (const [label, p, q] of pairs) {
      const [ref, got, native] = await both(name, { a: p, b: q }, {});
      t.true(same(got, ref), `${name} ${label}`);
      t.is(native, 1, `${name} ${label} took the fallback`);
      ref.dispose();
      got.dispose();
    }
  }
  // A true broadcast ([3] against [2,5,7,3]) is left to the original kernel, and still right.
  const row = rand([3]);
  const [ref, got, native] = await both('Less', { a, b: row }, {});
  t.true(same(got, ref));
  t.is(native, 0);
  for (const v of [base, nanMask, a, b, six, zero, nan, oneByOne, ai, bi, threeI, row, ref, got]) v.dispose();
});

nativeTest('AddN matches the cpu kernel (1 to 5 inputs)', async (t) => {
  await installNativeKernels();
  const xs = [0, 1, 2, 3, 4].map(() => rand([3, 33, 17, 5]));
  for (let k = 1; k <= xs.length; k++) {
    // tf.addN passes its inputs as an array.
    const inputs = xs.slice(0, k) as unknown as Record<string, tf.Tensor>;
    const [ref, got, native] = await both('AddN', inputs, {});
    const err = tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0];
    t.true(err <= 1e-6, `AddN of ${k}: max error ${err}`);
    t.is(native, 1);
    ref.dispose();
    got.dispose();
  }
  xs.forEach((x) => x.dispose());
});

nativeTest('PadV2 line copies match the cpu kernel (ranks 1-4, padding on any axis)', async (t) => {
  await installNativeKernels();
  const cases: [number[], [number, number][]][] = [
    [[7], [[2, 3]]], [[4, 5], [[1, 0], [0, 0]]], [[4, 5], [[0, 0], [0, 2]]], [[3, 4, 5], [[0, 1], [2, 0], [0, 0]]],
    [[1, 9, 9, 3], [[0, 0], [0, 1], [0, 1], [0, 0]]], [[2, 4, 3, 2], [[1, 1], [0, 0], [2, 1], [0, 0]]],
    [[2, 4, 3, 2], [[0, 0], [1, 0], [0, 0], [0, 3]]], [[2, 3], [[0, 0], [0, 0]]], [[0, 3], [[1, 1], [0, 1]]],
  ];
  for (const [shape, paddings] of cases) {
    const x = rand(shape);
    const [ref, got, native] = await both('PadV2', { x }, { paddings, constantValue: -2 });
    t.true(same(got, ref), `PadV2 ${shape} ${JSON.stringify(paddings)}`);
    t.is(native, 1, `PadV2 ${shape} took the fallback`);
    for (const v of [x, ref, got]) v.dispose();
  }
});

nativeTest('the one-pass Relu6 gradient is bit-identical to tfjs (0, 6, NaN, Inf; second order)', async (t) => {
  const special = [0, 6, -0, 6.000001, 5.999999, NaN, Infinity, -Infinity, -1, 3];
  const x = tf.concat([tf.tensor1d(special), tf.reshape(rand([5, 8, 3], -2, 8), [-1])]);
  const dy = tf.concat([tf.tensor1d([NaN, Infinity, 1, -Infinity, 2, 1, 1, NaN, Infinity, -2]), tf.reshape(rand([5, 8, 3]), [-1])]);
  const first = (v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.mul(tf.relu6(u), dy))(v);
  // Second order: d/dw of sum(relu6'(x) * w * dy) through the gradient of the gradient kernel.
  const second = (w: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.grad((v: tf.Tensor) => tf.mul(tf.relu6(v), u))(x), dy)))(w);
  const w = rand([x.size]);
  uninstallNativeKernels();
  const ref1 = first(x), ref2 = second(w);
  await installNativeKernels();
  const got1 = first(x), got2 = second(w);
  t.true(same(got1, ref1), 'first order');
  t.true(same(got2, ref2), 'second order');
  const profile = await tf.profile(() => first(x));
  t.true(profile.kernels.some((k) => k.name === 'ConvlabRelu6Grad'), 'the one-pass kernel ran');
  t.false(profile.kernels.some((k) => k.name === 'LessEqual'), 'the four-pass gradient did not run');
  for (const v of [x, dy, w, ref1, ref2, got1, got2]) v.dispose();
});

nativeTest('the one-pass Relu gradient is bit-identical to tfjs (0, -0, NaN, Inf; second order); frozenConv2d uses it', async (t) => {
  const special = [0, -0, 1e-30, -1e-30, NaN, Infinity, -Infinity, -1, 3, 0];
  const x = tf.concat([tf.tensor1d(special), tf.reshape(rand([5, 8, 3], -2, 2), [-1])]);
  const dy = tf.concat([tf.tensor1d([NaN, Infinity, -3, -Infinity, 2, 1, NaN, Infinity, -2, -Infinity]), tf.reshape(rand([5, 8, 3]), [-1])]);
  const first = (v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.mul(tf.relu(u), dy))(v);
  const second = (w: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.grad((v: tf.Tensor) => tf.mul(tf.relu(v), u))(x), dy)))(w);
  const w = rand([x.size]);
  // frozenConv2d's relu gradient takes its mask from the output.
  const cx = rand([1, 6, 7, 4]);
  const filter = rand([3, 3, 4, 5]);
  const bias = rand([5]);
  const cdy = rand([1, 6, 7, 5]);
  const frozen = () => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(frozenConv2d(u as tf.Tensor4D, filter as tf.Tensor4D, bias as tf.Tensor1D, { activation: 'relu' }), cdy)))(cx);
  uninstallNativeKernels();
  const ref1 = first(x), ref2 = second(w), ref3 = frozen();
  await installNativeKernels();
  const got1 = first(x), got2 = second(w);
  t.true(same(got1, ref1), 'first order');
  t.true(same(got2, ref2), 'second order');
  const profile = await tf.profile(() => first(x));
  t.true(profile.kernels.some((k) => k.name === 'ConvlabReluGrad'), 'the one-pass kernel ran');
  t.false(profile.kernels.some((k) => k.name === 'Step'), 'the two-pass gradient did not run');
  const frozenProfile = await tf.profile(() => frozen());
  t.true(frozenProfile.kernels.some((k) => k.name === 'ConvlabReluGrad'), 'frozenConv2d took the one-pass kernel');
  const got3 = frozen();
  // The convolutions themselves are oneDNN's here: equal to rounding, not bit for bit.
  const err = tf.max(tf.abs(tf.sub(got3, ref3))).dataSync()[0] / tf.max(tf.abs(ref3)).dataSync()[0];
  t.true(err < 1e-5, `frozenConv2d gradient relative error ${err}`);
  for (const v of [x, dy, w, ref1, ref2, ref3, got1, got2, got3, cx, filter, bias, cdy]) v.dispose();
});

nativeTest('Max and ArgMax over contiguous axes match the cpu kernels (ties, NaN, -0, int32, keepDims)', async (t) => {
  await installNativeKernels();
  const shape = [3, 4, 5, 6];
  // Rounded values make ties common; a few NaN and signed zeros.
  const base = tf.round(rand(shape, -3, 3));
  const withNaN = tf.where(tf.less(rand(shape), -0.9), tf.fill(shape, NaN), base);
  const zeros = tf.mul(tf.sign(rand(shape)), tf.zeros(shape));
  const ints = tf.cast(base, 'int32');
  const axesList: (number | number[])[] = [0, 1, 2, 3, -1, [1, 2], [0, 1], [2, 3], [0, 1, 2, 3], [1, 2, 3]];
  for (const [label, x] of [['ties', base], ['NaN', withNaN], ['signed zeros', zeros], ['int32', ints]] as const) {
    for (const axis of axesList) {
      for (const keepDims of [false, true]) {
        const [ref, got, native] = await both('Max', { x }, { reductionIndices: axis, keepDims });
        t.true(same(got, ref), `Max ${label} axis ${axis} keepDims ${keepDims}`);
        t.is(native, 1, `Max ${label} axis ${axis} took the fallback`);
        ref.dispose();
        got.dispose();
      }
      if (Array.isArray(axis)) continue;
      const [ref, got, native] = await both('ArgMax', { x }, { axis });
      t.true(same(got, ref), `ArgMax ${label} axis ${axis}`);
      t.is(native, 1);
      ref.dispose();
      got.dispose();
    }
  }
  // Axes with a gap go to the original kernel.
  const [ref, got, native] = await both('Max', { x: base }, { reductionIndices: [0, 2], keepDims: false });
  t.true(same(got, ref));
  t.is(native, 0);
  for (const v of [base, withNaN, zeros, ints, ref, got]) v.dispose();
});

nativeTest('MirrorPad matches the cpu kernel (reflect and symmetric, ranks 1-4, pads up to the limit, float32 / int32)', async (t) => {
  const cases: { shape: number[]; paddings: [number, number][] }[] = [
    { shape: [7], paddings: [[3, 2]] },
    { shape: [4, 5], paddings: [[0, 0], [2, 3]] },
    { shape: [4, 5], paddings: [[3, 1], [0, 0]] },
    { shape: [4, 5], paddings: [[1, 3], [4, 2]] },
    { shape: [2, 6, 5, 3], paddings: [[0, 0], [4, 4], [4, 3], [0, 0]] },
    { shape: [1, 9, 8, 16], paddings: [[0, 0], [1, 1], [1, 1], [0, 0]] },
    { shape: [2, 3, 4, 2], paddings: [[1, 0], [2, 2], [0, 3], [1, 1]] },
  ];
  for (const { shape, paddings } of cases) {
    for (const mode of ['reflect', 'symmetric'] as const) {
      const lim = mode === 'reflect' ? 1 : 0;
      const pads = paddings.map(([a, b], i) => [Math.min(a, shape[i] - lim), Math.min(b, shape[i] - lim)] as [number, number]);
      for (const dtype of ['float32', 'int32'] as const) {
        const x = dtype === 'float32' ? rand(shape) : tf.cast(tf.mul(rand(shape), 100), 'int32');
        const [ref, got, native] = await both('MirrorPad', { x }, { paddings: pads, mode });
        t.true(same(got, ref), `MirrorPad ${mode} ${dtype} ${shape} ${JSON.stringify(pads)}`);
        t.is(native, 1, `MirrorPad ${mode} ${shape} took the fallback`);
      }
    }
  }
});

nativeTest('ResizeNearestNeighbor matches the cpu kernel (2x, odd sizes, down, alignCorners, halfPixelCenters)', async (t) => {
  const shapes = [[1, 5, 7, 3], [2, 4, 4, 16], [1, 9, 6, 1]];
  const sizes: [number, number][] = [[10, 14], [8, 8], [3, 5], [7, 11], [1, 1]];
  for (const shape of shapes) {
    for (const size of sizes) {
      for (const [alignCorners, halfPixelCenters] of [[false, false], [true, false], [false, true]]) {
        const images = rand(shape);
        const [ref, got, native] = await both('ResizeNearestNeighbor', { images }, { size, alignCorners, halfPixelCenters });
        t.true(same(got, ref), `ResizeNearestNeighbor ${shape} -> ${size} align ${alignCorners} half ${halfPixelCenters}`);
        t.is(native, 1);
      }
    }
  }
});

nativeTest('Reverse matches the cpu kernel (ranks 1-4, any set of axes, float32 / int32)', async (t) => {
  const shapes = [[7], [3, 5], [2, 4, 3], [2, 5, 6, 3], [1, 9, 8, 70], [1, 1, 4, 2]];
  for (const shape of shapes) {
    const axesSets: number[][] = [];
    for (let mask = 1; mask < 1 << shape.length; mask++) axesSets.push(shape.map((_, i) => i).filter((i) => mask & (1 << i)));
    for (const dims of axesSets) {
      for (const dtype of ['float32', 'int32'] as const) {
        const x = dtype === 'float32' ? rand(shape) : tf.cast(tf.mul(rand(shape), 100), 'int32');
        const [ref, got, native] = await both('Reverse', { x }, { dims });
        t.true(same(got, ref), `Reverse ${dtype} ${shape} dims ${dims}`);
        t.is(native, 1);
      }
    }
  }
});
