/**
 * Fast (feed-forward) style transfer: milliseconds per image of `stylizeWithNet`'s network call (reflection
 * pad, the transformation network's inference path, crop) on each backend, for a bundled network or seeded
 * random ones of a given width (the time does not depend on the values). Prints wall and process-CPU ms
 * (median and best of --runs after one warm-up; on a shared machine the CPU figure divided by the threads is
 * the steadier one), the network's GFLOP per image, and, with --profile, tf.profile's kernel times of one call.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/fast-style.ts [--backends native,wasm,cpu] [--size 512]
 *     [--channels 16,32] [--net the_scream] [--runs 5] [--profile] [--json out.json]
 *
 * CONVLAB_KEEP_FREED_MEMORY=0 measures the native backend without its malloc setting (packages/native).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, tf, type Tensor4D } from '@convlab/core';
import { createTransformNet, loadTransformNet, resolveFastNet, stylizeTensor, transformLayers, type TransformNet } from '@convlab/style';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'native,wasm' },
    size: { type: 'string', default: '512' },
    channels: { type: 'string', default: '16,32' },
    net: { type: 'string' },
    runs: { type: 'string', default: '5' },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const size = Number(values.size);
const runs = Number(values.runs);

/** Multiply-adds of the transformation network's convolutions on a side x side input (2 per MAC). */
function gflop(net: TransformNet, side: number): number {
  let macs = 0;
  let res = side;
  for (const l of transformLayers(net.config)) {
    if (l.name.startsWith('down')) res /= 2;
    if (l.name.startsWith('up')) res *= 2;
    macs += res * res * l.kernel * l.kernel * l.inC * l.outC;
  }
  return (2 * macs) / 1e9;
}

interface Row {
  backend: string;
  net: string;
  size: number;
  wallMs: number;
  bestWallMs: number;
  cpuMs: number;
  gflop: number;
  detail: string;
  load1: number;
}

const rows: Row[] = [];
for (const backend of String(values.backends).split(',')) {
  const engine = await initEngine({ backend, log: false });
  const nets: { name: string; net: TransformNet }[] = [];
  if (values.net) nets.push({ name: values.net, net: (await loadTransformNet(resolveFastNet(values.net))).net });
  else for (const c of String(values.channels).split(',').map(Number)) nets.push({ name: `random C=${c}`, net: createTransformNet({ channels: c, residualBlocks: 5 }, { seed: 1 }) });
  const x = tf.randomUniform([1, size, size, 3], 0, 255, 'float32', 3) as Tensor4D;
  for (const { name, net } of nets) {
    const once = async () => {
      const y = stylizeTensor(net, x);
      await y.data();
      y.dispose();
    };
    await once();
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await once();
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    const median = (a: number[]) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];
    const row = { backend: engine.backend, net: name, size, wallMs: median(wall), bestWallMs: Math.min(...wall), cpuMs: median(cpu), gflop: gflop(net, size), detail: engine.detail, load1: loadavg()[0] };
    rows.push(row);
    console.log(
      `${row.backend.padEnd(7)} ${name.padEnd(14)} ${size}x${size}: ${row.wallMs.toFixed(0)} ms/image (best ${row.bestWallMs.toFixed(0)}), CPU ${row.cpuMs.toFixed(0)} ms, ${row.gflop.toFixed(1)} GFLOP, load ${row.load1.toFixed(1)}  [${engine.detail}]`,
    );
    if (values.profile) {
      const info = await tf.profile(once);
      const by = new Map<string, number>();
      for (const k of info.kernels) if (!k.name.endsWith('__op')) by.set(k.name, (by.get(k.name) ?? 0) + (k.kernelTimeMs as number));
      const total = [...by.values()].reduce((a, b) => a + b, 0);
      console.log('  kernels: ' + [...by].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([n, m]) => `${n} ${m.toFixed(0)} ms (${((100 * m) / total).toFixed(0)}%)`).join(', '));
    }
    net.dispose();
  }
  x.dispose();
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
