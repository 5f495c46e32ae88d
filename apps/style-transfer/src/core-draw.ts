// Temporary: @convlab/core's drawing module is written but not yet exported from its index.
export * from '../../../packages/core/src/draw/index.js';
