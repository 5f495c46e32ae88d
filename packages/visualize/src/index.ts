/**
 * @convlab/visualize: look inside ConvNets. Zeiler & Fergus deconvnet projections, top-9 over a
 * dataset, occlusion sensitivity, guided backprop, saliency, SmoothGrad, Grad-CAM and guided
 * Grad-CAM behind one interface (captum's `attribute()`), feature maps, filters, the Adebayo et al.
 * sanity check, and the library calls behind convlab-deconv with their option schemas.
 */
export {
  METHOD_NAMES,
  METHOD_TITLES,
  BaseMethod,
  heatFromPixels,
  imageGradient,
  toBatch,
  type AttributionMap,
  type AttributionMethod,
  type MethodName,
} from './attribution.js';
export { createMethod, parseMethodName, Deconvnet, GuidedBackprop, Saliency, SmoothGrad, GradCam, GuidedGradCam, type MethodOptions } from './methods/index.js';
export { projectUnitBatch } from './methods/deconvnet.js';
export { gradCam, camLayerFor, type GradCamOptions } from './methods/gradcam.js';
export type { SmoothGradOptions } from './methods/smoothgrad.js';
export { occlusion, occlusionForModel, occlusionGrid, upsampleGrid, type OcclusionMapOptions, type OcclusionResult, type OcclusionScorer } from './methods/occlusion.js';
export { backwardOptions } from './backward-rules.js';
export { resolveTarget, classLogits, spatialLayers, checkUnit, checkClass, type Target, type ResolvedTarget } from './target.js';
export { featureMaps, type FeatureMapsOptions, type FeatureMapsResult } from './feature-maps.js';
export { firstLayerFilters, inputChannelOrder, type FiltersResult } from './filters.js';
export { sanityCheck, cascadeLayers, type SanityCheckOptions, type SanityCheckResult } from './sanity-check.js';
export { spearman, spearmanAbs, pearson, ssim, normalize01 } from './stats.js';
export { projectionToImage, attributionImage, heatImage, cropPixels, cropPadded, fitBox, NORMALIZATIONS, type ProjectionNormalization, type Box } from './render.js';
export { unitBoxes, layerReceptiveField } from './receptive.js';
export { fitImage, loadFitted, collectImageFiles, imageFiles, flipHorizontal, type FitMode } from './images.js';
export { MaximaCache, cacheFolderName, type CacheMeta } from './top9/cache.js';
export { scanMaxima, topK, strongestUnits, fileKey, type ActivationFn, type ScanOptions, type ScanResult, type ScanProgress, type TopEntry, type UnitTop } from './top9/scan.js';
export { renderTopUnits, layerFigure, type UnitFigure, type RenderTopOptions } from './top9/render.js';
export { runTop9, spreadUnits, type Top9Hooks, type Top9Result } from './top9/run.js';
export { runAttribute, runProject, runOcclusion, runSanity, runFeatures, runFilters, runReport, methodOptionsOf, type RunHooks, type RunOutput, type AttributeRunResult } from './runs.js';
export { zeilerFergusFigure, deconvnetDemo, augmentPhoto, defaultFigureLayers, type ZeilerFergusFigureResult, type DeconvDemoResult } from './figure.js';
export { describeLayers, formatLayers, type LayersResult } from './layers.js';
export { estimateMemory, checkRunMemory, activationFloats, type MemoryPlan, type MemoryEstimate } from './memory-estimate.js';
export { checkSizeForModel, checkTargetForModel, checkUnitSelection, checkOcclusionFlags, layerChannels, memoryPlan, checkCallMemory, type MemoryCall } from './checks.js';
export { prepareRunIo, missingDirs, removeEmptyDirs, refuseInsideInputFolders, type RunIo } from './outputs.js';
export * from './options.js';
