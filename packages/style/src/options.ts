/**
 * The options of a style-transfer run, declared once: `StylizeOptions` (zod) gives the TypeScript types,
 * the validation with messages naming the flag (CLI) or the field (code, HTTP), the CLI's flags and
 * `--help` (`addOptions(command, StylizeOptions)`), the JSON Schema of the studio's form and the run
 * record's parameters. Defaults that depend on the backbone (layers and weights) and on the optimiser
 * (learning rate) are filled after parsing by `resolveStylizeOptions`, which also runs the checks that
 * involve several fields. Layer names are checked later, against the loaded network.
 */
import { ConvlabError, checkNumber, kebab, parseOptions, z, type NumberRange, type OptionSource } from '@convlab/core/light';
import type { RgbImage } from '@convlab/core';

export const BACKBONES = ['inception_v3', 'mobilenet_v2', 'vgg19', 'vgg16', 'random_multiscale'] as const;
export type Backbone = (typeof BACKBONES)[number];
export const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
/**
 * The style statistics --style-loss chooses from (their factories are in ./style-losses.ts, whose type
 * check requires one per name). Declared here so that this module loads no tfjs.
 */
export const STYLE_LOSS_NAMES = ['gram', 'sw'] as const;
export type StyleLossName = (typeof STYLE_LOSS_NAMES)[number];

export interface BackboneDefaults {
  contentLayers: string[];
  styleLayers: string[];
  styleWeight: number;
  contentWeight: number;
  tvWeight: number;
}

/** Layer and weight defaults for every backbone (chosen by the comparison in apps/style-transfer/docs). */
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

/**
 * Pooling when --pool is not given: VGG16/19 with trained weights (`imagenet`, `default` = the cached Keras file,
 * or a file given by path) run the classic setup of jcjohnson/neural-style and the PyTorch tutorial: the
 * layers above and the network's own max pooling. Everything else (the offline trunks, random weights, the
 * random multi-scale net) keeps average pooling, the variant Gatys et al. preferred and the one the defaults
 * were measured with.
 */
export function defaultPool(backbone: Backbone, weights: string): 'avg' | 'max' {
  return (backbone === 'vgg16' || backbone === 'vgg19') && weights !== 'random' ? 'max' : 'avg';
}

export const DEFAULT_BACKBONE: Backbone = 'inception_v3';
/** Learning rate when --lr is not given, per optimiser. */
export const DEFAULT_LR = { lbfgs: 1, adam: 0.03 } as const;
/**
 * Border and grid fixes (issue 16; ./gatys.ts networkView, measured with ./artifacts.ts in
 * apps/style-transfer/README.md "Cleaner output"): reflection padding in px, and the jitter in px when --jitter
 * is not given. L-BFGS needs the same objective from one step to the next, so with it a
 * shift holds for --jitter-every iterations and the optimiser restarts its memory at each new one.
 */
export const DEFAULT_PAD = 16;
export const DEFAULT_JITTER = { lbfgs: 1, adam: 1 } as const;
export const DEFAULT_JITTER_EVERY = 20;
export const MAX_PAD = 256;
export const MAX_JITTER = 64;
export const MAX_SIZE = 8192;
export const MAX_ITERATIONS = 100_000;
/** Each multi-scale stage size. */
export const STAGE_RANGE: NumberRange = { integer: true, min: 16, max: MAX_SIZE, example: '256,512' };

const isImage = (v: unknown): v is RgbImage =>
  typeof v === 'object' && v !== null && 'width' in v && 'height' in v && (v as { data?: unknown }).data instanceof Uint8Array;
/** An image path, or (from code) a decoded image. */
const ImageInput = z.union([z.string(), z.custom<RgbImage>(isImage, 'not an image')]);

type MultiscaleInput = 'auto' | 'on' | 'off' | boolean | number[] | string;
/** CLI text and booleans to 'auto' | 'on' | 'off' | [sizes]. */
function multiscaleValue(v: MultiscaleInput): unknown {
  if (v === true || v === 'true') return 'on';
  if (v === false || v === 'false') return 'off';
  if (typeof v === 'string' && /^[\s\d,.+-]+$/.test(v)) return v.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  return v;
}

const d = BACKBONE_DEFAULTS[DEFAULT_BACKBONE];
const perBackbone = (v: string | number | string[]) => `default per backbone, ${DEFAULT_BACKBONE}: ${Array.isArray(v) ? v.join(',') : v}`;

export const StylizeOptions = z.object({
  // inputs
  content: ImageInput.meta({ description: 'content image', placeholder: 'PATH' }),
  style: z.array(ImageInput).meta({ description: 'style image(s)', placeholder: 'A[,B...]' }),
  styleBlend: z.array(z.number().min(0)).optional().meta({ description: 'blend weights of the styles (default equal)', placeholder: 'W[,W...]' }),
  // network and losses
  backbone: z.enum(BACKBONES).default(DEFAULT_BACKBONE).meta({ description: `feature network: ${BACKBONES.join(', ')}`, placeholder: 'NAME' }),
  weights: z
    .string()
    .default('default')
    .meta({ description: "default | imagenet (Keras's ImageNet file from the weights cache, `convlab-models pull`) | random | path to a Keras .h5 / tfjs folder", placeholder: 'W' }),
  contentLayers: z.array(z.string()).optional().meta({ description: `content layers (${perBackbone(d.contentLayers)})`, placeholder: 'L[,L]' }),
  styleLayers: z.array(z.string()).optional().meta({ description: `style layers (${perBackbone(d.styleLayers)})`, placeholder: 'L[,L...]' }),
  styleLayerWeights: z.array(z.number().min(0)).optional().meta({ description: 'per-layer style weights w_l (default equal)', placeholder: 'W[,W...]' }),
  contentWeight: z.number().min(0).optional().describe(`content weight alpha (${perBackbone(d.contentWeight)})`),
  styleWeight: z.number().min(0).optional().describe(`style weight beta (${perBackbone(d.styleWeight)})`),
  tvWeight: z.number().min(0).optional().describe(`total-variation weight (${perBackbone(d.tvWeight)})`),
  styleLoss: z.enum(STYLE_LOSS_NAMES).default('gram').describe('Gram matrices, or sliced Wasserstein (Heitz et al. 2021)'),
  styleNorm: z.enum(['target', 'gatys']).default('target').describe("per-layer normalisation of the style loss (Gatys' 1/(4N^2M^2), or relative to the style's)"),
  contentNorm: z.enum(['variance', 'gatys']).default('variance').describe("content loss: mean squared error / target variance, or Gatys' 1/2 sum"),
  softmaxTemperature: z.number().min(0).default(0).meta({ description: 'softmax features (Wang et al. 2021) at this temperature; 0 = off', placeholder: 'T' }),
  swProjections: z.number().int().min(1).max(65536).optional().meta({ description: 'sliced-Wasserstein directions per layer (default: channel count)', placeholder: 'K' }),
  pool: z.enum(['avg', 'max']).optional().describe("pooling inside the network (avg: Gatys et al.'s variant; max: the network's own). Default max for VGG with trained weights (the classic setup), else avg"),
  pad: z
    .number()
    .int()
    .min(0)
    .max(MAX_PAD)
    .default(DEFAULT_PAD)
    .meta({ description: 'reflection padding in px around the image before the network, cropped after: no weakly stylized frame (0 = off, the plain objective)', placeholder: 'PX' }),
  jitter: z
    .number()
    .int()
    .min(0)
    .max(MAX_JITTER)
    .optional()
    .meta({ description: `random shift of the image by up to this many px at each Adam step (with lbfgs: every --jitter-every iterations), against the stride-2 grid texture (default ${DEFAULT_JITTER.adam}; 0 = off)`, placeholder: 'PX' }),
  jitterEvery: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(DEFAULT_JITTER_EVERY)
    .meta({ description: 'lbfgs with --jitter: iterations per shift; L-BFGS restarts its memory at each new shift', placeholder: 'N' }),
  // optimisation
  optimizer: z.enum(['lbfgs', 'adam']).default('lbfgs').describe('optimiser of the image'),
  iterations: z.number().int().min(1).max(MAX_ITERATIONS).default(200).describe('iterations of the final stage'),
  stageIterations: z.number().int().min(1).max(MAX_ITERATIONS).optional().describe('iterations of each earlier multi-scale stage (default: --iterations)'),
  lr: z.number().gt(0).max(1e6).optional().describe(`learning rate (default ${DEFAULT_LR.lbfgs} for lbfgs, ${DEFAULT_LR.adam} for adam)`),
  init: z.enum(['content', 'style', 'noise', 'image']).default('content').describe('starting image (image: --init-image, e.g. the previous frame of a video)'),
  initImage: ImageInput.optional().meta({ description: 'starting image with --init image (resized to each stage); batch --temporal sets it per frame', placeholder: 'PATH' }),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0).describe('same seed + same backend = same image bit for bit'),
  // size and colour
  size: z.number().int().min(16).max(MAX_SIZE).default(512).meta({ description: 'longer side of the output in px', placeholder: 'PX' }),
  styleScale: z.number().gt(0).max(8).default(1).describe('style image size relative to the output'),
  multiscale: z
    .preprocess<unknown, z.ZodType<'auto' | 'on' | 'off' | number[]>, MultiscaleInput>(
      multiscaleValue,
      z.union([z.enum(['auto', 'on', 'off']), z.array(z.number().int())], { error: 'must be auto, on, off or whole-number sizes in px, e.g. 256,512' }),
    )
    .default('auto')
    .meta({ description: `coarse-to-fine stages: auto (on above 512 px), on, off, or sizes (each 16..${MAX_SIZE}) ending at --size`, placeholder: 'auto|on|off|S1,S2,...' }),
  preserveColor: z.enum(['none', 'luminance', 'histogram']).default('none').describe("keep the content's colours (Gatys et al. 2016)"),
  colorSpace: z.enum(['yiq', 'yuv']).default('yiq').describe('colour space of luminance-only transfer'),
  // run
  backend: z.enum(BACKENDS).optional().meta({ description: `compute backend: ${BACKENDS.join(', ')} (default CONVLAB_BACKEND, else auto)`, placeholder: 'B' }),
  saveEvery: z.number().int().min(1).max(MAX_ITERATIONS).optional().meta({ description: 'checkpoint image every N iterations (default never)', placeholder: 'N' }),
  maxMemoryGb: z.number().gt(0).optional().meta({ description: 'refuse runs estimated above this (default CONVLAB_MAX_MEMORY_GB or 80% of RAM)', placeholder: 'GB' }),
});

/** What a caller passes: every field but content and style optional. */
export type StylizeOptions = z.input<typeof StylizeOptions>;
/** Validated options with the schema's defaults filled. */
export type ParsedStylizeOptions = z.output<typeof StylizeOptions>;

/** Every default filled (per backbone and optimiser), weights normalised, and the multi-scale stage sizes. */
export interface ResolvedStylizeOptions extends ParsedStylizeOptions {
  pool: 'avg' | 'max';
  styleBlend: number[];
  contentLayers: string[];
  styleLayers: string[];
  styleLayerWeights: number[];
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  stageIterations: number;
  lr: number;
  /** Jitter in px (default 1; with lbfgs a shift holds for jitterEvery iterations). */
  jitter: number;
  /** Side of each stage, coarse to fine; the last is `size`. */
  stages: number[];
}

/** Multi-scale stage sizes: halve from `size` while above 256 px, e.g. 1024 -> [256, 512, 1024]. */
export function stageSizes(size: number, multiscale: ParsedStylizeOptions['multiscale']): number[] {
  if (Array.isArray(multiscale)) return multiscale;
  const on = multiscale === 'on' || (multiscale === 'auto' && size > 512);
  if (!on) return [size];
  const stages = [size];
  while (stages[0] > 256 * 1.5) stages.unshift(Math.round(stages[0] / 2));
  if (stages.length === 1) stages.unshift(Math.round(size / 2));
  return stages;
}

/** Weights that must not all be 0, one per item; returned normalised to sum 1. */
export function normaliseWeights(option: string, weights: number[], count: number, what: string): number[] {
  const one = what.replace(/s$/, '');
  if (weights.length !== count) throw new ConvlabError(`${option}: has ${weights.length} values but there are ${count} ${what}`, { hint: `give one weight per ${one}` });
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new ConvlabError(`${option}: weights sum to 0`, { hint: `give at least one ${one} a positive weight` });
  return weights.map((w) => w / sum);
}

/**
 * Fill the defaults that depend on other fields and check what involves several fields. Messages name
 * the flags (`source` 'cli': --multiscale, --style-weight) or the fields (code, HTTP).
 */
export function resolveStylizeOptions(o: ParsedStylizeOptions, source: OptionSource = 'code'): ResolvedStylizeOptions {
  const name = (field: keyof ParsedStylizeOptions) => (source === 'cli' ? `--${kebab(field)}` : field);
  const bad = (field: keyof ParsedStylizeOptions, message: string, hint: string): never => {
    throw new ConvlabError(`${name(field)}: ${message}`, { hint });
  };
  if (o.content === '') bad('content', 'no content image given', 'pass a content image path');
  if (o.style.length === 0) bad('style', 'no style image given', 'pass at least one style image');
  const d = BACKBONE_DEFAULTS[o.backbone];
  const styleLayers = o.styleLayers ?? d.styleLayers;
  const contentLayers = o.contentLayers ?? d.contentLayers;
  const contentWeight = o.contentWeight ?? d.contentWeight;
  const styleWeight = o.styleWeight ?? d.styleWeight;
  if (styleLayers.length === 0) bad('styleLayers', 'no style layer given', 'name at least one layer');
  if (contentLayers.length === 0 && contentWeight > 0) bad('contentLayers', 'no content layer given', 'name a layer or set the content weight to 0');
  if (contentWeight + styleWeight === 0) bad('styleWeight', 'content and style weights are both 0', 'give the style a positive weight');
  if (o.init === 'image' && (o.initImage === undefined || o.initImage === '')) bad('initImage', 'init is image but no starting image is given', `pass ${name('initImage')} PATH (or choose another ${name('init')})`);
  if (o.init !== 'image' && o.initImage !== undefined) bad('initImage', `a starting image is given but init is ${o.init}`, `add ${name('init')} image to start from it, or leave ${name('initImage')} out`);
  const jitter = o.jitter ?? DEFAULT_JITTER[o.optimizer];
  const stages = stageSizes(o.size, o.multiscale);
  for (const s of stages) checkNumber(s, name('multiscale'), STAGE_RANGE);
  if (stages[stages.length - 1] !== o.size) bad('multiscale', `the last stage (${stages[stages.length - 1]}) must equal size (${o.size})`, 'end the stage list with the output size');
  return {
    ...o,
    styleBlend: normaliseWeights(name('styleBlend'), o.styleBlend ?? o.style.map(() => 1), o.style.length, 'style images'),
    contentLayers,
    styleLayers,
    styleLayerWeights: normaliseWeights(name('styleLayerWeights'), o.styleLayerWeights ?? styleLayers.map(() => 1), styleLayers.length, 'style layers'),
    contentWeight,
    styleWeight,
    tvWeight: o.tvWeight ?? d.tvWeight,
    pool: o.pool ?? defaultPool(o.backbone, o.weights),
    stageIterations: o.stageIterations ?? o.iterations,
    lr: o.lr ?? DEFAULT_LR[o.optimizer],
    jitter,
    stages,
  };
}

/** Validate raw options (CLI text, an HTTP body or a code object) and resolve them: one ConvlabError for the first problem. */
export function parseStylizeOptions(raw: Record<string, unknown>, source: OptionSource = 'code'): ResolvedStylizeOptions {
  return resolveStylizeOptions(parseOptions(StylizeOptions, raw, source), source);
}

/** Iterations over all stages (earlier stages run stageIterations, the last iterations). */
export function totalIterations(o: ResolvedStylizeOptions): number {
  return o.stages.reduce((a, _, i) => a + (i === o.stages.length - 1 ? o.iterations : o.stageIterations), 0);
}

/**
 * The options as the run record's parameters: the schema's fields only (resolved, so a rerun with them
 * reproduces the run), in-memory images as '<image WxH>'.
 */
export function recordedParameters(o: ResolvedStylizeOptions): Record<string, unknown> {
  const describe = (v: unknown) => (isImage(v) ? `<image ${v.width}x${v.height}>` : v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(StylizeOptions.shape) as (keyof ParsedStylizeOptions)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.map(describe) : describe(v);
  }
  return out;
}
