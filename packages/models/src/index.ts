export type * from './types.js';
export { listModels, getModelEntry, loadModel } from './registry.js';
export { createConvNet, preprocessWith, deprocessWith, type ConvNetSpec, type Preprocessing } from './convnet.js';
export { GraphExecutor, setFusedInference, type GraphNode } from './graph.js';
export { reluLike, conv2d, depthwiseConv2d, setConvGradientMode, type ConvGradientMode } from './ops.js';
export { randomizeWeights } from './random-init.js';
export {
  NSFWJS_CLASSES,
  findNsfwjsDir,
  loadNsfwjsModel,
  readNsfwjsArtifacts,
  nsfwjsWeightsInfo,
  type NsfwjsModelName,
} from './nsfwjs.js';
export { mobilenetV2Entry, inceptionV3Entry } from './nsfwjs-entries.js';
