/** Layers that are the identity at inference: InputLayer (a graph source) and the dropout/noise family. */
import type { LayerHandler } from './registry.js';

export const inputHandler: LayerHandler = {
  classNames: ['InputLayer'],
  kind: 'input',
  build: () => (xs) => xs[0],
};

export const dropoutHandler: LayerHandler = {
  classNames: ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout'],
  kind: 'dropout',
  build: () => (xs) => xs[0],
};

export const passthroughHandlers: LayerHandler[] = [inputHandler, dropoutHandler];
