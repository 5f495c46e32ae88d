export type * from './types.js';
export { listModels, getModelEntry, loadModel } from './registry.js';
export { createConvNet, preprocessWith, deprocessWith, type ConvNetSpec, type Preprocessing } from './convnet.js';
export { GraphExecutor, type GraphNode, type GraphExecutorOptions, type RunOptions } from './graph.js';
export {
  registerLayerHandler,
  layerHandlerFor,
  registeredLayerHandlers,
  BUILTIN_LAYER_HANDLERS,
  applyActivation,
  isKnownActivation,
  weightByName,
  type LayerHandler,
  type LayerGeometry,
  type BuildContext,
  type RunContext,
  type NodeFn,
} from './layers/index.js';
export {
  planFusion,
  chainUsable,
  foldChain,
  type FusionPlan,
  type FusionChain,
  type FusionNode,
  type FusionRole,
  type FusableConv,
  type FusableScaleShift,
} from './fusion.js';
export { LAYER_ROLES, blockOutputs, chooseRoles, cutPoints, describeFeatures, featureInfo } from './features.js';
export { reluLike, conv2d, depthwiseConv2d } from './ops.js';
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
export { readKerasH5, loadKerasWeightsH5, writeKerasWeightsH5, assignLayerWeights, alignAutoNames, identifyKerasArchitecture, type KerasH5Contents, type LayerWeights, type StoredWeight } from './keras-h5.js';
export { loadCustomModel, loadLayersModelFromPath, customEntry, parsePreprocessing, type CustomLoadOptions, type PreprocessingName } from './custom.js';
export { fileIOHandler, readTfjsLayerWeights } from './custom-tfjs-io.js';
export { convlabHome, modelCacheDir, cachedWeightsPath, KNOWN_WEIGHTS, knownWeights, weightsKey, missingImagenetError, verifyCachedWeights, hashFile, type KnownWeights, type CacheRecord } from './weights-cache.js';
export {
  IMAGENET_CLASS_COUNT,
  imagenetClass,
  imagenetClasses,
  imagenetClassNames,
  suggestImagenetClasses,
  kerasClassIndexJson,
  topK,
  formatTopK,
  type ImagenetClass,
  type TopKEntry,
} from './imagenet-classes.js';
export {
  KERAS_APP_SPECS,
  kerasAppSpec,
  kerasAppEntry,
  kerasAppTransforms,
  loadKerasApp,
  cachedImagenetFile,
  type KerasAppSpec,
} from './keras-apps.js';
export { buildResNet, RESNET_STAGES, type ResNetDepth, type BuildKerasAppOptions } from './resnet.js';
export { buildInceptionV3 } from './inception-v3.js';
export { buildMobileNetV2 } from './mobilenet-v2.js';
export { buildInceptionResNetV2 } from './inception-resnet-v2.js';
export { ScaledResidual } from './keras-layers.js';
export { kerasLayout, writeKerasLayoutH5, type KerasLayoutLayer, type KerasLayoutStyle } from './keras-layout.js';
export { modelTransforms } from './registry.js';
export { pullWeights, downloadFile, type PullOptions, type PullResult, type DownloadOptions } from './pull.js';
