export { createStudio } from './app.js';
export type { Studio, StudioOptions } from './app.js';
export { DEMO_JOBS, demoId } from './demo.js';
export type { DemoJob } from './demo.js';
export { DEFAULT_KIND_MODULES } from './kinds.js';
export { IMAGE_FIELD_NAMES } from './references.js';
export { DEFAULT_UPLOAD_LIMITS } from './uploads.js';
export type { UploadLimits } from './uploads.js';
