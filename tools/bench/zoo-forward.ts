/**
 * The model zoo at native size: parameters, GFLOP per image, and the time of one forward pass to the
 * classifier (the graph executor's net.forward, what the pipelines use), with seeded random weights in
 * each architecture (the Keras ImageNet files cannot be downloaded here; the time does not depend on
 * the values). Also prints the layers a user would tap, and the FMA peak measured in the same run.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/zoo-forward.ts [--backends native,wasm] [--runs 3]
 *     [--models resnet50,...] [--json out/bench-zoo-forward.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initEngine, tf, type Tensor4D } from '@convlab/core';
import { getModelEntry, KERAS_APP_SPECS, loadKerasApp, loadModel, type ConvNet } from '@convlab/models';

const ALL = ['mobilenet_v2', 'inception_v3', 'resnet50', 'resnet101', 'resnet152', 'inception_resnet_v2', 'vgg16', 'vgg19'];
const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'native,wasm' },
    models: { type: 'string', default: ALL.join(',') },
    runs: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});

/** Multiply-adds of the convs and dense layers at an input size, from their kernels and output shapes. */
function gflop(net: ConvNet, size: [number, number]): number {
  let macs = 0;
  for (const layer of net.model.layers) {
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName));
    if (!kernel) continue;
    const k = kernel.shape as number[];
    if (k.length === 2) macs += k[0] * k[1];
    else {
      const out = net.outputShapeFor(layer.name, size);
      macs += out[0] * out[1] * (/depthwise/.test(kernel.originalName) ? k[0] * k[1] * k[2] * k[3] : k[0] * k[1] * k[2] * k[3]);
    }
  }
  return (2 * macs) / 1e9;
}

function peakGflops(): number {
  const n = 2048;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
    if (i) best = Math.min(best, (performance.now() - t0) / 1000);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / best / 1e9;
}

interface Row {
  model: string;
  backend: string;
  size: string;
  params: number;
  gflop: number;
  forwardMs: number;
  gflops: number;
}
const rows: Row[] = [];
const taps: Record<string, string[]> = {};
const runs = Number(values.runs);
let peak: number | undefined;
for (const backend of values.backends.split(',')) {
  const engine = await initEngine({ backend, log: false });
  if (engine.backend === 'native') peak = peakGflops();
  for (const name of values.models.split(',')) {
    // The ImageNet architectures (mobilenet_v2 / inception_v3 with 'random' would be nsfwjs's 5-class topology).
    const options = { weights: 'random', seed: 1, includeHead: true };
    const net = name in KERAS_APP_SPECS ? await loadKerasApp(name, options) : await loadModel(name, options);
    const size = net.inputSize;
    const head = net.headLayer ?? net.layers[net.layers.length - 1].name;
    const x = tf.randomUniform([1, size[0], size[1], 3], 0, 255, 'float32', 1);
    const input = net.preprocess(x);
    const once = async () => {
      const out = tf.tidy(() => net.forward(input as Tensor4D, { outputs: [head] })[head]);
      await out.data();
      out.dispose();
    };
    await once();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await once();
    const ms = (performance.now() - t0) / runs;
    const g = gflop(net, size);
    rows.push({ model: name, backend: engine.backend, size: `${size[0]}x${size[1]}`, params: net.model.countParams(), gflop: g, forwardMs: ms, gflops: g / (ms / 1000) });
    taps[name] = getModelEntry(name).tapLayers ?? [];
    console.error(`${name} ${engine.backend}: ${ms.toFixed(0)} ms`);
    tf.dispose([x, input]);
    net.dispose();
  }
}

console.log(`FMA peak (2048^3 sgemm, native): ${peak ? `${peak.toFixed(0)} GFLOP/s` : 'not measured'}`);
console.log('| model | input | parameters | GFLOP/image | backend | forward ms | GFLOP/s | % of peak |');
console.log('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |');
for (const r of rows) {
  const pct = peak ? `${((100 * r.gflops) / peak).toFixed(0)}%` : '';
  console.log(`| ${r.model} | ${r.size} | ${r.params.toLocaleString('en-US')} | ${r.gflop.toFixed(2)} | ${r.backend} | ${r.forwardMs.toFixed(0)} | ${r.gflops.toFixed(0)} | ${pct} |`);
}
console.log('');
for (const [name, list] of Object.entries(taps)) console.log(`${name}: ${list.join(', ')}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ peakGflops: peak, rows, taps }, null, 2));
