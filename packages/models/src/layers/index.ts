/**
 * The built-in layer handlers, one file per family, registered on import. Add a kind with
 * registerLayerHandler (see README.md).
 */
import { activationHandlers } from './activation.js';
import { convHandlers } from './conv.js';
import { denseHandlers } from './dense.js';
import { mergeHandlers } from './merge.js';
import { normHandlers } from './norm.js';
import { passthroughHandlers } from './passthrough.js';
import { poolingHandlers } from './pooling.js';
import { registerLayerHandler, type LayerHandler } from './registry.js';
import { reshapeHandlers } from './reshape.js';

export const BUILTIN_LAYER_HANDLERS: readonly LayerHandler[] = [
  ...passthroughHandlers,
  ...convHandlers,
  ...normHandlers,
  ...activationHandlers,
  ...poolingHandlers,
  ...mergeHandlers,
  ...reshapeHandlers,
  ...denseHandlers,
];

for (const handler of BUILTIN_LAYER_HANDLERS) registerLayerHandler(handler);

export * from './registry.js';
export { applyActivation, isKnownActivation } from './activation.js';
export { pair, optionalPair, paddingOf, zeroPaddingOf, channelsFirst, weightByName } from './util.js';
