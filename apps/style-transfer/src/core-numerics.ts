// Temporary: @convlab/core's numerics are written but not yet exported from its index.
export * from '../../../packages/core/src/numerics/index.js';
