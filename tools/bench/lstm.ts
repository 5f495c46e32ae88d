/**
 * One LSTM language-model training step (the captioning decoder's shape): batch 64, 16 time steps,
 * vocabulary 3000, embedding 512, 512 hidden units; softmax cross-entropy at every step; Adam.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/lstm.ts --backend native|wasm|cpu [--iters 5]
 *
 * FLOPs are the matrix products, counted analytically: per step the gate product
 * 2 x batch x (embedding + hidden) x 4 hidden and the output product 2 x batch x hidden x vocab, times
 * 3 for forward plus the two gradient products. Element-wise work and the embedding are not counted.
 */
import { benchFlags, peakRssMB, report, startEngine, tf, timeIterations } from './index-util.js';

const BATCH = 64, STEPS = 16, VOCAB = 3000, EMBED = 512, HIDDEN = 512;

export function lstmFlops(): number {
  const perStep = 2 * BATCH * (EMBED + HIDDEN) * 4 * HIDDEN + 2 * BATCH * HIDDEN * VOCAB;
  return 3 * STEPS * perStep;
}

async function main() {
  const flags = benchFlags({ iters: 5, warmup: 1 });
  const engine = await startEngine(flags.backend);
  const init = (shape: number[], fanIn: number, seed: number) => tf.variable(tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), 'float32', seed));
  const embed = init([VOCAB, EMBED], 1, 1);
  const wGates = init([EMBED + HIDDEN, 4 * HIDDEN], EMBED + HIDDEN, 2);
  const bGates = tf.variable(tf.zeros([4 * HIDDEN]));
  const wOut = init([HIDDEN, VOCAB], HIDDEN, 3);
  const bOut = tf.variable(tf.zeros([VOCAB]));
  const tokens = tf.randomUniform([BATCH, STEPS + 1], 0, VOCAB, 'int32', 4);
  const optimizer = tf.train.adam(1e-3);

  const lossFn = () => {
    let h = tf.zeros([BATCH, HIDDEN]);
    let c = tf.zeros([BATCH, HIDDEN]);
    let total = tf.scalar(0);
    for (let t = 0; t < STEPS; t++) {
      const ids = tf.reshape(tf.slice(tokens, [0, t], [BATCH, 1]), [BATCH]);
      const targets = tf.reshape(tf.slice(tokens, [0, t + 1], [BATCH, 1]), [BATCH]);
      const x = tf.gather(embed, ids);
      // One fused product for the four gates, as tfjs-layers' LSTM cell does.
      const z = tf.fused.matMul({ a: tf.concat([x, h], 1), b: wGates, bias: bGates });
      const [i, f, g, o] = tf.split(z, 4, 1);
      c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      const logits = tf.fused.matMul({ a: h, b: wOut, bias: bOut });
      total = tf.add(total, tf.losses.softmaxCrossEntropy(tf.oneHot(targets, VOCAB), logits));
    }
    return tf.div(total, STEPS) as ReturnType<typeof tf.scalar>;
  };
  const step = async () => {
    const loss = optimizer.minimize(lossFn, true);
    await loss!.data();
    loss!.dispose();
  };
  const sec = await timeIterations(step, flags.iters, flags.warmup);
  report({
    bench: 'lstm', backend: engine.backend, config: `batch ${BATCH}, ${STEPS} steps, vocab ${VOCAB}`, secondsPerIter: sec,
    gflopPerIter: lstmFlops() / 1e9, peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
