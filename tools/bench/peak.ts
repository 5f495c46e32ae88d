/**
 * Measured FMA peak of this machine: the best of several large float32 matrix products (oneDNN
 * sgemm through the native backend, all threads). Reported as GFLOP/s, the roofline for the other
 * benchmarks' "% of peak".
 *
 *   npx tsx --conditions=@convlab/source tools/bench/peak.ts [--size 2048] [--iters 5]
 */
import { benchFlags, peakRssMB, report, startEngine, tf } from './index-util.js';

const flags = benchFlags({ backend: 'native', size: 2048, iters: 5, warmup: 1 });
const engine = await startEngine(flags.backend);
const n = flags.size;
const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
let best = Infinity;
let bestCpu = Infinity;
for (let i = 0; i < flags.warmup + flags.iters; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const c = tf.matMul(a, b);
  c.dataSync();
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  c.dispose();
  if (i >= flags.warmup) {
    best = Math.min(best, s);
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
  }
}
report({
  bench: 'peak', backend: engine.backend, config: `sgemm ${n}^3`, secondsPerIter: best, cpuSecondsPerIter: bestCpu, gflopPerIter: (2 * n ** 3) / 1e9,
  peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail, note: 'best of the timed runs',
});
