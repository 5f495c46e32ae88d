export * from './gram.js';
export * from './tv.js';
export * from './types.js';
export * from './lbfgs.js';
export * from './adam.js';
export * from './minimize.js';
export * from './vector-math.js';
