import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, engineInfo, initEngine, setBackendLoader } from '../src/engine.js';
import { ConvlabError } from '../src/errors.js';

// One process for the whole file and initEngine remembers its choice, so the tests run in order.

test.serial('auto says which backend it chose and why the faster ones were skipped', async (t) => {
  t.deepEqual([...BACKEND_ORDER], ['tensorflow', 'native', 'wasm', 'cpu']);
  setBackendLoader('tensorflow', async () => {
    throw new Error("Cannot find package '@tensorflow/tfjs-node' imported from engine.js");
  });
  setBackendLoader('native', async () => {
    throw new Error('oneDNN kernels not built\nsecond line of detail');
  });
  const listenersBefore = process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length;
  const info = await initEngine({ backend: 'auto', log: false });
  t.is(info.backend, 'wasm');
  t.is(info.tfBackend, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.deepEqual(info.skipped, [
    { backend: 'tensorflow', reason: 'not installed' },
    { backend: 'native', reason: 'oneDNN kernels not built' },
  ]);
  t.is(info.summary, `convlab: backend wasm (${info.detail}); skipped tensorflow (not installed), native (oneDNN kernels not built)`);
  t.false(info.summary.includes('\n'));
  t.is(engineInfo(), info);
  // The wasm glue's process-wide rethrowing error handlers were taken back out.
  t.is(process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length, listenersBefore);
  // wasm really computes.
  t.deepEqual(Array.from(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()), [11]);
});

test.serial('asking again is cheap and returns the same engine', async (t) => {
  const a = await initEngine({ log: false, backend: 'auto' });
  const b = await initEngine({ log: false, backend: 'wasm' });
  t.is(a, b);
});

test.serial('an explicit backend switches, and cpu always works', async (t) => {
  const info = await initEngine({ backend: 'cpu', log: false });
  t.is(info.backend, 'cpu');
  t.is(tf.getBackend(), 'cpu');
  t.deepEqual(info.skipped, []);
  t.regex(info.summary, /^convlab: backend cpu \(/);
});

test.serial('CONVLAB_BACKEND is read (trimmed, any case) when no backend is passed', async (t) => {
  const saved = process.env.CONVLAB_BACKEND;
  try {
    process.env.CONVLAB_BACKEND = ' WASM ';
    t.is((await initEngine({ log: false })).backend, 'wasm');
    process.env.CONVLAB_BACKEND = 'gpu';
    const err = await t.throwsAsync(initEngine({ log: false }), { instanceOf: ConvlabError });
    t.is(err!.message, 'unknown backend "gpu" from CONVLAB_BACKEND');
    t.is((err as ConvlabError).hint, 'use one of: auto, tensorflow, native, wasm, cpu');
    // An explicit option wins over the environment.
    t.is((await initEngine({ backend: 'cpu', log: false })).backend, 'cpu');
  } finally {
    if (saved === undefined) delete process.env.CONVLAB_BACKEND;
    else process.env.CONVLAB_BACKEND = saved;
  }
});

test.serial('a bad or unavailable backend is a clear error', async (t) => {
  const bad = await t.throwsAsync(initEngine({ backend: 'webgl', log: false }), { instanceOf: ConvlabError });
  t.is(bad!.message, 'unknown backend "webgl" from --backend');
  const missing = await t.throwsAsync(initEngine({ backend: 'tensorflow', log: false }), { instanceOf: ConvlabError });
  t.is(missing!.message, 'backend "tensorflow" is not available: not installed');
  t.regex((missing as ConvlabError).hint!, /--backend or CONVLAB_BACKEND/);
  t.is(engineInfo()?.backend, 'cpu', 'a failed request leaves the previous engine in place');
});

test.serial('the summary line is printed to stderr unless log is false', async (t) => {
  const lines: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await initEngine({ backend: 'wasm' });
  } finally {
    process.stderr.write = original;
  }
  t.deepEqual(lines, [`${engineInfo()!.summary}\n`]);
});

test.serial("cpu and wasm come up with @convlab/native's parity kernels: the 'same' average-pool gradient divides by the valid inputs", async (t) => {
  for (const backend of ['cpu', 'wasm'] as const) {
    const info = await initEngine({ backend, log: false });
    t.regex(info.detail, /parity kernels/, `${backend}: ${info.detail}`);
    const attrs = { filterSize: 3, strides: 1, pad: 'same' };
    const g = tf.engine().runKernel('AvgPoolGrad', { dy: tf.ones([1, 3, 3, 1]), input: tf.ones([1, 3, 3, 1]) }, attrs) as tf.Tensor;
    // The corner input is in 4 windows with 4, 6, 6 and 9 valid inputs (tfjs's own kernels give 4/9).
    t.true(Math.abs(g.dataSync()[0] - (1 / 4 + 1 / 6 + 1 / 6 + 1 / 9)) < 1e-6, `${backend}: corner gradient ${g.dataSync()[0]}`);
    // A window whose maximum is negative still routes its gradient to it (tfjs-backend-wasm's own kernel did not).
    const x = tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1]);
    const m = tf.engine().runKernel('MaxPoolGrad', { dy: tf.ones([1, 1, 1, 1]), input: x, output: tf.maxPool(x, 2, 2, 'valid') }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
    t.deepEqual(Array.from(m.dataSync()), [0, 1, 0, 0], `${backend}: max-pool gradient`);
  }
});
