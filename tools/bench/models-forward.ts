/**
 * Per-image forward time of the offline models at their native sizes, through the graph executor
 * (net.forward, what the apps use) and through tfjs-layers (model.predict), on each backend.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/models-forward.ts [--backends wasm,cpu] [--runs 5]
 *     [--models mobilenet_v2,inception_v3] [--batch 1] [--json out/bench-models-forward.json]
 *
 * Each number is the mean over --runs timed runs after one warm-up run (cpu: at most 3 runs, it is slow).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initEngine, tf, type Tensor4D } from '@convlab/core';
import { loadModel } from '@convlab/models';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    models: { type: 'string', default: 'mobilenet_v2,inception_v3' },
    runs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});

interface Row {
  backend: string;
  model: string;
  size: string;
  loadMs: number;
  executorMs: number;
  predictMs: number;
  gradMs: number;
}

async function timeIt(runs: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up: kernels compile, weights move to the backend
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - t0) / runs;
}

const rows: Row[] = [];
const batch = Number(values.batch);
for (const backend of values.backends.split(',')) {
  const engine = await initEngine({ backend });
  const runs = backend === 'cpu' ? Math.min(Number(values.runs), 3) : Number(values.runs);
  for (const name of values.models.split(',')) {
    const t0 = performance.now();
    const net = await loadModel(name);
    const loadMs = performance.now() - t0;
    const [h, w] = net.inputSize;
    const x = tf.randomUniform([batch, h, w, 3], 0, 1, 'float32', 1) as Tensor4D;
    const head = net.headLayer ?? 'features';
    const executorMs = await timeIt(runs, async () => {
      const out = tf.tidy(() => net.forward(x, { outputs: [head] })[head]);
      await out.data();
      out.dispose();
    });
    const predictMs = await timeIt(runs, async () => {
      const out = net.model.predict(x) as ReturnType<typeof tf.tensor>;
      await out.data();
      out.dispose();
    });
    // Input gradient of the trunk's last features (what deconvnet / style transfer pay per step).
    const gradMs = await timeIt(Math.max(1, Math.floor(runs / 2)), async () => {
      const g = tf.tidy(() => tf.grad((z) => tf.sum(net.forward(z as Tensor4D, { outputs: ['features'] }).features))(x));
      await g.data();
      g.dispose();
    });
    rows.push({ backend: engine.backend, model: name, size: `${h}x${w}`, loadMs, executorMs: executorMs / batch, predictMs: predictMs / batch, gradMs: gradMs / batch });
    process.stderr.write(`${engine.backend} ${name}: done\n`);
    x.dispose();
    net.dispose();
  }
}

const header = ['backend', 'model', 'input', 'load ms', 'forward ms (executor)', 'forward ms (predict)', 'input-grad ms (executor)'];
const table = rows.map((r) => [r.backend, r.model, r.size, r.loadMs.toFixed(0), r.executorMs.toFixed(1), r.predictMs.toFixed(1), r.gradMs.toFixed(0)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log(`per-image times, batch ${batch}, mean of runs after one warm-up (${new Date().toISOString()})`);
console.log(line(header));
console.log('|' + widths.map((wd) => '-'.repeat(wd + 2)).join('|') + '|');
for (const r of table) console.log(line(r));
if (values.json) writeFileSync(values.json, JSON.stringify({ batch, rows }, null, 2));
