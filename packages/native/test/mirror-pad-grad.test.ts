/**
 * The MirrorPad gradient of grad-fixes.ts against its definition: d/dx sum(mirrorPad(x) * r) adds r at every
 * output position into the input position it copies (reflected margins included, which tfjs's own gradient
 * drops). Checked on the cpu backend (tfjs's kernels and, where built, the native ones) and on wasm.
 */
import test from 'ava';
import '@tensorflow/tfjs-backend-wasm';
import { installGradientFixes, installNativeKernels, nativeStatus, uninstallGradientFixes, uninstallNativeKernels } from '../src/index.js';
import { rand, tf } from './helpers.js';

/** The definition: every output index maps back to one input index. */
function reference(shape: number[], paddings: [number, number][], mode: 'reflect' | 'symmetric', r: Float32Array): Float32Array {
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const offset = mode === 'reflect' ? 0 : 1;
  const g = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((a, b) => a * b, 1));
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < r.length; o++) {
    let src = 0;
    for (let i = 0; i < shape.length; i++) {
      let c = Math.floor(o / outStrides[i]) % outShape[i];
      const [before] = paddings[i];
      if (c < before) c = 2 * before - c - offset;
      else if (c >= before + shape[i]) c = 2 * (before + shape[i] - 1) - c + offset;
      src += (c - before) * inStrides[i];
    }
    g[src] += r[o];
  }
  return g;
}

const CASES: { shape: number[]; paddings: [number, number][] }[] = [
  { shape: [6], paddings: [[3, 2]] },
  { shape: [1, 5, 7, 2], paddings: [[0, 0], [4, 3], [2, 4], [0, 0]] },
  { shape: [2, 4, 4, 3], paddings: [[0, 0], [1, 1], [1, 1], [0, 0]] },
];

test.serial('MirrorPad gradient folds the reflected margins back (reflect and symmetric; cpu, native, wasm)', async (t) => {
  installGradientFixes();
  const backends: string[] = ['cpu', 'wasm'];
  try {
    for (const backend of backends) {
      await tf.setBackend(backend);
      const variants = backend === 'cpu' && nativeStatus().available ? [false, true] : [false];
      for (const native of variants) {
        if (native) await installNativeKernels();
        for (const { shape, paddings } of CASES) {
          for (const mode of ['reflect', 'symmetric'] as const) {
            const x = rand(shape);
            const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
            const r = rand(outShape);
            const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mirrorPad(v, paddings, mode), r)))(x);
            const want = reference(shape, paddings, mode, r.dataSync() as Float32Array);
            const got = g.dataSync() as Float32Array;
            const err = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
            t.true(err < 1e-5, `${backend}${native ? ' (native kernels)' : ''} ${mode} ${shape} ${JSON.stringify(paddings)}: max error ${err}`);
            tf.dispose([x, r, g]);
          }
        }
        if (native) uninstallNativeKernels();
      }
    }
  } finally {
    await tf.setBackend('cpu');
  }
  // The definition on a 5-vector padded by 2 each side, and tfjs's own gradient, which drops the margins.
  const x = rand([5]);
  const grad = () => Array.from(tf.grad((v: tf.Tensor) => tf.sum(tf.mirrorPad(v, [[2, 2]], 'reflect')))(x).dataSync());
  t.deepEqual(grad(), [1, 2, 3, 2, 1]);
  uninstallGradientFixes();
  t.deepEqual(grad(), [1, 1, 1, 1, 1], "tfjs's own MirrorPad gradient (if this fails, tfjs fixed it and the fix can go)");
  installGradientFixes();
});
