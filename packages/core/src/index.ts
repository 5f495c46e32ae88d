export * from './errors.js';
export * from './atomic.js';
export * from './engine.js';
export * from './image.js';
export { tf } from './tf.js';
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Scalar, Variable, LayersModel } from './tf.js';
export * from './draw/index.js';
export * from './numerics/index.js';
export * from './conv-arithmetic.js';
