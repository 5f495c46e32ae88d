export { stylize, loadFeatureNet, type StylizeProgress, type StylizeHooks, type StylizeResult } from './stylize.js';
export { resolveOptions, stageSizes, normaliseWeights, BACKBONES, BACKBONE_DEFAULTS, DEFAULTS, type StylizeOptions, type ResolvedOptions, type Backbone } from './options.js';
export * from './losses.js';
export * from './color.js';
export { randomMultiscaleNet, fromConvNet, type FeatureNet } from './features.js';
export { estimateMemoryBytes, checkMemory } from './memory-estimate.js';
export { createStyleRecord, allLosses, type StyleRunRecord, type IterationLosses } from './record.js';
export { writeLossPlot } from './plot.js';
export { styleReportSections, writeStyleReport } from './report.js';
