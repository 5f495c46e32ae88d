/**
 * End-to-end checks of `stylize` on the offline mobilenet_v2 trunk at 128 px (a few seconds per run).
 */
import test from 'ava';
import { imageToTensor, initEngine, loadImage, resizeImage, tf, validateRunRecord, type RgbImage } from '@convlab/core';
import { loadFeatureNet, stylize } from '../src/stylize.js';
import { gramMatrix } from '../src/gatys.js';
import { rgbToPlanes } from '../src/color-preservation.js';
import type { StylizeOptions } from '../src/options.js';
import type { FeatureNet } from '../src/features.js';
import { readStyleRun, STYLE_TOOL } from '../src/record.js';

const CONTENT = '../../assets/content/tubingen.jpg';
const STYLE = '../../assets/style/starry_night.jpg';
const STYLE2 = '../../assets/style/great_wave.jpg';

// wasm unless CONVLAB_BACKEND says otherwise: deterministic, and fast on a loaded 2-core machine.
const engine = await initEngine({ backend: process.env.CONVLAB_BACKEND ?? 'wasm', log: false });
const net = await loadFeatureNet('mobilenet_v2', 'default', 0);
const base: StylizeOptions = { content: CONTENT, style: [STYLE], backbone: 'mobilenet_v2', size: 128, iterations: 30, seed: 3, backend: engine.backend as StylizeOptions['backend'] };
const run = (o: Partial<StylizeOptions> = {}, n: FeatureNet = net) => stylize({ ...base, ...o }, undefined, undefined, { net: n });

const STYLE_LAYERS = ['Conv1_relu', 'block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu'];

async function styleDistance(image: RgbImage, style: RgbImage): Promise<number> {
  return tf.tidy(() => {
    const f = (img: RgbImage) => net.forward(net.preprocess(tf.expandDims(imageToTensor(img), 0)), STYLE_LAYERS, 'avg');
    const a = f(image);
    const b = f(style);
    let d = 0;
    for (const l of STYLE_LAYERS) {
      const gb = gramMatrix(b[l], { normalize: 'hw' });
      d += tf.div(tf.sum(tf.squaredDifference(gramMatrix(a[l], { normalize: 'hw' }), gb)), tf.sum(tf.square(gb))).dataSync()[0];
    }
    return d / STYLE_LAYERS.length;
  });
}

function contentDistance(image: RgbImage, content: RgbImage): number {
  return tf.tidy(() => {
    const f = (img: RgbImage) => net.forward(net.preprocess(tf.expandDims(imageToTensor(img), 0)), ['block_6_expand_relu'], 'avg').block_6_expand_relu;
    const a = f(image);
    const b = f(content);
    return tf.div(tf.sum(tf.squaredDifference(a, b)), tf.sum(tf.square(b))).dataSync()[0];
  });
}

test.serial('L-BFGS: loss falls >= 50% in 30 iterations, Gram distance falls, content distance bounded', async (t) => {
  // The optimiser on one fixed objective (no jitter: with it L-BFGS restarts every --jitter-every iterations,
  // checked in the next test).
  const r = await run({ jitter: 0 });
  const losses = readStyleRun(r.record).stageLosses[0];
  t.is(losses.length, 30);
  const first = losses[0].total;
  const last = losses[losses.length - 1].total;
  t.true(last <= 0.5 * first, `loss ${first} -> ${last}`);
  t.is(r.image.width, 128);
  const style = await resizeImage(await loadImage(STYLE), { maxSide: 128 });
  const before = await styleDistance(r.content, style);
  const after = await styleDistance(r.image, style);
  t.true(after < 0.5 * before, `Gram distance ${before} -> ${after}`);
  const cd = contentDistance(r.image, r.content);
  t.true(cd < 1, `content distance ${cd}`);
  // The run record is @convlab/core's format, written by stylize itself.
  const json = r.record.toJSON();
  t.is(json.tool, STYLE_TOOL);
  t.deepEqual(json.backend, { name: engine.backend, tfBackend: engine.tfBackend, detail: engine.detail });
  t.like(json.model, { name: 'mobilenet_v2' });
  t.like(json.parameters, { backbone: 'mobilenet_v2', size: 128, iterations: 30, seed: 3, lr: 1, jitter: 0, contentLayers: ['block_6_expand_relu'] });
  t.is(json.seed, 3);
  t.is(json.steps.length, 30);
  t.like(json.steps[0], { step: 1, stage: 1 });
  t.like(json.extra, { iterationsDone: 30, aborted: false, output: { width: 128, height: r.image.height } });
  t.true((json.extra.memoryEstimateBytes as number) > 0);
  t.notThrows(() => validateRunRecord(JSON.parse(JSON.stringify(r.record))));
});

test.serial('L-BFGS with jitter: one shift per block of --jitter-every iterations, every iteration reported once, loss falls', async (t) => {
  const steps: number[] = [];
  const r = await stylize({ ...base, jitter: 1, jitterEvery: 4, iterations: 10 }, (p) => {
    if (p.done > 0) steps.push(p.iteration);
  }, undefined, { net });
  t.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const losses = readStyleRun(r.record).stageLosses[0];
  t.is(losses.length, 10);
  t.true(losses[9].total < 0.7 * losses[0].total, `loss ${losses[0].total} -> ${losses[9].total}`);
  t.like(r.record.toJSON().parameters, { jitter: 1, jitterEvery: 4 });
  // The shifts change the objective: not the unjittered run's image, and the same image again for the same seed.
  const plain = await run({ iterations: 10 });
  t.notDeepEqual(Buffer.from(r.image.data), Buffer.from(plain.image.data));
  const again = await run({ jitter: 1, jitterEvery: 4, iterations: 10 });
  t.deepEqual(Buffer.from(again.image.data), Buffer.from(r.image.data));
});

test.serial('same seed gives the same image bit for bit (noise init, Adam)', async (t) => {
  const o = { init: 'noise' as const, optimizer: 'adam' as const, iterations: 8, lr: 0.05 };
  const a = await run(o);
  const b = await run(o);
  t.deepEqual(Buffer.from(a.image.data), Buffer.from(b.image.data));
  const c = await run({ ...o, seed: 4 });
  t.notDeepEqual(Buffer.from(a.image.data), Buffer.from(c.image.data));
  // Seed 0, the default, is a seed too (tfjs alone would read 0 as "unseeded").
  const [z1, z2] = [await run({ ...o, seed: 0 }), await run({ ...o, seed: 0 })];
  t.deepEqual(Buffer.from(z1.image.data), Buffer.from(z2.image.data), 'seed 0 is reproducible');
});

test.serial('multi-style blend 1,0 equals the single-style run', async (t) => {
  const single = await run({ iterations: 10 });
  const blend = await run({ iterations: 10, style: [STYLE, STYLE2], styleBlend: [1, 0] });
  t.deepEqual(Buffer.from(blend.image.data), Buffer.from(single.image.data));
});

test.serial('luminance-only transfer keeps the content chroma (YUV U, V)', async (t) => {
  const r = await run({ iterations: 20, preserveColor: 'luminance', colorSpace: 'yuv' });
  const [, u1, v1] = rgbToPlanes(r.image, 'yuv');
  const [, u0, v0] = rgbToPlanes(r.content, 'yuv');
  let err = 0;
  for (let i = 0; i < u0.length; i++) err += Math.abs(u1[i] - u0[i]) + Math.abs(v1[i] - v0[i]);
  err /= 2 * u0.length;
  t.true(err < 0.01, `mean |dUV| ${err}`);
  // And the luminance did change (the style was transferred).
  const [y1] = rgbToPlanes(r.image, 'yuv');
  const [y0] = rgbToPlanes(r.content, 'yuv');
  let dy = 0;
  for (let i = 0; i < y0.length; i++) dy += Math.abs(y1[i] - y0[i]);
  t.true(dy / y0.length > 0.005, `mean |dY| ${dy / y0.length}`);
});

test.serial('sliced-Wasserstein loss and multi-scale stages run and reduce the loss', async (t) => {
  const r = await run({ iterations: 10, stageIterations: 5, styleLoss: 'sw', multiscale: [64, 128] });
  const run2 = readStyleRun(r.record);
  t.deepEqual(run2.stages.map((s) => [s.size, s.iterations]), [[64, 5], [128, 10]]);
  const l = run2.stageLosses[1];
  t.true(l[l.length - 1].total < l[0].total);
});

test.serial('bad inputs: unknown layer lists the valid ones; oversized run names the memory and a size', async (t) => {
  const e1 = await t.throwsAsync(run({ styleLayers: ['conv9_9'] }));
  t.regex(e1!.message, /conv9_9/);
  t.regex(`${e1!.message} ${(e1 as { hint?: string }).hint ?? ''}`, /block_1_expand_relu/);
  const e2 = await t.throwsAsync(run({ size: 4096, maxMemoryGb: 1 }));
  t.regex(e2!.message, /needs about [\d.]+ GB/);
  t.regex((e2 as { hint?: string }).hint ?? '', /--size \d+/);
  const e3 = await t.throwsAsync(run({ style: [STYLE, STYLE2], styleBlend: [0, 0] }));
  t.regex(e3!.message, /sum to 0/);
});

test.serial('Ctrl-C (abort) returns the current image and an aborted record', async (t) => {
  const controller = new AbortController();
  const r = await stylize({ ...base, iterations: 30 }, (p) => {
    if (p.done === 4) controller.abort();
  }, controller.signal, { net });
  t.true(r.aborted);
  t.is(readStyleRun(r.record).iterationsDone, 4);
  t.is(r.image.width, 128);
});

test.serial('aborted before it starts (Ctrl-C while loading): no iteration, the content image at the output size', async (t) => {
  const controller = new AbortController();
  controller.abort();
  const r = await stylize({ ...base, iterations: 30 }, undefined, controller.signal, { net });
  t.true(r.aborted);
  t.is(readStyleRun(r.record).iterationsDone, 0);
  t.is(r.image.width, 128);
});

test.serial('on wasm, a size whose tensors exceed the 4 GB wasm heap is refused with a size that fits', async (t) => {
  if (engine.backend !== 'wasm') {
    t.pass('wasm only');
    return;
  }
  const err = await t.throwsAsync(run({ size: 2048, multiscale: false, maxMemoryGb: 1000 }));
  t.regex(err!.message, /--size 2048 needs about [\d.]+ GB of tensors with mobilenet_v2, more than the wasm backend's 4\.3 GB heap/);
  t.regex((err as { hint?: string }).hint ?? '', /try --size \d+ or smaller, or use --backend native/);
});
