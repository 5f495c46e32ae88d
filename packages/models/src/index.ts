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
export { loadVgg, loadVggModel, vggEntry, buildVgg, vggAliases, vggLayerNames, resolveVggLayer, VGG_MEAN_RGB, VGG_MIN_INPUT, type VggDepth, type BuildVggOptions } from './vgg.js';
export { readKerasH5, loadKerasWeightsH5, writeKerasWeightsH5, assignLayerWeights, type KerasH5Contents, type LayerWeights, type StoredWeight } from './keras-h5.js';
export { loadCustomModel, loadLayersModelFromPath, customEntry, parsePreprocessing, type CustomLoadOptions, type PreprocessingName } from './custom.js';
export { fileIOHandler, readTfjsLayerWeights } from './custom-tfjs-io.js';
export { convlabHome, modelCacheDir, cachedWeightsPath, KNOWN_WEIGHTS, knownWeights, verifyCachedWeights, hashFile, type KnownWeights, type CacheRecord } from './weights-cache.js';
export { pullWeights, downloadFile, type PullOptions, type PullResult, type DownloadOptions } from './pull.js';
