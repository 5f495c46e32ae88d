/**
 * @convlab/style: neural style transfer (Gatys, Ecker & Bethge 2015/2016) as a library: `stylize` and its
 * option schema `StylizeOptions`, the objective (./gatys.ts), its variants (sliced Wasserstein, softmax
 * features, colour preservation), the optimisers, and the run record, plot, report and output files of a
 * run. See README.md.
 */
export { stylize, loadFeatureNet, type StylizeProgress, type StylizeHooks, type StylizeResult } from './stylize.js';
export * from './options.js';
export * from './gatys.js';
export * from './sliced-wasserstein.js';
export * from './softmax-features.js';
export * from './color-preservation.js';
export * from './style-losses.js';
export * from './optimizers/index.js';
export { randomMultiscaleNet, fromConvNet, type FeatureNet, type ConvNetLike, type RandomNetOptions } from './features.js';
export { estimateMemoryBytes, checkMemory, defaultMemoryLimit, LBFGS_HISTORY } from './memory-estimate.js';
export * from './record.js';
export { writeLossPlot, lossSeries } from './plot.js';
export { styleReportSections, writeStyleReport } from './report.js';
export { createProgressReporter } from './progress.js';
export * from './outputs.js';
export * from './batch.js';
export * from './fast-index.js';
