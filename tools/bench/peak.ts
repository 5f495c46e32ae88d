/**
 * Measured FMA peak of this machine: the best of several large float32 matrix products (oneDNN sgemm, all
 * threads), reported as GFLOP/s, the roofline for the other benchmarks' "% of peak". Two figures: through
 * tfjs's matMul on the native backend (a fresh output tensor per product, as an app sees it) and the addon's
 * sgemm alone on buffers allocated once (the kernel's own rate). The peak is the higher of the two; on the
 * development VMs the kernel alone ran 404-414 GFLOP/s where the tfjs path gave 332, so a roofline from the
 * tfjs path alone would flatter every "% of peak".
 *
 *   npx tsx --conditions=@convlab/source tools/bench/peak.ts [--size 2048] [--iters 5]
 */
import { benchFlags, peakRssMB, report, startEngine, tf } from './index-util.js';

const flags = benchFlags({ backend: 'native', size: 2048, iters: 5, warmup: 1 });
const engine = await startEngine(flags.backend);
const n = flags.size;

function timed(run: () => void): { best: number; bestCpu: number } {
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < flags.warmup + flags.iters; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    if (i >= flags.warmup) {
      best = Math.min(best, s);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
    }
  }
  return { best, bestCpu };
}

const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
const viaTfjs = timed(() => {
  const c = tf.matMul(a, b);
  c.dataSync();
  c.dispose();
});
let kernel: { best: number; bestCpu: number } | undefined;
if (engine.backend === 'native') {
  const { loadAddon } = await import('@convlab/native');
  const addon = loadAddon();
  if (addon) {
    const av = a.dataSync() as Float32Array;
    const bv = b.dataSync() as Float32Array;
    const c = new Float32Array(n * n);
    const p = Int32Array.from([1, 1, n, n, n, 0, 0]);
    kernel = timed(() => addon.matMul(p, av, bv, c, null, 0, 0));
  }
}
const gflop = (2 * n ** 3) / 1e9;
const best = kernel && kernel.best < viaTfjs.best ? kernel : viaTfjs;
report({
  bench: 'peak', backend: engine.backend, config: `sgemm ${n}^3`, secondsPerIter: best.best, cpuSecondsPerIter: best.bestCpu, gflopPerIter: gflop,
  peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail,
  note: `best of the timed runs; tfjs matMul ${(gflop / viaTfjs.best).toFixed(0)} GFLOP/s${kernel ? `, the addon's sgemm alone ${(gflop / kernel.best).toFixed(0)} GFLOP/s` : ''}`,
});
