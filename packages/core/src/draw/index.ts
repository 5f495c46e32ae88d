export * from './colormap.js';
export * from './fonts.js';
export * from './grid.js';
export * from './heatmap.js';
export * from './caption.js';
export * from './plot.js';
export { niceTicks, niceBounds, formatTick } from './ticks.js';
export { THEME, canvasToImage, toImageData, drawImageInto, wrapText, type Resample } from './surface.js';
