/**
 * The wasm work-around kernels against the original tfjs cpu kernels (the reference), and image
 * gradients on wasm against autodiff on cpu. These run without the oneDNN addon.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels, wasmKernelStats } from '../src/index.js';
import { TOLERANCE, rand, relErr, tf } from './helpers.js';

type Arrays = Record<string, { values: Float32Array; shape: number[] }>;

function snapshot(inputs: Record<string, tf.Tensor>): Arrays {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { values: v.dataSync() as Float32Array, shape: v.shape }]));
}

/** Run one kernel on a backend from plain arrays; returns its output as plain values. */
async function runOn(backend: string, name: string, inputs: Arrays, attrs: NamedAttrMap): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
    const out = tf.engine().runKernel(name, ins, attrs) as tf.Tensor;
    return { values: out.dataSync() as Float32Array, shape: out.shape };
  });
}

let installed = false;
async function setup() {
  await tf.setBackend('wasm');
  if (!installed) await installWasmKernels();
  installed = true;
}

async function compare(t: ExecutionContext, name: string, inputs: Record<string, tf.Tensor>, attrs: NamedAttrMap, label: string) {
  const arrays = snapshot(inputs);
  const ref = await runOn('cpu', name, arrays, attrs);
  const got = await runOn('wasm', name, arrays, attrs);
  await tf.setBackend('cpu');
  const err = relErr(tf.tensor(got.values, got.shape), tf.tensor(ref.values, ref.shape));
  t.true(err <= TOLERANCE, `${name} ${label}: relative error ${err}`);
}

const PADS: [string, NamedAttrMap['pad']][] = [['same', 'same'], ['valid', 'valid'], ['explicit', [[0, 0], [1, 2], [0, 1], [0, 0]]]];

test.serial('wasm Conv2DBackpropInput / Conv2DBackpropFilter match the cpu kernels', async (t) => {
  await setup();
  await tf.setBackend('cpu');
  for (const [x, f] of [[[2, 9, 11, 5], [3, 3, 5, 7]], [[1, 10, 8, 3], [1, 1, 3, 6]], [[1, 8, 9, 4], [5, 3, 4, 2]]]) {
    for (const [padName, pad] of PADS) {
      for (const strides of [1, 2]) {
        const info = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], strides, 1, pad as 'same');
        if (info.outShape.some((d) => d <= 0)) continue;
        const common = { strides, pad, dilations: 1, dataFormat: 'NHWC' };
        const label = `x${x} f${f} stride ${strides} ${padName}`;
        await tf.setBackend('cpu');
        await compare(t, 'Conv2DBackpropInput', { dy: rand(info.outShape), filter: rand(f) }, { ...common, inputShape: x }, label);
        await tf.setBackend('cpu');
        await compare(t, 'Conv2DBackpropFilter', { x: rand(x), dy: rand(info.outShape) }, { ...common, filterShape: f }, label);
      }
    }
  }
  const stats = wasmKernelStats();
  t.true(stats.Conv2DBackpropInput.native > 0 && stats.Conv2DBackpropInput.errors === 0, JSON.stringify(stats));
});

test.serial('wasm depthwise backprops match the cpu kernels (multipliers 1 and 2)', async (t) => {
  await setup();
  for (const [x, f] of [[[2, 9, 11, 4], [3, 3, 4, 1]], [[1, 8, 7, 3], [3, 3, 3, 2]], [[1, 7, 8, 2], [5, 3, 2, 1]]]) {
    for (const [padName, pad] of PADS) {
      for (const strides of [1, 2]) {
        const info = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], strides, 1, pad as 'same', undefined, true);
        if (info.outShape.some((d) => d <= 0)) continue;
        const common = { strides, pad, dilations: 1 };
        const label = `x${x} f${f} stride ${strides} ${padName}`;
        await tf.setBackend('cpu');
        await compare(t, 'DepthwiseConv2dNativeBackpropInput', { dy: rand(info.outShape), filter: rand(f) }, { ...common, inputShape: x }, label);
        await tf.setBackend('cpu');
        await compare(t, 'DepthwiseConv2dNativeBackpropFilter', { x: rand(x), dy: rand(info.outShape) }, { ...common, filterShape: f }, label);
      }
    }
  }
});

test.serial('wasm BatchMatMul with transposes matches the cpu kernel', async (t) => {
  await setup();
  for (const [sa, sb] of [[[3, 5, 7], [3, 7, 4]], [[1, 5, 7], [3, 7, 4]], [[64, 33], [33, 17]]]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const tr = (s: number[], on: boolean) => (on ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        await tf.setBackend('cpu');
        await compare(t, 'BatchMatMul', { a: rand(tr(sa, ta)), b: rand(tr(sb, tb)) }, { transposeA: ta, transposeB: tb }, `${sa} ${sb} ${ta} ${tb}`);
      }
    }
  }
});

test.serial('wasm UnsortedSegmentSum (embedding gradient) matches the cpu kernel', async (t) => {
  await setup();
  await tf.setBackend('cpu');
  const x = rand([50, 8]);
  const ids = Int32Array.from({ length: 50 }, (_, i) => (i * 7) % 13 - (i === 3 ? 20 : 0)); // one out-of-range id
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => (tf.engine().runKernel('UnsortedSegmentSum', { x: tf.tensor(x.dataSync(), x.shape), segmentIds: tf.tensor1d(ids, 'int32') }, { numSegments: 13 }) as tf.Tensor).dataSync());
  };
  const ref = await run('cpu');
  const got = await run('wasm');
  await tf.setBackend('cpu');
  t.true(relErr(tf.tensor(got), tf.tensor(ref)) <= TOLERANCE);
});

test.serial('image gradients on wasm (plain, strided, fused and depthwise convs) match autodiff on cpu', async (t) => {
  await setup();
  await tf.setBackend('cpu');
  const params = { w1: rand([3, 3, 3, 8]), b1: rand([8]), w2: rand([3, 3, 8, 2]), w3: rand([3, 3, 16, 6]), b3: rand([6]) };
  const x0 = rand([1, 19, 17, 3], 0, 1);
  const arrays = snapshot({ ...params, x: x0 });
  const gradOn = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const p = Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
      const f = (x: tf.Tensor) => {
        // tf.fused.conv2d with a linear activation: its custom gradient asks for Conv2DBackpropFilter too.
        let h = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: p.w1 as tf.Tensor4D, bias: p.b1, strides: 2, pad: 'same' });
        h = tf.relu(h);
        h = tf.depthwiseConv2d(h, p.w2 as tf.Tensor4D, 1, 'same');
        h = tf.relu6(h);
        h = tf.conv2d(h, p.w3 as tf.Tensor4D, 1, 'valid');
        const m = tf.reshape(h, [-1, 6]);
        return tf.sum(tf.square(tf.matMul(m, m, true, false)));
      };
      return tf.grad(f)(p.x).dataSync() as Float32Array;
    });
  };
  const ref = await gradOn('cpu');
  const got = await gradOn('wasm');
  await tf.setBackend('cpu');
  const err = relErr(tf.tensor(got), tf.tensor(ref));
  t.true(err <= TOLERANCE, `image gradient: relative error ${err}`);
});
