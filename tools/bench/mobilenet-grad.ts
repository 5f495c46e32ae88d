/**
 * MobileNetV2 input gradient at 224 px (saliency: the gradient of one channel's summed activation at
 * block_13_expand_relu w.r.t. the preprocessed image), the core of deconvnet attribution maps and of
 * MobileNetV2 style transfer. With --style it times one style-transfer iteration instead: Gram style
 * losses at Conv1_relu and block_1/3/6/13_expand_relu, content loss at block_6_expand_relu, 256 px.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/mobilenet-grad.ts --backend native|wasm|cpu
 *     [--iters 5] [--style] [--profile] [--original Slice,LessEqual,...]
 *
 * --profile prints the kernels by total time (tf.profile) for one iteration. --original (native
 * backend) puts tfjs's own cpu kernels back for the named kernels, to measure what a native one gains.
 * FLOPs: forward to the layer plus the backward data pass, roughly 2x the forward FLOPs up to it
 * (an estimate: about 0.45 GFLOP forward to block_13_expand_relu at 224 px, of the published 0.6 for the
 * whole network), so 0.9 GFLOP counted; 1.2 for the style iteration at 256 px.
 */
import { parseArgs } from 'node:util';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { benchFlags, kernelTotals, peakRssMB, report, startEngine, tf, timeIterations } from './index-util.js';

const STYLE_LAYERS = ['Conv1_relu', 'block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu'];
const CONTENT_LAYER = 'block_6_expand_relu';

function gram(a: Tensor): Tensor {
  const [, h, w, c] = a.shape;
  const m = tf.reshape(a, [h * w, c]);
  return tf.div(tf.matMul(m, m, true, false), h * w);
}

async function main() {
  const { values } = parseArgs({
    options: { style: { type: 'boolean', default: false }, profile: { type: 'boolean', default: false }, original: { type: 'string' } },
    strict: false,
  });
  const style = Boolean(values.style);
  const flags = benchFlags({ iters: 5, warmup: 1, size: style ? 256 : 224 });
  const engine = await startEngine(flags.backend);
  const original = typeof values.original === 'string' ? values.original.split(',') : [];
  if (original.length > 0) {
    if (engine.backend !== 'native') throw new Error('--original needs --backend native');
    (await import('@convlab/native')).uninstallNativeKernels(original);
  }
  const { loadModel } = await import('@convlab/models');
  const net = await loadModel('mobilenet_v2');
  const size = flags.size;
  const x = tf.randomUniform([1, size, size, 3], -1, 1, 'float32', 1) as Tensor4D;
  const layer = 'block_13_expand_relu';
  let loss: (img: Tensor4D) => Tensor;
  const keep: Tensor[] = [];
  if (style) {
    const target = tf.tidy(() => {
      const outs = net.forward(tf.randomUniform([1, size, size, 3], -1, 1, 'float32', 2) as Tensor4D, { outputs: STYLE_LAYERS });
      return STYLE_LAYERS.map((l) => gram(outs[l]));
    });
    const content = tf.tidy(() => net.forward(x, { outputs: [CONTENT_LAYER] })[CONTENT_LAYER]);
    keep.push(...target, content);
    loss = (img) => {
      const outs = net.forward(img, { outputs: STYLE_LAYERS });
      let total = tf.sum(tf.squaredDifference(outs[CONTENT_LAYER], content));
      STYLE_LAYERS.forEach((l, i) => {
        total = tf.add(total, tf.mul(tf.sum(tf.squaredDifference(gram(outs[l]), target[i])), 1e3));
      });
      return total;
    };
  } else {
    loss = (img) => {
      const a = net.forward(img, { outputs: [layer] })[layer];
      return tf.sum(tf.slice(a, [0, 0, 0, 7], [-1, -1, -1, 1]));
    };
  }
  const gradFn = tf.grad((img: Tensor) => loss(img as Tensor4D));
  const run = async () => {
    const g = tf.tidy(() => gradFn(x));
    await g.data();
    g.dispose();
  };
  if (values.profile) {
    await run();
    const info = await tf.profile(run);
    const rows = kernelTotals(info.kernels);
    const total = rows.reduce((s, [, e]) => s + e.ms, 0);
    console.log(`${engine.backend}: ${total.toFixed(0)} ms in ${info.kernels.length} kernels`);
    for (const [name, e] of rows.slice(0, 25)) console.log(`${name.padEnd(36)} ${e.ms.toFixed(1).padStart(9)} ms  x${e.calls}`);
    const slow = [...info.kernels].sort((a, b) => Number(b.kernelTimeMs) - Number(a.kernelTimeMs)).slice(0, 10);
    for (const k of slow) console.log(`  ${k.name} ${Number(k.kernelTimeMs).toFixed(1)} ms in ${JSON.stringify(k.inputShapes)} out ${JSON.stringify(k.outputShapes)}`);
  }
  const sec = await timeIterations(run, flags.iters, flags.warmup);
  report({
    bench: style ? 'mobilenet_v2 style' : 'mobilenet_v2 input gradient', backend: engine.backend,
    config: `${size} px`, secondsPerIter: sec, gflopPerIter: style ? 1.2 : 0.9,
    peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail,
    note: (style ? `style ${STYLE_LAYERS.length} layers + content ${CONTENT_LAYER}` : `d ${layer}[7] / d image`)
      + (original.length ? `; tfjs kernels for ${original.join(',')}` : ''),
  });
  keep.forEach((t) => t.dispose());
  net.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
