/** The image optimisers: L-BFGS (torch.optim.LBFGS step for step) and Adam behind one `minimize`. */
export * from './types.js';
export * from './lbfgs.js';
export * from './adam.js';
export * from './minimize.js';
export * from './vector-math.js';
