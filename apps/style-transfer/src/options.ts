/**
 * Options of a style-transfer run: defaults per backbone and validation that turns every bad value into one
 * ConvlabError naming the option and the fix. Layer names are checked later against the loaded network.
 */
import { ConvlabError, type RgbImage } from '@convlab/core';
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

function bad(option: string, message: string, hint: string): never {
  throw new ConvlabError(`${option}: ${message}`, { hint });
}

function finiteNonNegative(option: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) bad(option, `must be a number >= 0, got ${v}`, `pass a non-negative number`);
  return v;
}

function positiveInt(option: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) bad(option, `must be an integer >= ${min}, got ${v}`, `pass a whole number >= ${min}`);
  return v;
}

/** Weights that must be >= 0 and not all 0; returned normalised to sum 1. */
export function normaliseWeights(option: string, weights: number[], count: number, what: string): number[] {
  if (weights.length !== count) bad(option, `has ${weights.length} values but there are ${count} ${what}`, `give one weight per ${what.replace(/s$/, '')}`);
  for (const w of weights) finiteNonNegative(option, w);
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

/** Fill defaults and validate everything that does not need the network. */
export function resolveOptions(o: StylizeOptions): ResolvedOptions {
  if (o.content === undefined || o.content === '') bad('content', 'no content image given', 'pass a content image path');
  if (!o.style || o.style.length === 0) bad('style', 'no style image given', 'pass at least one style image');
  const backbone = oneOf('backbone', o.backbone ?? DEFAULTS.backbone, BACKBONES);
  const d = BACKBONE_DEFAULTS[backbone];
  const styleLayers = o.styleLayers ?? d.styleLayers;
  const contentLayers = o.contentLayers ?? d.contentLayers;
  if (styleLayers.length === 0) bad('styleLayers', 'no style layer given', 'name at least one layer');
  if (contentLayers.length === 0 && (o.contentWeight ?? d.contentWeight) > 0) bad('contentLayers', 'no content layer given', 'name a layer or set the content weight to 0');
  const optimizer = oneOf('optimizer', o.optimizer ?? DEFAULTS.optimizer, ['lbfgs', 'adam'] as const);
  const size = positiveInt('size', o.size ?? DEFAULTS.size, 16);
  if (size > 8192) bad('size', `${size} px is beyond 8192`, 'use a smaller --size');
  const iterations = positiveInt('iterations', o.iterations ?? DEFAULTS.iterations);
  const stages = stageSizes(size, o.multiscale ?? DEFAULTS.multiscale);
  stages.forEach((s) => positiveInt('multiscale', s, 16));
  if (stages[stages.length - 1] !== size) bad('multiscale', `the last stage (${stages[stages.length - 1]}) must equal size (${size})`, 'end the stage list with the output size');
  const styleScale = o.styleScale ?? DEFAULTS.styleScale;
  if (!(styleScale > 0) || styleScale > 8) bad('styleScale', `must be in (0, 8], got ${styleScale}`, 'use e.g. 0.5 for finer or 2 for coarser strokes');
  const learningRate = o.learningRate ?? (optimizer === 'adam' ? DEFAULTS.adamLearningRate : DEFAULTS.learningRate);
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) bad('learningRate', `must be > 0, got ${learningRate}`, 'pass a positive learning rate');
  const contentWeight = finiteNonNegative('contentWeight', o.contentWeight ?? d.contentWeight);
  const styleWeight = finiteNonNegative('styleWeight', o.styleWeight ?? d.styleWeight);
  const tvWeight = finiteNonNegative('tvWeight', o.tvWeight ?? d.tvWeight);
  if (contentWeight + styleWeight === 0) bad('styleWeight', 'content and style weights are both 0', 'give the style a positive weight');
  const softmaxTemperature = finiteNonNegative('softmaxTemperature', o.softmaxTemperature ?? DEFAULTS.softmaxTemperature);
  const swProjections = o.swProjections ?? DEFAULTS.swProjections;
  if (swProjections !== 0) positiveInt('swProjections', swProjections);
  const maxMemoryBytes = o.maxMemoryBytes;
  if (maxMemoryBytes !== undefined && !(maxMemoryBytes > 0)) bad('maxMemoryBytes', `must be > 0`, 'pass a byte count');
  return {
    content: o.content,
    style: o.style,
    styleBlend: normaliseWeights('styleBlend', o.styleBlend ?? o.style.map(() => 1), o.style.length, 'style images'),
    backbone,
    weights: o.weights ?? DEFAULTS.weights,
    contentLayers,
    styleLayers,
    styleLayerWeights: normaliseWeights('styleLayerWeights', o.styleLayerWeights ?? styleLayers.map(() => 1), styleLayers.length, 'style layers'),
    contentWeight,
    styleWeight,
    tvWeight,
    styleLoss: oneOf('styleLoss', o.styleLoss ?? DEFAULTS.styleLoss, ['gram', 'sw'] as const),
    styleNorm: oneOf('styleNorm', o.styleNorm ?? DEFAULTS.styleNorm, ['target', 'gatys'] as const),
    contentNorm: oneOf('contentNorm', o.contentNorm ?? DEFAULTS.contentNorm, ['variance', 'gatys'] as const),
    softmaxTemperature,
    swProjections,
    optimizer,
    iterations,
    stageIterations: positiveInt('stageIterations', o.stageIterations ?? iterations),
    learningRate,
    init: oneOf('init', o.init ?? DEFAULTS.init, ['content', 'style', 'noise'] as const),
    seed: positiveInt('seed', o.seed ?? DEFAULTS.seed, 0),
    size,
    styleScale,
    stages,
    preserveColor: oneOf('preserveColor', o.preserveColor ?? DEFAULTS.preserveColor, ['none', 'luminance', 'histogram'] as const),
    colorSpace: oneOf('colorSpace', o.colorSpace ?? DEFAULTS.colorSpace, ['yiq', 'yuv'] as const),
    pool: oneOf('pool', o.pool ?? DEFAULTS.pool, ['max', 'avg'] as const),
    backend: o.backend ?? process.env.CONVLAB_BACKEND ?? 'auto',
    maxMemoryBytes,
    saveEvery: positiveInt('saveEvery', o.saveEvery ?? DEFAULTS.saveEvery, 0),
  };
}
