/**
 * One teacher-forced training batch (forward + backward) of the Show, Attend and Tell decoder, and where its
 * time goes: tf.profile's kernel totals. The default shape is the Flickr8k recipe: batch 64, 14 steps,
 * InceptionV3 mixed6 pooled to a 9x9 grid (81 locations x 768 channels), 256 units, vocabulary 2542.
 *   npx tsx --conditions=@convlab/source tools/bench/caption-attention.ts [--backend native] [--batch 64]
 *     [--steps 14] [--locations 81] [--channels 768] [--hidden 256] [--repeats 3] [--kernels 12]
 * Prints one JSON line with the batch time, then the slowest kernels.
 */
import { parseArgs } from 'node:util';
import { tf, initEngine } from '@convlab/core';
import type { Tensor2D, Variable } from '@convlab/core';
import { createDecoder } from '@convlab/caption';
import { kernelTotals } from './index-util.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    locations: { type: 'string' },
    channels: { type: 'string' },
    hidden: { type: 'string' },
    vocab: { type: 'string' },
    repeats: { type: 'string' },
    kernels: { type: 'string' },
  },
});
const engine = await initEngine({ backend: values.backend });
const [B, T, L, D, H, V] = [values.batch ?? 64, values.steps ?? 14, values.locations ?? 81, values.channels ?? 768, values.hidden ?? 256, values.vocab ?? 2542].map(Number);
const decoder = createDecoder({ kind: 'show-attend-tell', vocabSize: V, featureDim: D, gridSize: L, embedDim: H, hiddenDim: H, attentionDim: H, dropout: 0.2, alphaReg: 1, normalizeFeatures: true }, 1);
const batch = {
  features: tf.randomNormal([B, L, D], 0, 1, 'float32', 1),
  inputs: tf.randomUniform([B, T], 0, V, 'int32', 2) as Tensor2D,
  targets: tf.randomUniform([B, T], 0, V, 'int32', 3) as Tensor2D,
  mask: tf.ones([B, T]) as Tensor2D,
};
const vars = decoder.params.trainable() as Variable[];
const step = () => {
  const { value, grads } = tf.variableGrads(() => decoder.loss(batch, true), vars);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
};
step(); // warm-up
const ms: number[] = [];
for (let i = 0; i < Number(values.repeats ?? 3); i++) {
  const t0 = performance.now();
  step();
  ms.push(performance.now() - t0);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({ bench: 'show-attend-tell training batch', backend: engine.backend, batch: B, steps: T, locations: L, channels: D, hidden: H, vocab: V, medianMs: +ms[ms.length >> 1].toFixed(0), minMs: +ms[0].toFixed(0) }));
const profile = await tf.profile(step);
for (const [name, e] of kernelTotals(profile.kernels).slice(0, Number(values.kernels ?? 12))) {
  console.log(`${name.padEnd(24)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(6)} calls`);
}
