/** Dense: a matrix product over the last axis; it fixes the width of its input (the head's input size). */
import { ConvlabError, tf } from '@convlab/core';
import { applyActivation, isKnownActivation } from './activation.js';
import type { LayerHandler, Tensor } from './registry.js';
import { weightByName } from './util.js';

type Tensor2D = ReturnType<typeof tf.tensor2d>;

export const denseHandler: LayerHandler = {
  classNames: ['Dense'],
  kind: 'dense',
  build: (node, ctx) => {
    const { config } = node;
    const kernel = ctx.keep(weightByName(node, 'kernel')!.clone());
    const bias = config.useBias ? weightByName(node, 'bias') : undefined;
    const b = bias ? ctx.keep(bias.clone()) : undefined;
    if (!isKnownActivation(config.activation)) return undefined;
    const [inUnits] = kernel.shape;
    return (xs, run) => {
      const x = xs[0];
      if (x.shape[x.rank - 1] !== inUnits) {
        throw new ConvlabError(
          `layer ${node.name} expects ${inUnits} input features but got ${x.shape[x.rank - 1]} (input shape [${x.shape.join(', ')}])`,
          { hint: "the classifier head only works at the model's native input size; ask for a trunk layer for other sizes" },
        );
      }
      const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inUnits]);
      let y: Tensor = tf.matMul(flat as Tensor2D, kernel as Tensor2D);
      if (b) y = tf.add(y, b);
      if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
      return applyActivation(config.activation, y, run);
    };
  },
  // tfjs-layers' Dense does not check its input width; the head needs the model's own size.
  checkInputShapes: (node, inputShapes, inputSize) => {
    const kernel = node.layer.weights.find((w) => w.originalName.endsWith('/kernel'));
    const input = inputShapes[0];
    const last = input[input.length - 1];
    if (kernel && last !== kernel.shape[0]) {
      throw new ConvlabError(
        `input size ${inputSize[0]}x${inputSize[1]} does not fit layer ${node.name} (it needs ${kernel.shape[0]} input features, gets ${last})`,
        { hint: "the classifier head only works at the model's native input size" },
      );
    }
  },
};

export const denseHandlers: LayerHandler[] = [denseHandler];
