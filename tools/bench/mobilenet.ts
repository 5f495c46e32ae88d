/**
 * MobileNetV2 forward pass at 224x224 (batch 1) through @convlab/models' loadModel('mobilenet_v2')
 * (nsfwjs's bundled weights, the model the apps use), to its last feature layer.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/mobilenet.ts --backend native|wasm|cpu [--iters 10]
 *
 * FLOPs: 0.60 GFLOP (MobileNetV2 1.0 at 224 px: about 300 million multiply-adds, Sandler et al. 2018).
 */
import { benchFlags, peakRssMB, report, startEngine, tf, timeIterations } from './index-util.js';

async function main() {
  const flags = benchFlags({ iters: 10, warmup: 2 });
  const engine = await startEngine(flags.backend);
  let models: typeof import('@convlab/models');
  try {
    models = await import('@convlab/models');
  } catch (err) {
    console.error(`mobilenet: skipped, @convlab/models is not available (${err instanceof Error ? err.message : err})`);
    return;
  }
  const net = await models.loadModel('mobilenet_v2');
  const [h, w] = net.inputSize;
  const x = tf.randomUniform([1, h, w, 3], -1, 1, 'float32', 1) as ReturnType<typeof tf.tensor4d>;
  const head = net.headLayer ?? 'features';
  const run = async () => {
    const out = tf.tidy(() => net.forward(x, { outputs: [head] })[head]);
    await out.data();
    out.dispose();
  };
  const sec = await timeIterations(run, flags.iters, flags.warmup);
  report({
    bench: 'mobilenet_v2', backend: engine.backend, config: `${h} px forward`, secondsPerIter: sec, gflopPerIter: 0.6,
    peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail, note: `to ${head}`,
  });
  net.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
