/** Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate. */
import { tf } from '@convlab/core';
import type { LayerHandler, NodeFn } from './registry.js';

const merge = (classNames: string[], kind: LayerHandler['kind'], fn: NodeFn): LayerHandler => ({ classNames, kind, build: () => fn });

export const mergeHandlers: LayerHandler[] = [
  merge(['Add'], 'add', (xs) => (xs.length === 1 ? xs[0] : tf.addN(xs))),
  merge(['Subtract'], 'other', (xs) => tf.sub(xs[0], xs[1])),
  merge(['Multiply'], 'other', (xs) => xs.slice(1).reduce((a, b) => tf.mul(a, b), xs[0])),
  merge(['Average'], 'other', (xs) => tf.div(tf.addN(xs), xs.length)),
  merge(['Maximum'], 'other', (xs) => xs.slice(1).reduce((a, b) => tf.maximum(a, b), xs[0])),
  merge(['Minimum'], 'other', (xs) => xs.slice(1).reduce((a, b) => tf.minimum(a, b), xs[0])),
  {
    // Inception-ResNet's x + scale * residual (keras-layers.ts; a Keras Lambda in the original).
    classNames: ['ScaledResidual'],
    kind: 'add',
    build: ({ config }) => {
      const scale = Number(config.scale);
      return ([x, up]) => tf.add(x, tf.mul(up, scale));
    },
  },
  {
    classNames: ['Concatenate'],
    kind: 'concat',
    build: ({ config }) => {
      const axis = Number(config.axis ?? -1);
      return (xs) => tf.concat(xs, axis);
    },
  },
];
