/**
 * The objective language of feature visualization by optimization (Olah, Mordvintsev & Schubert,
 * "Feature Visualization", Distill 2017; lucid's objectives). An objective is a weighted sum of terms,
 * each a number per image of the batch, maximised by the optimizer:
 *
 *   channel   LAYER:C          mean over positions of A[:, :, C]
 *   neuron    LAYER:C@Y,X      A[Y, X, C]            (LAYER:C@center: the middle of the map)
 *   direction LAYER:[v0,v1..]  mean over positions of <A[y, x, :], v>
 *   class     class:K          the logit of class K of the model's head
 *   layer     LAYER            mean of A^2 (DeepDream, Mordvintsev et al. 2015)
 *   diversity diversity:LAYER  -1/n sum_{i != j} <G_i, G_j> / (|G_i| |G_j|),  G_i the Gram matrix of
 *                              image i's activations at LAYER (lucid's diversity; weight ~ 100)
 *
 *   objective = sum_t w_t term_t,  written "2*mixed4:97 + 0.5*mixed4:[...] - mixed3:5"
 *   (terms separated by " + " / " - ", a weight as "W*"). Several objectives separated by ";" are
 *   optimized together, one image each (batched units).
 *
 * The text syntax is parsed in objective-syntax.ts (no tfjs: job schemas check it before any work).
 *
 * ReLU6 layers are optimized on their input (the pre-activation, as top-9 ranks them): a channel at
 * the cap of 6 has no gradient, so the optimizer would stall there.
 */
import { ConvlabError, tf, type Scalar, type Tensor, type Tensor1D, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { classLogits, rankingLayer } from '../target.js';
import type { Objective, ObjectiveTerm } from './objective-syntax.js';

export { parseObjectives, type Objective, type ObjectiveTerm } from './objective-syntax.js';

/** Check an objective against a model (layers, channels, positions, classes, direction length) and resolve layer names. */
export function resolveObjective(model: ConvNet, objective: Objective): Objective {
  return objective.map((t) => {
    if (t.kind === 'class') {
      if (!model.headLayer) throw new ConvlabError(`model ${model.name} has no classifier head, so class:${t.index} cannot be optimized`, { hint: 'use a channel objective, e.g. LAYER:C' });
      const n = model.classNames?.length ?? (model.layer(model.headLayer).outputShape.at(-1) as number);
      if (t.index >= n) throw new ConvlabError(`class ${t.index} is out of range for ${model.name}'s head`, { hint: `use 0..${n - 1}` });
      return t;
    }
    const layer = model.resolveLayer(t.layer);
    const shape = model.layer(layer).outputShape;
    const channels = shape.at(-1) as number;
    if ((t.kind === 'channel' || t.kind === 'neuron') && (t.channel < 0 || t.channel >= channels)) {
      throw new ConvlabError(`channel ${t.channel} is out of range for ${layer}`, { hint: `${layer} has ${channels} channels: use 0..${channels - 1}` });
    }
    if (t.kind === 'direction' && t.vector.length !== channels) {
      throw new ConvlabError(`the direction for ${layer} has ${t.vector.length} values`, { hint: `give ${channels} values, one per channel` });
    }
    if ((t.kind === 'neuron' || t.kind === 'diversity') && shape.length !== 4) {
      throw new ConvlabError(`${layer} has no spatial map`, { hint: `use a ${t.kind === 'neuron' ? 'channel' : 'spatial'} layer` });
    }
    return { ...t, layer };
  });
}

/** The layers an objective reads (ReLU6 layers replaced by their input). */
export function objectiveLayers(model: ConvNet, objectives: Objective[]): string[] {
  const out = new Set<string>();
  for (const o of objectives) for (const t of o) if (t.kind !== 'class') out.add(rankingLayer(model, t.layer));
  return [...out];
}

function perImage(t: Exclude<ObjectiveTerm, { kind: 'class' } | { kind: 'diversity' }>, act: Tensor): Tensor1D {
  const n = act.shape[0];
  if (act.rank !== 4) {
    const flat = tf.reshape(act, [n, -1]);
    if (t.kind === 'channel' || t.kind === 'neuron') return tf.reshape(tf.slice(flat, [0, t.channel], [n, 1]), [n]);
    if (t.kind === 'direction') return tf.reshape(tf.matMul(flat as ReturnType<typeof tf.tensor2d>, tf.tensor2d(t.vector, [t.vector.length, 1])), [n]);
    return tf.mean(tf.square(flat), 1) as Tensor1D;
  }
  const [, h, w, c] = act.shape;
  switch (t.kind) {
    case 'channel':
      return tf.mean(tf.slice(act, [0, 0, 0, t.channel], [n, h, w, 1]), [1, 2, 3]) as Tensor1D;
    case 'neuron': {
      const [y, x] = t.position === 'center' ? [Math.floor(h / 2), Math.floor(w / 2)] : t.position;
      if (y >= h || x >= w) throw new ConvlabError(`position (${y}, ${x}) is outside the ${h}x${w} map`, { hint: `use y in 0..${h - 1}, x in 0..${w - 1}` });
      return tf.reshape(tf.slice(act, [0, y, x, t.channel], [n, 1, 1, 1]), [n]);
    }
    case 'direction':
      return tf.mean(tf.sum(tf.mul(act, tf.reshape(tf.tensor1d(t.vector), [1, 1, 1, c])), 3), [1, 2]) as Tensor1D;
    case 'layer':
      return tf.mean(tf.square(act), [1, 2, 3]) as Tensor1D;
  }
}

/** lucid's diversity, negated: -1/n sum_{i != j} cos(G_i, G_j) of the images' Gram matrices. */
export function diversity(act: Tensor4D): Scalar {
  const [n, h, w, c] = act.shape;
  if (n < 2) return tf.scalar(0);
  const flat = tf.reshape(act, [n, h * w, c]);
  const grams = tf.reshape(tf.matMul(flat, flat, true, false), [n, c * c]);
  const unit = tf.div(grams, tf.add(tf.norm(grams, 'euclidean', 1, true), 1e-10));
  const sims = tf.matMul(unit, unit, false, true); // [n, n]
  const offDiagonal = tf.sub(tf.sum(sims), tf.sum(tf.mul(sims, tf.eye(n))));
  return tf.neg(tf.div(offDiagonal, n)) as Scalar;
}

/**
 * The objective's value per image [n] and its total (scalar, to maximise) for a batch whose image i
 * follows objectives[i % objectives.length]. `x` is preprocessed network input.
 */
export function evaluateObjectives(model: ConvNet, x: Tensor4D, objectives: Objective[]): { perImage: Tensor1D; total: Scalar } {
  const n = x.shape[0];
  const layers = objectiveLayers(model, objectives);
  const needsLogits = objectives.some((o) => o.some((t) => t.kind === 'class'));
  const acts = layers.length ? model.forward(x, { outputs: layers }) : {};
  const logits = needsLogits ? classLogits(model, x) : undefined;
  let values = tf.zeros([n]) as Tensor1D;
  let batchTerms: Scalar = tf.scalar(0);
  const seen = new Set<string>();
  objectives.forEach((o, k) => {
    const mask = tf.tensor1d(Array.from({ length: n }, (_, i) => (i % objectives.length === k ? 1 : 0)));
    for (const t of o) {
      if (t.kind === 'diversity') {
        const key = `${t.layer}:${t.weight}`;
        if (seen.has(key)) continue; // once per batch, however many images name it
        seen.add(key);
        batchTerms = tf.add(batchTerms, tf.mul(t.weight, diversity(acts[rankingLayer(model, t.layer)] as Tensor4D))) as Scalar;
        continue;
      }
      const v = t.kind === 'class' ? (tf.reshape(tf.slice(logits!, [0, t.index], [n, 1]), [n]) as Tensor1D) : perImage(t, acts[rankingLayer(model, t.layer)]);
      values = tf.add(values, tf.mul(mask, tf.mul(t.weight, v))) as Tensor1D;
    }
  });
  return { perImage: values, total: tf.add(tf.sum(values), batchTerms) as Scalar };
}
