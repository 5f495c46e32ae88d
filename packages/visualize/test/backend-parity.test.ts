/**
 * Backend parity end to end: deconvnet projections and guided backprop give the same maps on native,
 * wasm and cpu: Pearson correlation over all pixel values >= 0.99 against native (wasm against cpu
 * when the oneDNN addon is not built), and relative L2 error ||a - b|| / ||b|| <= 1e-4 over the whole
 * map and over its outer 2-pixel border. The correlation alone would miss some kernel bugs: with tfjs's
 * own cpu AvgPoolGrad, the InceptionV3 map below correlates at r = 0.99995 with native but is 1.2% off
 * (3% in the border; wasm's own pool gradients: r = 0.50); with @convlab/native's parity kernels the
 * maps agree to about 1e-6. InceptionV3 exercises the kernels whose tfjs versions were wrong
 * (max-pool switches, 'same' average pools in the Inception blocks: see @convlab/native's
 * parity-kernels.ts); MobileNetV2 the depthwise convs, ReLU6 and batch norm.
 *
 * Each backend is brought up with initEngine in turn (the engine's loaders install the parity kernels);
 * the model is loaded once and its weights move to whichever backend reads them. The unit and position
 * are fixed on the first backend, so every backend projects the same activation.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { initEngine, loadImage, type RgbImage } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import { createMethod } from '../src/methods/index.js';
import { fitImage } from '../src/images.js';

type Backend = 'native' | 'wasm' | 'cpu';
const MIN_CORRELATION = 0.99;
const MAX_REL_L2 = 1e-4;

let nativeReason: string | undefined;
try {
  await initEngine({ backend: 'native', log: false });
} catch (err) {
  nativeReason = (err as Error).message;
}
const BACKENDS: Backend[] = nativeReason ? ['wasm', 'cpu'] : ['native', 'wasm', 'cpu'];

function checkNative(t: ExecutionContext): void {
  if (!nativeReason) return;
  if (process.env.CONVLAB_REQUIRE_NATIVE === '1') t.fail(`CONVLAB_REQUIRE_NATIVE=1 but ${nativeReason}`);
  else t.log(`native skipped (${nativeReason}): comparing wasm with cpu`);
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** ||a - b|| / ||b|| over the values of [h, w, 3] maps, all of them or those of the outer 2-pixel border. */
function relL2(a: Float32Array, b: Float32Array, size: number, borderOnly = false): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    const p = Math.floor(i / 3), y = Math.floor(p / size), x = p % size;
    if (borderOnly && !(y < 2 || x < 2 || y >= size - 2 || x >= size - 2)) continue;
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

async function sample(name: string, size: number): Promise<RgbImage> {
  return fitImage(await loadImage(join(import.meta.dirname, '../../../assets/content', name)), size, size);
}

/** deconvnet and guided maps of one unit on every backend; asserts they agree. */
async function compareBackends(t: ExecutionContext, net: ConvNet, image: RgbImage, layer: string): Promise<void> {
  checkNative(t);
  await initEngine({ backend: BACKENDS[0], log: false });
  const first = await createMethod('deconvnet', net).attribute(image, { layer, unit: 'strongest' });
  const target = { layer: first.target.layer, unit: first.target.index, position: first.target.position };
  const maps: Record<string, Partial<Record<Backend, Float32Array>>> = { deconvnet: {}, guided: {} };
  for (const backend of BACKENDS) {
    await initEngine({ backend, log: false });
    for (const method of ['deconvnet', 'guided'] as const) {
      maps[method][backend] = (await createMethod(method, net).attribute(image, target)).pixels!;
    }
  }
  const lines: string[] = [];
  for (const method of ['deconvnet', 'guided'] as const) {
    const m = maps[method];
    t.true(m[BACKENDS[0]]!.some((v) => v !== 0), `${method} map of ${target.layer}:${target.unit} is not empty`);
    const pairs: [Backend, Backend][] = nativeReason ? [['wasm', 'cpu']] : [['wasm', 'native'], ['cpu', 'native'], ['wasm', 'cpu']];
    for (const [a, b] of pairs) {
      const r = pearson(m[a]!, m[b]!);
      const e = relL2(m[a]!, m[b]!, image.width), eb = relL2(m[a]!, m[b]!, image.width, true);
      const what = `${method} ${net.name} ${target.layer}:${target.unit}@${target.position} ${a}-vs-${b}`;
      lines.push(`${what}: r=${r.toFixed(6)}, relL2 ${e.toExponential(2)}, border relL2 ${eb.toExponential(2)}`);
      t.true(r >= MIN_CORRELATION, `${what}: correlation ${r}`);
      t.true(e <= MAX_REL_L2 && eb <= MAX_REL_L2, `${what}: relative L2 error ${e}, border ${eb}`);
    }
  }
  t.log(lines.join('\n'));
}

test.serial('inception_v3 at 139 px: deconvnet and guided backprop through max-pool switches and same-padded avg pools agree across backends', async (t) => {
  await initEngine({ backend: BACKENDS[0], log: false });
  const net = await loadModel('inception_v3', { includeHead: false });
  try {
    await compareBackends(t, net, await sample('eagle.jpg', 139), 'mixed2');
  } finally {
    net.dispose();
  }
});

test.serial('mobilenet_v2 at 128 px: deconvnet and guided backprop through depthwise convs, ReLU6 and batch norm agree across backends', async (t) => {
  await initEngine({ backend: BACKENDS[0], log: false });
  const net = await loadModel('mobilenet_v2');
  try {
    await compareBackends(t, net, await sample('dog.jpg', 128), 'block_13_expand_relu');
  } finally {
    net.dispose();
  }
});
