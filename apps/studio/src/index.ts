export * from './sections.js';
export { runDemo } from './demo.js';
export type { DemoOptions, DemoResult } from './demo.js';
export { allSections } from './registry.js';
