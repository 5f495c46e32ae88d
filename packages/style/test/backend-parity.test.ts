/**
 * Backend parity end to end: the gradient of the default style-transfer objective (Gram style loss,
 * variance-normalised content loss, total variation, the backbone's default layers and weights, avg
 * pooling, content init) is the same on native, wasm and cpu: Pearson correlation over all pixel
 * values >= 0.99 against native (wasm against cpu when the oneDNN addon is not built), and relative L2
 * error ||a - b|| / ||b|| <= 1e-4, over the whole image and over its outer 2-pixel border on its own.
 * The correlation alone misses what this guards against: with tfjs's own 'same' AvgPoolGrad (cpu and
 * wasm), the InceptionV3 gradient below still correlates at r = 0.9948 with native but is 18% off,
 * border and interior; with wasm's own float32 Sum (the Gram normalisers) it was 2.4e-4 off. With
 * @convlab/native's parity kernels every pair agrees to about 2e-6.
 *
 * InceptionV3 (the default backbone: 'same' average pools in every Inception block) at 139 px and
 * MobileNetV2 at 128 px. The objective is the library's own (gatysTargets + gatysObjective, Gram loss);
 * the style targets are computed on each backend, as a run on that backend would.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { imageToTensor, initEngine, loadImage, resizeImage, tf, type RgbImage } from '@convlab/core';
import { loadFeatureNet } from '../src/stylize.js';
import { parseStylizeOptions, type Backbone, type ResolvedStylizeOptions } from '../src/options.js';
import { disposeTargets, gatysObjective, gatysTargets } from '../src/gatys.js';
import type { FeatureNet } from '../src/features.js';

type Backend = 'native' | 'wasm' | 'cpu';
const MIN_CORRELATION = 0.99;
const MAX_REL_L2 = 1e-4;
const ASSETS = join(import.meta.dirname, '../../../assets');

let nativeReason: string | undefined;
try {
  await initEngine({ backend: 'native', log: false });
} catch (err) {
  nativeReason = (err as Error).message;
}
const BACKENDS: Backend[] = nativeReason ? ['wasm', 'cpu'] : ['native', 'wasm', 'cpu'];

function pearson(a: Float32Array, b: Float32Array, keep: (i: number) => boolean = () => true): number {
  let n = 0, ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    ma += a[i];
    mb += b[i];
    n++;
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** ||a - b|| / ||b|| over the values kept. */
function relL2(a: Float32Array, b: Float32Array, keep: (i: number) => boolean = () => true): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/** The default objective's gradient w.r.t. the (preprocessed) content image, on the active backend (targets too). */
function objectiveGradient(net: FeatureNet, o: ResolvedStylizeOptions, content: RgbImage, style: RgbImage): Float32Array {
  const layers = { content: o.contentLayers.map((l) => net.resolveLayer(l)), style: o.styleLayers.map((l) => net.resolveLayer(l)) };
  const toX = (img: RgbImage) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(img), 0)));
  const x = toX(content);
  const sx = toX(style);
  const targets = gatysTargets(net, o, { content: x, styles: [sx] }, layers);
  try {
    const { grad } = gatysObjective(net, o, targets)(x);
    const values = grad.dataSync() as Float32Array;
    grad.dispose();
    return values;
  } finally {
    tf.dispose([x, sx]);
    disposeTargets(targets);
  }
}

async function compareBackends(t: ExecutionContext, backbone: Backbone, size: number): Promise<void> {
  if (nativeReason) {
    if (process.env.CONVLAB_REQUIRE_NATIVE === '1') t.fail(`CONVLAB_REQUIRE_NATIVE=1 but ${nativeReason}`);
    else t.log(`native skipped (${nativeReason}): comparing wasm with cpu`);
  }
  const o = parseStylizeOptions({ content: join(ASSETS, 'content/tubingen.jpg'), style: [join(ASSETS, 'style/starry_night.jpg')], backbone, size });
  const contentFull = await loadImage(o.content as string);
  const aspect = contentFull.width / contentFull.height;
  const [h, w] = aspect >= 1 ? [Math.round(size / aspect), size] : [size, Math.round(size * aspect)];
  const content = await resizeImage(contentFull, { width: w, height: h });
  await initEngine({ backend: BACKENDS[0], log: false });
  const net = await loadFeatureNet(o.backbone, o.weights, o.seed);
  const style = await resizeImage(await loadImage(o.style[0] as string), { maxSide: Math.max(net.minInputSize, Math.round(size * o.styleScale)) });
  const grads: Partial<Record<Backend, Float32Array>> = {};
  try {
    for (const backend of BACKENDS) {
      await initEngine({ backend, log: false });
      grads[backend] = objectiveGradient(net, o, content, style);
    }
  } finally {
    net.dispose();
  }
  const border = (i: number) => {
    const p = Math.floor(i / 3), y = Math.floor(p / w), x = p % w;
    return y < 2 || x < 2 || y >= h - 2 || x >= w - 2;
  };
  const lines: string[] = [];
  const pairs: [Backend, Backend][] = nativeReason ? [['wasm', 'cpu']] : [['wasm', 'native'], ['cpu', 'native'], ['wasm', 'cpu']];
  t.true(grads[BACKENDS[0]]!.some((v) => v !== 0), 'the gradient is not zero');
  for (const [a, b] of pairs) {
    const r = pearson(grads[a]!, grads[b]!);
    const rb = pearson(grads[a]!, grads[b]!, border);
    const e = relL2(grads[a]!, grads[b]!), eb = relL2(grads[a]!, grads[b]!, border);
    const what = `${backbone} ${w}x${h} ${a}-vs-${b}`;
    lines.push(`${what}: r=${r.toFixed(6)}, border r=${rb.toFixed(6)}, relL2 ${e.toExponential(2)}, border relL2 ${eb.toExponential(2)}`);
    t.true(r >= MIN_CORRELATION && rb >= MIN_CORRELATION, `${what}: correlation ${r}, border ${rb}`);
    t.true(e <= MAX_REL_L2 && eb <= MAX_REL_L2, `${what}: relative L2 error ${e}, border ${eb}`);
  }
  t.log(lines.join('\n'));
}

test.serial('inception_v3 (default backbone) at 139 px: the default objective gradient agrees across backends, borders included', async (t) => {
  await compareBackends(t, 'inception_v3', 139);
});

test.serial('mobilenet_v2 at 128 px: the default objective gradient agrees across backends, borders included', async (t) => {
  await compareBackends(t, 'mobilenet_v2', 128);
});
