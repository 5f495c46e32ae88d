/**
 * Model-parameter randomization test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS
 * 2018), cascading version: re-initialise the weights of the network's layers one after another from
 * the top (the logits) down, recompute every method's map after each step, and compare it with the
 * map from the trained weights by Spearman rank correlation of absolute values and by SSIM.
 * A method whose map stays similar while the weights are destroyed is not explaining the model:
 * Adebayo et al. found this for guided backprop (and Nie et al. 2018 explain why for deconvnet and
 * guided backprop); gradients, SmoothGrad and Grad-CAM degrade as expected.
 *
 * Randomization: a layer's kernel and bias are replaced by truncated-normal values with the same
 * standard deviation as the trained ones (seeded), batch-norm statistics are kept. The trained
 * weights are restored at the end. A unit target only depends on layers up to its own layer, so the
 * cascade starts there.
 */
import { tf, type RgbImage, type Tensor, type Tensor4D } from '@convlab/core';
import { GraphExecutor, type ConvNet } from '@convlab/models';
import { createMethod, type MethodOptions } from './methods/index.js';
import { toBatch, type AttributionMap, type MethodName } from './attribution.js';
import { resolveTarget, type Target } from './target.js';
import { normalize01, spearmanAbs, ssim } from './stats.js';

export interface SanityCheckOptions {
  model: ConvNet;
  image: RgbImage | Tensor;
  target: Target;
  methods: MethodName[];
  /** Number of cascade checkpoints (default 8); the last one has every layer randomized. */
  steps?: number;
  seed?: number;
  methodOptions?: MethodOptions;
  signal?: AbortSignal;
  onStep?: (done: number, total: number, label: string) => void;
}

export interface SanityStep {
  /** Top-most .. this layer have random weights. */
  randomizedThrough: string;
  /** How many weight layers are randomized. */
  count: number;
}

export interface SanityMethodResult {
  method: MethodName;
  /** One value per step (index i = steps[i]). */
  spearman: number[];
  ssim: number[];
  /** Heat maps: the trained one first, then one per step. */
  heats: Float32Array[];
}

export interface SanityCheckResult {
  width: number;
  height: number;
  target: string;
  steps: SanityStep[];
  methods: SanityMethodResult[];
  /** Weight layers in cascade order (top first). */
  cascade: string[];
  complete: boolean;
  seconds: number;
}

/** Layers with weights that the target depends on, top (closest to the target) first. */
export function cascadeLayers(model: ConvNet, targetLayer: string): string[] {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [targetLayer];
  // The class logits read the head's input; the head layer itself has weights too.
  while (stack.length) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    stack.push(...(byName.get(n)?.inbound ?? []));
  }
  return model.layers
    .filter((l) => needed.has(l.name) && (l.kind === 'conv' || l.kind === 'depthwise_conv' || l.kind === 'dense'))
    .map((l) => l.name)
    .reverse();
}

/**
 * Evenly spaced checkpoints over the cascade, always including the last layer (every weight layer
 * random) and, from two steps on, the first (only the top layer random). One step is the last alone.
 */
export function checkpoints(n: number, steps: number): number[] {
  if (n <= steps) return Array.from({ length: n }, (_, i) => i);
  if (steps <= 1) return n > 0 ? [n - 1] : [];
  const out = new Set<number>();
  for (let k = 0; k < steps; k++) out.add(Math.round((k * (n - 1)) / (steps - 1)));
  return [...out].sort((a, b) => a - b);
}

/** The same ConvNet, evaluated with a fresh executor (it reads the model's current weights). */
function withCurrentWeights(model: ConvNet): { net: ConvNet; dispose: () => void } {
  const executor = new GraphExecutor(model.model);
  const net: ConvNet = {
    ...model,
    forward: (x: Tensor4D, options) => {
      const names = options.outputs.map((o) => model.resolveLayer(o));
      const values = executor.run(x, names, options);
      const out: Record<string, Tensor> = {};
      options.outputs.forEach((o, i) => (out[o] = values[names[i]]));
      return out;
    },
  };
  return { net, dispose: () => executor.dispose() };
}

function randomizeLayer(model: ConvNet, name: string, seed: number): void {
  const layer = model.model.getLayer(name);
  const values = layer.getWeights().map((w, i) =>
    tf.tidy(() => {
      const { variance } = tf.moments(w);
      const std = Math.sqrt(variance.dataSync()[0]) || 0.01;
      return tf.truncatedNormal(w.shape, 0, std, 'float32', seed * 7919 + i);
    }),
  );
  layer.setWeights(values);
  values.forEach((v) => v.dispose());
}

export async function sanityCheck(options: SanityCheckOptions): Promise<SanityCheckResult> {
  const started = performance.now();
  const { model } = options;
  const seed = options.seed ?? 0;
  const batch = toBatch(options.image);
  const resolved = resolveTarget(model, batch, options.target);
  // Fix the explained activation to the one chosen on the trained model.
  const fixed: Target = resolved.kind === 'class' ? { classIndex: resolved.index } : { layer: resolved.layer, unit: resolved.index, position: resolved.position ?? 'all' };
  const cascade = cascadeLayers(model, resolved.kind === 'class' ? model.headLayer! : resolved.layer);
  const marks = checkpoints(cascade.length, options.steps ?? 8);

  const mapsFor = async (net: ConvNet): Promise<AttributionMap[]> => {
    const out: AttributionMap[] = [];
    for (const m of options.methods) out.push(await createMethod(m, net, options.methodOptions).attribute(batch, fixed));
    return out;
  };
  const reference = await mapsFor(model);
  const results: SanityMethodResult[] = options.methods.map((method, i) => ({ method, spearman: [], ssim: [], heats: [reference[i].heat] }));
  const [, height, width] = batch.shape;
  const refNorm = reference.map((r) => normalize01(r.heat));

  const saved = new Map<string, Tensor[]>();
  const steps: SanityStep[] = [];
  let complete = true;
  try {
    let next = 0;
    for (const [k, mark] of marks.entries()) {
      if (options.signal?.aborted) {
        complete = false;
        break;
      }
      for (; next <= mark; next++) {
        const name = cascade[next];
        saved.set(name, model.model.getLayer(name).getWeights().map((w) => w.clone()));
        randomizeLayer(model, name, seed + next + 1);
      }
      const { net, dispose } = withCurrentWeights(model);
      try {
        const maps = await mapsFor(net);
        maps.forEach((m, i) => {
          results[i].spearman.push(spearmanAbs(reference[i].heat, m.heat));
          results[i].ssim.push(ssim(refNorm[i], normalize01(m.heat), width, height));
          results[i].heats.push(m.heat);
        });
      } finally {
        dispose();
      }
      steps.push({ randomizedThrough: cascade[mark], count: mark + 1 });
      options.onStep?.(k + 1, marks.length, cascade[mark]);
    }
  } finally {
    for (const [name, weights] of saved) {
      model.model.getLayer(name).setWeights(weights);
      weights.forEach((w) => w.dispose());
    }
    batch.dispose();
  }
  return {
    width,
    height,
    target: resolved.label,
    steps,
    methods: results,
    cascade,
    complete,
    seconds: (performance.now() - started) / 1000,
  };
}
