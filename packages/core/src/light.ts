/**
 * The part of @convlab/core that loads neither TensorFlow.js nor sharp: errors, number checks and option
 * schemas. The pipelines' option modules and job-kind modules import `@convlab/core/light`, so validating
 * options, printing --help or listing the studio's job kinds never starts the engine. The same modules
 * are re-exported by the main entry (one ConvlabError class, one `z`).
 */
export * from './errors.js';
export * from './flags.js';
export * from './options.js';
