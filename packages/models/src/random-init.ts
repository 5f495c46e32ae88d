/**
 * Seeded re-initialisation of a LayersModel's weights ("random" weights): He-normal kernels, zero biases,
 * identity batch norm. Used by tests and by random-feature style transfer, so the same seed must give
 * the same weights on every backend (tfjs's seeded random ops are backend-independent).
 */
import { tf } from '@convlab/core';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;
type Tensor = ReturnType<typeof tf.tensor>;

function fanIn(shape: number[], depthwise: boolean): number {
  if (shape.length === 4) return shape[0] * shape[1] * (depthwise ? 1 : shape[2]);
  if (shape.length === 2) return shape[0];
  return shape.reduce((a, b) => a * b, 1) / (shape[shape.length - 1] || 1);
}

/** Replace every weight of `model` in place with seeded random (kernels) or neutral (the rest) values. */
export function randomizeWeights(model: LayersModel, seed: number): void {
  let index = 0;
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (!weights.length) continue;
    const values: Tensor[] = weights.map((w) => {
      const shape = w.shape as number[];
      const role = w.originalName.split('/').pop() ?? '';
      index += 1;
      if (role === 'kernel' || role === 'depthwise_kernel' || role === 'pointwise_kernel') {
        // He-normal keeps activation magnitudes roughly constant through deep ReLU stacks.
        const std = Math.sqrt(2 / Math.max(fanIn(shape, role === 'depthwise_kernel'), 1));
        return tf.truncatedNormal(shape, 0, std, 'float32', seed * 1000 + index);
      }
      if (role === 'gamma' || role === 'moving_variance') return tf.ones(shape);
      return tf.zeros(shape);
    });
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
}
