/**
 * @convlab/visualize: look inside ConvNets. Zeiler & Fergus deconvnet projections, top-9 over a
 * dataset, occlusion sensitivity, guided backprop, saliency, SmoothGrad, Grad-CAM and guided
 * Grad-CAM behind one interface (captum's `attribute()`), feature maps, filters, the Adebayo et al.
 * sanity check, and the library calls behind convlab-deconv with their option schemas.
 */
export {
  METHOD_NAMES,
  DEFAULT_METHODS,
  zeroMapWarnings,
  METHOD_TITLES,
  BaseMethod,
  heatFromPixels,
  imageGradient,
  toBatch,
  type AttributionMap,
  type AttributionMethod,
  type MethodName,
} from './attribution.js';
export {
  createMethod,
  parseMethodName,
  Deconvnet,
  GuidedBackprop,
  Saliency,
  SmoothGrad,
  GradCam,
  GuidedGradCam,
  IntegratedGradients,
  InputXGradient,
  VarGrad,
  GradCamPlusPlus,
  ScoreCam,
  LayerCam,
  OcclusionWindows,
  type MethodOptions,
} from './methods/index.js';
export { IG_RULES, DEFAULT_IG_STEPS, DEFAULT_IG_MAX_STEPS, DEFAULT_IG_RULE, type IgRule } from './names.js';
export { pathPoints, gaussLegendre, pathDerivatives, nestedRule, type IntegratedGradientsOptions, type Completeness } from './methods/integrated-gradients.js';
export { gradCamPlusPlusMap } from './methods/gradcam-plus-plus.js';
export { layerCamMap, fuseLayerCams, type LayerCamOptions } from './methods/layercam.js';
export type { ScoreCamOptions } from './methods/score-cam.js';
export type { VarGradOptions } from './methods/vargrad.js';
export { windowStarts, type OcclusionWindowOptions } from './methods/occlusion-windows.js';
export { baselineImage, gaussianBlur, targetScores, zeroPixel, type Baseline, type BaselineOptions } from './methods/scores.js';
export { faithfulness, deletionInsertion, targetScorer, trapezoidArea, rankPixels, type FaithfulnessOptions, type FaithfulnessResult, type Curve, type BatchScorer } from './faithfulness.js';
export { featureVisualization, deepDream, type FeatureVizOptions, type FeatureVizResult, type DeepDreamOptions } from './featureviz/optimize.js';
export { parseObjectives, resolveObjective, evaluateObjectives, diversity, type Objective, type ObjectiveTerm } from './featureviz/objectives.js';
export { imageParam, irfft2d, rfft2dFreqs, colorCorrelationNormalized, COLOR_CORRELATION_SVD_SQRT, type ImageParam, type ImageParamOptions, type ParamKind } from './featureviz/parameterization.js';
export { transformBatch, seededRandom, STANDARD_TRANSFORMS, NO_TRANSFORMS, type TransformOptions } from './featureviz/transforms.js';
export { projectUnitBatch } from './methods/deconvnet.js';
export { gradCam, camLayerFor, type GradCamOptions } from './methods/gradcam.js';
export type { SmoothGradOptions } from './methods/smoothgrad.js';
export { occlusion, occlusionForModel, occlusionGrid, upsampleGrid, type OcclusionMapOptions, type OcclusionResult, type OcclusionScorer } from './methods/occlusion.js';
export { backwardOptions } from './backward-rules.js';
export { resolveTarget, resolveClassIndex, classNameOf, predictTopK, headClasses, classLogits, spatialLayers, checkUnit, checkClass, rankingLayer, type Target, type ResolvedTarget } from './target.js';
export { featureMaps, type FeatureMapsOptions, type FeatureMapsResult } from './feature-maps.js';
export { firstLayerFilters, inputChannelOrder, type FiltersResult } from './filters.js';
export { sanityCheck, cascadeLayers, type SanityCheckOptions, type SanityCheckResult } from './sanity-check.js';
export { spearman, spearmanAbs, pearson, ssim, normalize01 } from './stats.js';
export { projectionToImage, projectionScale, mapScale, sharedScales, attributionImage, heatImage, cropPixels, cropPadded, fitBox, NORMALIZATIONS, type ProjectionNormalization, type Box } from './render.js';
export { unitBoxes, layerReceptiveField } from './receptive.js';
export { fitImage, loadFitted, collectImageFiles, imageFiles, flipHorizontal, type FitMode } from './images.js';
export { MaximaCache, cacheFolderName, type CacheMeta } from './top9/cache.js';
export { scanMaxima, topK, strongestUnits, fileKey, type ActivationFn, type ScanOptions, type ScanResult, type ScanProgress, type TopEntry, type UnitTop } from './top9/scan.js';
export { renderTopUnits, layerFigure, type UnitFigure, type RenderTopOptions } from './top9/render.js';
export { runTop9, spreadUnits, type Top9Hooks, type Top9Result } from './top9/run.js';
export { planShards, planTop9, scanTop9Shard, mergeTop9Shards, renderMergedTop9, runTop9Sharded, selectUnits, type Top9Shard, type Top9Plan, type ShardRange, type MergedTop9Result } from './top9/shards.js';
export { runAttribute, runProject, runOcclusion, runSanity, runFeatures, runFilters, runReport, runFeatureViz, runDeepDream, methodOptionsOf, methodSummary, classMapImage, legendHtml, withDiversity, weightsLine, type RunHooks, type RunOutput, type AttributeRunResult, type MapFaithfulness, type SanityRunResult, type FeatureVizRunResult, type ClassMapEntry } from './runs.js';
export { runDossier, BUNDLED_PHOTOS, type DossierResult } from './dossier.js';
export { zeilerFergusFigure, deconvnetDemo, augmentPhoto, defaultFigureLayers, type ZeilerFergusFigureResult, type DeconvDemoResult } from './figure.js';
export { describeLayers, formatLayers, type LayersResult } from './layers.js';
export { estimateMemory, checkRunMemory, activationFloats, type MemoryPlan, type MemoryEstimate } from './memory-estimate.js';
export { checkSizeForModel, checkTargetForModel, checkUnitSelection, checkOcclusionFlags, layerChannels, memoryPlan, checkCallMemory, type MemoryCall } from './checks.js';
export { prepareRunIo, missingDirs, removeEmptyDirs, refuseInsideInputFolders, type RunIo } from './outputs.js';
export * from './options.js';
