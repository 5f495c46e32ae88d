/**
 * Fused LSTM (one input-projection matmul for the whole sequence, one h @ W_h per step, gate nonlinearities
 * in one JS kernel) vs the same maths in plain tfjs ops vs tfjs-layers' LSTM layer: forward + backward
 * time of one training batch (sequence loss = sum of h_t), B x T x E -> H.
 *   npx tsx --conditions=@convlab/source tools/bench/caption-lstm.ts [--backend wasm] [--batch 64] [--steps 12] [--hidden 256] [--repeats 5]
 * Prints one JSON line per implementation.
 */
import { parseArgs } from 'node:util';
import { tf, initEngine } from '@convlab/core';
import type { Scalar, Tensor, Tensor2D, Tensor3D, Variable } from '@convlab/core';
import { lstmStep, mm, setLstmCellImpl } from '@convlab/caption';

const { values } = parseArgs({
  options: { backend: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, hidden: { type: 'string' }, repeats: { type: 'string' } },
});
const engine = await initEngine({ backend: values.backend });
const B = Number(values.batch ?? 64);
const T = Number(values.steps ?? 12);
const H = Number(values.hidden ?? 256);
const E = H;
const repeats = Number(values.repeats ?? 5);

const x = tf.randomNormal([B, T, E], 0, 1, 'float32', 1) as Tensor3D;
const wx = tf.variable(tf.randomNormal([E, 4 * H], 0, 0.05, 'float32', 2));
const wh = tf.variable(tf.randomNormal([H, 4 * H], 0, 0.05, 'float32', 3));
const bias = tf.variable(tf.zeros([4 * H]));

function ours(): Tensor {
  const xProj = tf.add(mm(tf.reshape(tf.transpose(x, [1, 0, 2]), [T * B, E]) as Tensor2D, wx as unknown as Tensor2D), bias);
  const steps = tf.unstack(tf.reshape(xProj, [T, B, 4 * H])) as Tensor2D[];
  let s = { h: tf.zeros([B, H]) as Tensor2D, c: tf.zeros([B, H]) as Tensor2D };
  let total: Tensor = tf.scalar(0);
  for (const st of steps) {
    s = lstmStep(st, s, wh as unknown as Tensor2D);
    total = tf.add(total, tf.sum(s.h));
  }
  return total;
}

const layer = tf.layers.lstm({ units: H, returnSequences: true, inputShape: [T, E], kernelInitializer: 'glorotUniform', recurrentInitializer: 'glorotUniform' });
const layersModel = tf.sequential({ layers: [layer] });
function layers(): Tensor {
  return tf.sum(layersModel.apply(x, { training: true }) as Tensor);
}

async function time(name: string, f: () => Tensor, vars: Variable[]): Promise<void> {
  const run = () => {
    const { value, grads } = tf.variableGrads(f as () => Scalar, vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  run(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ impl: name, backend: engine.backend, batch: B, steps: T, hidden: H, medianMs: +ms[ms.length >> 1].toFixed(1), minMs: +ms[0].toFixed(1) }));
}

setLstmCellImpl('fused');
await time('fused (convlab)', ours, [wx, wh, bias]);
setLstmCellImpl('ops');
await time('tfjs ops, fused matmuls', ours, [wx, wh, bias]);
await time('tfjs-layers LSTM', layers, layersModel.trainableWeights.map((w) => (w as unknown as { val: Variable }).val));
