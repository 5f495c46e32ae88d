/** Shared test helpers: native-test gating, seeded random inputs, and error measures. */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs-core's gradient functions (the core bundle alone has none), as @convlab/core does.
import '@tensorflow/tfjs-layers';
import { nativeStatus } from '../src/index.js';

export { tf };

const status = nativeStatus();
const required = process.env.CONVLAB_REQUIRE_NATIVE === '1';
export const nativeAvailable = status.available;

let announced = false;
/**
 * test.serial when the addon is built. Otherwise the test is skipped with the reason in its title
 * (and once on stderr), unless CONVLAB_REQUIRE_NATIVE=1, where it fails.
 */
type Body = (t: ExecutionContext) => void | Promise<void>;

export function nativeTest(title: string, fn: Body): void {
  if (status.available) return test.serial(title, fn);
  if (required) {
    return test.serial(title, (t) => {
      t.fail(`CONVLAB_REQUIRE_NATIVE=1 but the oneDNN addon is unavailable: ${status.reason}`);
    });
  }
  if (!announced) {
    announced = true;
    process.stderr.write(`@convlab/native: native kernel tests skipped: ${status.reason}\n`);
  }
  test.skip(`${title} [skipped: ${status.reason}]`, fn);
}

let seed = 1234;
/** Deterministic uniform values in [lo, hi). */
export function rand(shape: number[], lo = -1, hi = 1): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32', seed++);
}

/** Normwise relative error: max |a - b| / max |b| (elementwise ratios blow up near zero). */
export function relErr(a: tf.Tensor, b: tf.Tensor): number {
  if (!tf.util.arraysEqual(a.shape, b.shape)) return Infinity;
  const av = a.dataSync(), bv = b.dataSync();
  let diff = 0, scale = 0;
  for (let i = 0; i < av.length; i++) {
    const d = Number.isNaN(av[i]) && Number.isNaN(bv[i]) ? 0 : Math.abs(av[i] - bv[i]);
    if (!(d <= diff)) diff = d; // NaN-safe: a NaN difference makes the error NaN > tolerance
    if (!Number.isNaN(bv[i])) scale = Math.max(scale, Math.abs(bv[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / Math.max(scale, 1e-30);
}

export const TOLERANCE = 1e-4;
