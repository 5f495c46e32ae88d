/**
 * Fast (feed-forward) style transfer, Johnson et al. 2016 with instance normalization: the transformation
 * network (./johnson.ts), its training (./fast-train.ts), its files (./fast-io.ts) and options
 * (./fast-options.ts). Re-exported by the package index.
 */
export * from './johnson.js';
export * from './fast-io.js';
export * from './fast-options.js';
export * from './fast-train.js';
