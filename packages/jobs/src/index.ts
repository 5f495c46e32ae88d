/**
 * @convlab/jobs: one job interface (submit, progress events, cancel, result, list) and its embedded driver,
 * a pool of warm worker processes with each job's state and files under a runs folder. Kinds are declared
 * with defineJobKind (see ./kind, light enough for any package to import); a BullMQ/Redis driver can plug
 * in behind the same JobQueue interface, reusing the worker loop and runJobInProcess.
 */
export * from './kind.js';
export type { JobQueue, SubmitOptions, ListOptions } from './types.js';
export { createEmbeddedQueue, STOPPED_MESSAGE, type EmbeddedQueue, type EmbeddedQueueOptions, type WorkerSummary } from './embedded.js';
export { runJobInProcess, createJobContext, type RunInProcessOptions, type JobContextHandle } from './run.js';
export { parseJobInput, JobInputError } from './input.js';
export { createWorkerLoop, toJobError, type WorkerLoop } from './worker-loop.js';
export { loadKinds, resolveKindsModule, KindsModuleError } from './modules.js';
export type { ParentMessage, WorkerMessage, RunMessage, InitMessage, CancelMessage, RunEvent } from './protocol.js';
export { JOB_ID_PATTERN, isValidJobId, safeRelativePath, mimeOf, jobDir, jobFile, stagingDir, filesDir, JOB_FILE, STAGING_DIR, FILES_DIR } from './layout.js';
