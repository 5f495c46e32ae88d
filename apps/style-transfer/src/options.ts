/**
 * Options of a style-transfer run: defaults per backbone and validation that turns every bad value into one
 * ConvlabError naming the option (or, for the CLI, its flag) and the fix, with @convlab/core's range messages
 * ("iterations 0 is out of range: it must be an integer >= 1"). Layer names are checked later against the
 * loaded network.
 */
import { ConvlabError, checkNumber, type NumberRange, type RgbImage } from '@convlab/core';
import type { ColorSpace } from './color.js';
import type { ContentNorm, StyleNorm } from './losses.js';

export const BACKBONES = ['inception_v3', 'mobilenet_v2', 'vgg19', 'vgg16', 'random_multiscale'] as const;
export type Backbone = (typeof BACKBONES)[number];
export type StyleLossKind = 'gram' | 'sw';
export type Optimizer = 'lbfgs' | 'adam';
export type InitKind = 'content' | 'style' | 'noise';
export type PreserveColor = 'none' | 'luminance' | 'histogram';

export interface StylizeOptions {
  /** Content image path or decoded image. */
  content: string | RgbImage;
  /** One or more style images. */
  style: (string | RgbImage)[];
  /** Blend weights of the styles (normalised to sum 1). Default: equal. */
  styleBlend?: number[];
  backbone?: Backbone;
  /** Weights: 'default', 'random' or a path (VGG .h5 / tfjs folder). */
  weights?: string;
  contentLayers?: string[];
  styleLayers?: string[];
  /** Per-style-layer weights (normalised to sum 1). Default: equal. */
  styleLayerWeights?: number[];
  contentWeight?: number;
  styleWeight?: number;
  tvWeight?: number;
  styleLoss?: StyleLossKind;
  /** Per-layer style loss normalisation: 'target' (relative to the style's own statistics) or 'gatys'. */
  styleNorm?: StyleNorm;
  contentNorm?: ContentNorm;
  /** Softmax features (Wang et al. 2021) with this temperature; 0 = off. */
  softmaxTemperature?: number;
  /** Sliced-Wasserstein projections per layer (0 = as many as channels). */
  swProjections?: number;
  optimizer?: Optimizer;
  /** Iterations of the final (largest) stage. */
  iterations?: number;
  /** Iterations of each earlier multi-scale stage (default: same as iterations). */
  stageIterations?: number;
  learningRate?: number;
  init?: InitKind;
  seed?: number;
  /** Longer side of the output in pixels. */
  size?: number;
  /** Style image size relative to the output's longer side. */
  styleScale?: number;
  /** Coarse-to-fine: 'auto' (on above 512 px), true, false, or explicit stage sizes ending at `size`. */
  multiscale?: 'auto' | boolean | number[];
  preserveColor?: PreserveColor;
  colorSpace?: ColorSpace;
  /** Pooling in the network: 'avg' (Gatys et al. 2016) or the network's own 'max'. */
  pool?: 'max' | 'avg';
  backend?: string;
  /** Refuse runs whose estimated memory exceeds this many bytes (default: 80% of RAM). */
  maxMemoryBytes?: number;
  /** Call onCheckpoint every this many iterations (0 = never). */
  saveEvery?: number;
}

export interface BackboneDefaults {
  contentLayers: string[];
  styleLayers: string[];
  styleWeight: number;
  contentWeight: number;
  tvWeight: number;
}

/** Layer and weight defaults for every backbone (chosen by the comparison in docs/comparison.md). */
export const BACKBONE_DEFAULTS: Record<Backbone, BackboneDefaults> = {
  inception_v3: {
    contentLayers: ['mixed3'],
    styleLayers: ['activation_1', 'activation_3', 'activation_5', 'mixed0', 'mixed2', 'mixed4'],
    styleWeight: 100,
    contentWeight: 1,
    tvWeight: 0.1,
  },
  mobilenet_v2: {
    contentLayers: ['block_6_expand_relu'],
    styleLayers: ['Conv1_relu', 'block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu'],
    styleWeight: 100,
    contentWeight: 1,
    tvWeight: 0.1,
  },
  vgg19: {
    contentLayers: ['conv4_2'],
    styleLayers: ['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1'],
    styleWeight: 100,
    contentWeight: 1,
    tvWeight: 0.1,
  },
  vgg16: {
    contentLayers: ['conv4_2'],
    styleLayers: ['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1'],
    styleWeight: 100,
    contentWeight: 1,
    tvWeight: 0.1,
  },
  random_multiscale: {
    contentLayers: ['scale2_2'],
    styleLayers: ['scale0', 'scale0_2', 'scale1', 'scale1_2', 'scale2', 'scale2_2', 'scale3', 'scale3_2', 'scale4', 'scale4_2'],
    styleWeight: 100,
    contentWeight: 1,
    tvWeight: 0.1,
  },
};

export const DEFAULTS = {
  backbone: 'inception_v3' as Backbone,
  weights: 'default',
  styleLoss: 'gram' as StyleLossKind,
  styleNorm: 'target' as StyleNorm,
  contentNorm: 'variance' as ContentNorm,
  softmaxTemperature: 0,
  swProjections: 0,
  optimizer: 'lbfgs' as Optimizer,
  iterations: 200,
  learningRate: 1,
  adamLearningRate: 0.03,
  init: 'content' as InitKind,
  seed: 0,
  size: 512,
  styleScale: 1,
  multiscale: 'auto' as const,
  preserveColor: 'none' as PreserveColor,
  colorSpace: 'yiq' as ColorSpace,
  pool: 'avg' as const,
  saveEvery: 0,
};

/** Fully resolved options (every field set), as written to the run record. */
export interface ResolvedOptions {
  content: string | RgbImage;
  style: (string | RgbImage)[];
  styleBlend: number[];
  backbone: Backbone;
  weights: string;
  contentLayers: string[];
  styleLayers: string[];
  styleLayerWeights: number[];
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  styleLoss: StyleLossKind;
  styleNorm: StyleNorm;
  contentNorm: ContentNorm;
  softmaxTemperature: number;
  swProjections: number;
  optimizer: Optimizer;
  iterations: number;
  stageIterations: number;
  learningRate: number;
  init: InitKind;
  seed: number;
  size: number;
  styleScale: number;
  stages: number[];
  preserveColor: PreserveColor;
  colorSpace: ColorSpace;
  pool: 'max' | 'avg';
  backend: string;
  maxMemoryBytes?: number;
  saveEvery: number;
}

/** The CLI flag of each option (error messages name the flag when resolveOptions runs for the CLI). */
export const OPTION_FLAGS: Record<keyof StylizeOptions, string> = {
  content: '--content',
  style: '--style',
  styleBlend: '--style-blend',
  backbone: '--backbone',
  weights: '--weights',
  contentLayers: '--content-layers',
  styleLayers: '--style-layers',
  styleLayerWeights: '--style-layer-weights',
  contentWeight: '--content-weight',
  styleWeight: '--style-weight',
  tvWeight: '--tv-weight',
  styleLoss: '--style-loss',
  styleNorm: '--style-norm',
  contentNorm: '--content-norm',
  softmaxTemperature: '--softmax-temperature',
  swProjections: '--sw-projections',
  optimizer: '--optimizer',
  iterations: '--iterations',
  stageIterations: '--stage-iterations',
  learningRate: '--lr',
  init: '--init',
  seed: '--seed',
  size: '--size',
  styleScale: '--style-scale',
  multiscale: '--multiscale',
  preserveColor: '--preserve-color',
  colorSpace: '--color-space',
  pool: '--pool',
  backend: '--backend',
  maxMemoryBytes: '--max-memory-gb',
  saveEvery: '--save-every',
};

export const MAX_SIZE = 8192;
export const MAX_ITERATIONS = 100_000;

/** Range of every numeric option (the CLI's flags use these too; see CLI_RANGES for where they differ). */
export const OPTION_RANGES = {
  styleBlend: { min: 0, example: '1,1' },
  styleLayerWeights: { min: 0, example: '1,1,1' },
  contentWeight: { min: 0, example: 1 },
  styleWeight: { min: 0, example: 100 },
  tvWeight: { min: 0, example: 0.1 },
  /** 0 = off. */
  softmaxTemperature: { min: 0, example: 4 },
  /** 0 = as many projections as channels. */
  swProjections: { integer: true, min: 0, max: 65536, example: 64 },
  iterations: { integer: true, min: 1, max: MAX_ITERATIONS, example: 200 },
  stageIterations: { integer: true, min: 1, max: MAX_ITERATIONS, example: 100 },
  learningRate: { gt: 0, max: 1e6, example: 1 },
  seed: { integer: true, min: 0, max: 2 ** 32 - 1, example: 0 },
  size: { integer: true, min: 16, max: MAX_SIZE, example: 512 },
  styleScale: { gt: 0, max: 8, example: 1 },
  multiscale: { integer: true, min: 16, max: MAX_SIZE, example: '256,512' },
  maxMemoryBytes: { gt: 0, example: 8e9 },
  /** 0 = never. */
  saveEvery: { integer: true, min: 0, example: 50 },
} satisfies Partial<Record<keyof StylizeOptions, NumberRange>>;

/** Where a CLI flag's range differs from the option's: the "off" value 0 is not a flag value. */
export const CLI_RANGES: Partial<Record<keyof typeof OPTION_RANGES, NumberRange>> = {
  swProjections: { integer: true, min: 1, max: 65536, example: 64 },
  saveEvery: { integer: true, min: 1, max: MAX_ITERATIONS, example: 50 },
  maxMemoryBytes: { gt: 0, example: 8 },
};

/** How errors name options: by option key (library) or by CLI flag. */
export type Naming = 'options' | 'flags';

function label(option: keyof StylizeOptions, naming: Naming): string {
  return naming === 'flags' ? OPTION_FLAGS[option] : option;
}

function bad(option: string, message: string, hint: string): never {
  throw new ConvlabError(`${option}: ${message}`, { hint });
}

function ranged(option: keyof typeof OPTION_RANGES, v: number, naming: Naming): number {
  return checkNumber(v, label(option, naming), OPTION_RANGES[option]);
}

/** Weights that must be >= 0 and not all 0; returned normalised to sum 1. */
export function normaliseWeights(option: string, weights: number[], count: number, what: string): number[] {
  if (weights.length !== count) bad(option, `has ${weights.length} values but there are ${count} ${what}`, `give one weight per ${what.replace(/s$/, '')}`);
  for (const w of weights) checkNumber(w, option, { min: 0 });
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) bad(option, `weights sum to 0`, `give at least one ${what.replace(/s$/, '')} a positive weight`);
  return weights.map((w) => w / sum);
}

/** Multi-scale stage sizes: halve from `size` while above 256 px, e.g. 1024 -> [256, 512, 1024]. */
export function stageSizes(size: number, multiscale: StylizeOptions['multiscale']): number[] {
  if (Array.isArray(multiscale)) return multiscale;
  const on = multiscale === true || (multiscale === 'auto' && size > 512);
  if (!on) return [size];
  const stages = [size];
  while (stages[0] > 256 * 1.5) stages.unshift(Math.round(stages[0] / 2));
  if (stages.length === 1) stages.unshift(Math.round(size / 2));
  return stages;
}

function oneOf<T extends string>(option: string, v: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(v)) bad(option, `unknown value "${v}"`, `use one of: ${values.join(', ')}`);
  return v as T;
}

/**
 * Fill defaults and validate everything that does not need the network. `naming: 'flags'` (the CLI)
 * names the flags in messages (--lr, --size) instead of the option keys (learningRate, size).
 */
export function resolveOptions(o: StylizeOptions, naming: Naming = 'options'): ResolvedOptions {
  const n = (option: keyof StylizeOptions) => label(option, naming);
  if (o.content === undefined || o.content === '') bad(n('content'), 'no content image given', 'pass a content image path');
  if (!o.style || o.style.length === 0) bad(n('style'), 'no style image given', 'pass at least one style image');
  const backbone = oneOf(n('backbone'), o.backbone ?? DEFAULTS.backbone, BACKBONES);
  const d = BACKBONE_DEFAULTS[backbone];
  const styleLayers = o.styleLayers ?? d.styleLayers;
  const contentLayers = o.contentLayers ?? d.contentLayers;
  if (styleLayers.length === 0) bad(n('styleLayers'), 'no style layer given', 'name at least one layer');
  if (contentLayers.length === 0 && (o.contentWeight ?? d.contentWeight) > 0) bad(n('contentLayers'), 'no content layer given', 'name a layer or set the content weight to 0');
  const optimizer = oneOf(n('optimizer'), o.optimizer ?? DEFAULTS.optimizer, ['lbfgs', 'adam'] as const);
  const size = ranged('size', o.size ?? DEFAULTS.size, naming);
  const iterations = ranged('iterations', o.iterations ?? DEFAULTS.iterations, naming);
  const stages = stageSizes(size, o.multiscale ?? DEFAULTS.multiscale);
  stages.forEach((s) => ranged('multiscale', s, naming));
  if (stages[stages.length - 1] !== size) bad(n('multiscale'), `the last stage (${stages[stages.length - 1]}) must equal size (${size})`, 'end the stage list with the output size');
  const styleScale = ranged('styleScale', o.styleScale ?? DEFAULTS.styleScale, naming);
  const learningRate = ranged('learningRate', o.learningRate ?? (optimizer === 'adam' ? DEFAULTS.adamLearningRate : DEFAULTS.learningRate), naming);
  const contentWeight = ranged('contentWeight', o.contentWeight ?? d.contentWeight, naming);
  const styleWeight = ranged('styleWeight', o.styleWeight ?? d.styleWeight, naming);
  const tvWeight = ranged('tvWeight', o.tvWeight ?? d.tvWeight, naming);
  if (contentWeight + styleWeight === 0) bad(n('styleWeight'), 'content and style weights are both 0', 'give the style a positive weight');
  const softmaxTemperature = ranged('softmaxTemperature', o.softmaxTemperature ?? DEFAULTS.softmaxTemperature, naming);
  const swProjections = ranged('swProjections', o.swProjections ?? DEFAULTS.swProjections, naming);
  const maxMemoryBytes = o.maxMemoryBytes === undefined ? undefined : ranged('maxMemoryBytes', o.maxMemoryBytes, naming);
  return {
    content: o.content,
    style: o.style,
    styleBlend: normaliseWeights(n('styleBlend'), o.styleBlend ?? o.style.map(() => 1), o.style.length, 'style images'),
    backbone,
    weights: o.weights ?? DEFAULTS.weights,
    contentLayers,
    styleLayers,
    styleLayerWeights: normaliseWeights(n('styleLayerWeights'), o.styleLayerWeights ?? styleLayers.map(() => 1), styleLayers.length, 'style layers'),
    contentWeight,
    styleWeight,
    tvWeight,
    styleLoss: oneOf(n('styleLoss'), o.styleLoss ?? DEFAULTS.styleLoss, ['gram', 'sw'] as const),
    styleNorm: oneOf(n('styleNorm'), o.styleNorm ?? DEFAULTS.styleNorm, ['target', 'gatys'] as const),
    contentNorm: oneOf(n('contentNorm'), o.contentNorm ?? DEFAULTS.contentNorm, ['variance', 'gatys'] as const),
    softmaxTemperature,
    swProjections,
    optimizer,
    iterations,
    stageIterations: ranged('stageIterations', o.stageIterations ?? iterations, naming),
    learningRate,
    init: oneOf(n('init'), o.init ?? DEFAULTS.init, ['content', 'style', 'noise'] as const),
    seed: ranged('seed', o.seed ?? DEFAULTS.seed, naming),
    size,
    styleScale,
    stages,
    preserveColor: oneOf(n('preserveColor'), o.preserveColor ?? DEFAULTS.preserveColor, ['none', 'luminance', 'histogram'] as const),
    colorSpace: oneOf(n('colorSpace'), o.colorSpace ?? DEFAULTS.colorSpace, ['yiq', 'yuv'] as const),
    pool: oneOf(n('pool'), o.pool ?? DEFAULTS.pool, ['max', 'avg'] as const),
    backend: o.backend ?? process.env.CONVLAB_BACKEND ?? 'auto',
    maxMemoryBytes,
    saveEvery: ranged('saveEvery', o.saveEvery ?? DEFAULTS.saveEvery, naming),
  };
}
