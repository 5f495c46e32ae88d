/** Activation layers (Activation, ReLU, LeakyReLU, ELU, Softmax) and the Keras activation names. */
import { tf } from '@convlab/core';
import type { GraphNode } from '../graph.js';
import { reluLike } from '../ops.js';
import type { LayerHandler, RunContext, Tensor } from './registry.js';

type ActivationFn = (x: Tensor, ctx: RunContext) => Tensor;

/** Keras activation name -> op; relu-like ones take the backward rule. */
const ACTIVATIONS: Record<string, ActivationFn | undefined> = {
  linear: undefined,
  relu: (x, ctx) => reluLike(x, false, ctx.relu),
  relu6: (x, ctx) => reluLike(x, true, ctx.relu),
  softmax: (x) => tf.softmax(x, -1),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  silu: (x) => tf.mul(x, tf.sigmoid(x)),
  hard_sigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  hardSigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
};

/** Activation names the executor runs itself (layers with others fall back to layer.apply). */
export function isKnownActivation(name: unknown): boolean {
  return name === undefined || name === null || Object.hasOwn(ACTIVATIONS, String(name));
}

/** Apply a Keras activation by name (linear and unknown names: identity). */
export function applyActivation(name: unknown, x: Tensor, ctx: RunContext): Tensor {
  const key = String(name ?? 'linear');
  const fn = Object.hasOwn(ACTIVATIONS, key) ? ACTIVATIONS[key] : undefined;
  return fn ? fn(x, ctx) : x;
}

const isReluName = (a: unknown): a is 'relu' | 'relu6' => a === 'relu' || a === 'relu6';

export const activationHandler: LayerHandler = {
  classNames: ['Activation'],
  kind: (node) => (isReluName(node.config.activation) ? 'relu' : 'activation'),
  build: ({ config }) => {
    if (!isKnownActivation(config.activation)) return undefined;
    return (xs, ctx) => applyActivation(config.activation, xs[0], ctx);
  },
  fusion: 'relu',
  reluFlavour: ({ config }) => (isReluName(config.activation) ? config.activation : undefined),
};

/** ReLU's config: a plain relu or relu6 (no slope, no threshold, max value none or 6)? */
function plainRelu(node: GraphNode): 'relu' | 'relu6' | undefined {
  const c = node.config;
  if (Number(c.negativeSlope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0) return undefined;
  if (c.maxValue == null) return 'relu';
  if (c.maxValue === 6) return 'relu6';
  return undefined;
}

export const reluHandler: LayerHandler = {
  classNames: ['ReLU'],
  kind: 'relu',
  build: (node) => {
    const { config } = node;
    const maxValue = config.maxValue as number | null | undefined;
    const slope = Number(config.negativeSlope ?? 0);
    const threshold = Number(config.threshold ?? 0);
    const flavour = plainRelu(node);
    if (flavour) return (xs, ctx) => reluLike(xs[0], flavour === 'relu6', ctx.relu);
    return (xs) => {
      const x = xs[0];
      let y: Tensor = tf.where(tf.greaterEqual(x, threshold), x, tf.mul(tf.sub(x, threshold), slope));
      if (maxValue != null) y = tf.minimum(y, maxValue);
      return y;
    };
  },
  fusion: 'relu',
  reluFlavour: plainRelu,
  activation: ({ config }) => {
    if (config.maxValue === 6) return 'relu6';
    return config.maxValue == null ? 'relu' : `relu(max=${String(config.maxValue)})`;
  },
};

export const leakyReluHandler: LayerHandler = {
  classNames: ['LeakyReLU'],
  kind: 'activation',
  build: ({ config }) => (xs) => tf.leakyRelu(xs[0], Number(config.alpha ?? 0.3)),
};

export const eluHandler: LayerHandler = {
  classNames: ['ELU'],
  kind: 'activation',
  build: ({ config }) => (Number(config.alpha ?? 1) === 1 ? (xs) => tf.elu(xs[0]) : undefined),
};

export const softmaxHandler: LayerHandler = {
  classNames: ['Softmax'],
  kind: 'activation',
  build: ({ config }) => {
    const axis = Number(config.axis ?? -1);
    return (xs) => tf.softmax(xs[0], axis);
  },
};

export const activationHandlers: LayerHandler[] = [activationHandler, reluHandler, leakyReluHandler, eluHandler, softmaxHandler];
