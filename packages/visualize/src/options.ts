/**
 * The options of every library call, declared once (zod schemas with defaults, ranges and one-line
 * descriptions). The calls validate with `parseOptions(Schema, options, 'code')` and record the parsed
 * options as the run record's `parameters`; convlab-deconv builds its flags and --help from the same
 * schemas (`addOptions`) and validates flag text with `parseOptions(Schema, flags, 'cli')`.
 *
 * Special values (`--units 3,17,42 | strongest:16 | spread:16`, `--unit N | strongest`,
 * `--position y,x | argmax | all`, `--methods`, `--rules`) are string schemas with transforms; each
 * also accepts its parsed form, so a parsed options object parses again to itself.
 *
 * This module loads no model code and no tfjs (only @convlab/core/light and ./names.ts), so a CLI can
 * refuse bad flags, and the studio list and check job inputs, without starting the engine.
 */
import { ConvlabError, z } from '@convlab/core/light';
import type { ReluBackward } from '@convlab/models';
import { BASELINES, DEFAULT_IG_MAX_STEPS, DEFAULT_IG_RULE, DEFAULT_IG_STEPS, DEFAULT_METHODS, IG_RULES, METHOD_NAMES, NORMALIZATIONS, SCORECAM_MODES, parseMethodName, type MethodName } from './names.js';
import type { Target } from './target.js';

/** Largest --size side accepted before the memory estimate (which usually refuses far earlier). */
export const MAX_SIZE = 8192;
/** Largest seed: opSeed and the sanity check's re-initialisation take 32-bit seeds. */
export const MAX_SEED = 2 ** 32 - 1;

/** Which units: explicit indices, the n strongest on average over the dataset, or n evenly spaced. */
export type UnitSelection = number[] | { strongest: number } | { spread: number };

type Ctx = z.core.$RefinementCtx;

function issue(ctx: Ctx, input: unknown, message: string): typeof z.NEVER {
  ctx.issues.push({ code: 'custom', input, message });
  return z.NEVER;
}

const isIndex = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** '3' -> 3; anything else (not an integer >= min) -> undefined. */
function intText(s: string, min = 0): number | undefined {
  const t = s.trim();
  if (!/^[-+]?\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min ? n : undefined;
}

// ------------------------------------------------------------------ special values

/** `3,17,42` | `strongest:N` | `spread:N` (a bare number is one unit). */
function unitsValue(v: string | number[] | { strongest: number } | { spread: number }, ctx: Ctx): UnitSelection {
  if (typeof v !== 'string') {
    if (Array.isArray(v)) {
      const bad = v.find((u) => !isIndex(u));
      return bad === undefined ? v : issue(ctx, v, `unit ${bad} is out of range: units are integers >= 0`);
    }
    const [kind, n] = 'strongest' in v ? ['strongest', v.strongest] : ['spread', v.spread];
    return isIndex(n, 1) ? v : issue(ctx, v, `N in ${kind}:N must be an integer >= 1 (e.g. ${kind}:16)`);
  }
  const m = /^(strongest|spread|top)\s*:\s*(.*)$/i.exec(v.trim());
  if (m) {
    const kind = m[1].toLowerCase() === 'spread' ? 'spread' : 'strongest';
    const n = intText(m[2], 1);
    if (n === undefined) return issue(ctx, v, `N in ${kind}:N must be an integer >= 1 (e.g. ${kind}:16)`);
    return kind === 'spread' ? { spread: n } : { strongest: n };
  }
  const parts = v.split(',').map((s) => s.trim());
  const units: number[] = [];
  for (const p of parts) {
    const n = intText(p);
    if (n === undefined) {
      return issue(ctx, v, /^[-+]?\d+$/.test(p) ? `unit ${p} is out of range: units are integers >= 0` : `"${p}" is not a unit: give 3,17,42, strongest:N or spread:N`);
    }
    units.push(n);
  }
  return units;
}

/** `N` | `strongest`. */
function unitValue(v: string | number, ctx: Ctx): number | 'strongest' {
  if (typeof v === 'number') return isIndex(v) ? v : issue(ctx, v, 'is out of range: a unit is an integer >= 0 (or strongest)');
  if (v.trim().toLowerCase() === 'strongest') return 'strongest';
  const n = intText(v);
  return n !== undefined ? n : issue(ctx, v, /^[-+]?\d+$/.test(v.trim()) ? 'is out of range: a unit is an integer >= 0 (or strongest)' : 'is not a unit: give an integer >= 0 or strongest (e.g. 12)');
}

/** `K` | a class name (looked up against the model's head later: checks.ts). */
function classValue(v: string | number, ctx: Ctx): number | string {
  if (typeof v === 'number') return isIndex(v) ? v : issue(ctx, v, 'is out of range: a class is an integer >= 0 or a class name');
  const t = v.trim();
  if (!t) return issue(ctx, v, 'give a class index or name (e.g. 243 or "bull mastiff")');
  if (/^[-+]?\d+$/.test(t)) {
    const n = intText(t);
    return n !== undefined ? n : issue(ctx, v, 'is out of range: a class is an integer >= 0 or a class name');
  }
  return t;
}

/** `y,x` | `argmax` | `all`. */
function positionValue(v: string | number[], ctx: Ctx): [number, number] | 'argmax' | 'all' {
  if (Array.isArray(v)) {
    return v.length === 2 && isIndex(v[0]) && isIndex(v[1]) ? [v[0], v[1]] : issue(ctx, v, 'should be "y,x" with integers >= 0, "argmax" or "all" (e.g. 3,5)');
  }
  const t = v.trim().toLowerCase();
  if (t === 'argmax' || t === 'max') return 'argmax';
  if (t === 'all' || t === 'sum') return 'all';
  const parts = t.split(/[,x ]+/).filter(Boolean);
  const yx = parts.map((p) => intText(p));
  if (parts.length !== 2) return issue(ctx, v, 'should be "y,x", "argmax" or "all" (e.g. 3,5)');
  if (yx[0] === undefined || yx[1] === undefined) return issue(ctx, v, 'is out of range: y and x are integers >= 0 (e.g. 3,5)');
  return [yx[0], yx[1]];
}

function listOf(v: string | string[]): string[] {
  return (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** Comma-separated method names (aliases such as grad-cam, guided-backprop), or `all`. */
function methodsValue(v: string | string[], ctx: Ctx): MethodName[] {
  const names = listOf(v);
  if (names.length === 0 || (names.length === 1 && names[0].toLowerCase() === 'all')) return [...METHOD_NAMES];
  const out: MethodName[] = [];
  for (const n of names) {
    try {
      out.push(parseMethodName(n));
    } catch {
      return issue(ctx, v, `unknown attribution method "${n}": use any of ${METHOD_NAMES.join(', ')}, or all`);
    }
  }
  return [...new Set(out)];
}

/** Comma-separated ReLU backward rules: deconvnet, guided, gradient (= normal, saliency). */
function rulesValue(v: string | string[], ctx: Ctx): ReluBackward[] {
  const out: ReluBackward[] = [];
  for (const s of listOf(v)) {
    const r = s.toLowerCase();
    if (r === 'deconvnet' || r === 'guided') out.push(r);
    else if (r === 'gradient' || r === 'normal' || r === 'saliency') out.push('normal');
    else return issue(ctx, v, `"${s}" is not a projection rule: use deconvnet, guided or gradient`);
  }
  return out.length ? out : issue(ctx, v, 'give at least one rule: deconvnet, guided or gradient');
}

/** Occlusion baseline: zero (the model's zero input), black, blur, or r,g,b. */
function occlusionBaselineValue(v: string | number[], ctx: Ctx): 'zero' | 'black' | 'blur' | [number, number, number] {
  if (Array.isArray(v)) {
    return v.length === 3 && v.every((c) => c >= 0 && c <= 255) ? [v[0], v[1], v[2]] : issue(ctx, v, 'should be zero, black, blur or r,g,b with values 0..255');
  }
  const t = v.trim().toLowerCase();
  if (t === 'zero' || t === 'black' || t === 'blur') return t;
  const parts = t.split(',').map((p) => Number(p.trim()));
  if (parts.length === 3 && parts.every((c) => Number.isFinite(c) && c >= 0 && c <= 255)) return [parts[0], parts[1], parts[2]];
  return issue(ctx, v, 'should be zero, black, blur or r,g,b with values 0..255 (e.g. 128,128,128)');
}

// ------------------------------------------------------------------ fields

const text = z.string();

export const fields = {
  out: z.string().default('out/deconvnet').meta({ description: 'output folder (PNGs, JSON run records, HTML reports)', placeholder: 'DIR' }),
  size: z
    .array(z.number().int().min(1).max(MAX_SIZE))
    .refine((a) => a.length === 1 || a.length === 2, 'give N or H,W')
    .optional()
    .meta({ description: "input size in pixels, N or H,W (default: the model's; at least its minimum)", placeholder: 'N|H,W' }),
  fit: z.enum(['cover', 'fill']).default('cover').describe('fit images to the size: centre-crop (cover) or squash (fill)'),
  normalize: z.enum(NORMALIZATIONS).default('robust').describe('contrast stretch of image-space maps'),
  seed: z.number().int().min(0).max(MAX_SEED).default(0).describe('random seed (SmoothGrad noise, sanity-check re-initialisation, random weights)'),
  layer: z.string().min(1).meta({ description: 'layer name, alias or role (@early, @mid, @late, @last-conv)', placeholder: 'NAME' }),
  unit: z.union([text, z.number()]).transform(unitValue).optional().meta({ description: 'channel of --layer to explain: N, or strongest (the strongest on the image)', placeholder: 'N|strongest' }),
  position: z
    .union([text, z.array(z.number())])
    .transform(positionValue)
    .default('argmax')
    .meta({ description: "position in the unit's feature map: y,x, argmax (its strongest) or all (summed over the map)", placeholder: 'y,x|argmax|all' }),
  class: z
    .union([text, z.number()])
    .transform(classValue)
    .optional()
    .meta({ description: "class of the model's head to explain (instead of --layer/--unit): an index, or a name such as \"bull mastiff\" (ImageNet's names for a 1000-class ImageNet head)", placeholder: 'K|NAME' }),
  methods: z
    .union([text, z.array(text)])
    .transform(methodsValue)
    .default([...DEFAULT_METHODS])
    .meta({ description: `attribution methods, comma-separated, or all (default: ${DEFAULT_METHODS.join(',')}; also ${METHOD_NAMES.filter((m) => !DEFAULT_METHODS.includes(m)).join(', ')})`, placeholder: 'A,B' }),
  smoothgradSamples: z.number().int().min(1).max(10000).default(25).describe('noisy copies averaged by SmoothGrad'),
  smoothgradSigma: z.number().gt(0).max(5).default(0.15).describe("SmoothGrad's noise level, as a fraction of the image's value range"),
  camLayer: z.string().min(1).optional().meta({ description: 'Grad-CAM layer, also Grad-CAM++, Score-CAM, LayerCAM (default: @last-conv for a class, the target layer for a unit)', placeholder: 'NAME' }),
  igSteps: z.number().int().min(1).max(10000).default(DEFAULT_IG_STEPS).describe('Integrated Gradients: intervals of the path integral (the first try; doubled while the completeness error is over 5%, up to --ig-max-steps)'),
  igMaxSteps: z
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(DEFAULT_IG_MAX_STEPS)
    .describe('Integrated Gradients: most intervals the doubling may reach (set it to --ig-steps, or lower, for a fixed count)'),
  igBaseline: z.enum(BASELINES).default('black').describe("Integrated Gradients' baseline: black, blur (the image blurred), noise (image + Gaussian noise), uniform (uniform noise) or zero (the model's zero input)"),
  igRule: z.enum(IG_RULES).default(DEFAULT_IG_RULE).describe("Integrated Gradients' quadrature: riemann-left, riemann-right (the paper's), riemann-middle, trapezoid or gauss-legendre"),
  layercamLayers: z
    .union([text, z.array(text)])
    .transform((v) => listOf(v))
    .optional()
    .meta({ description: "LayerCAM: layers whose maps are fused (the paper's tanh(2 M / max M) scaling, element-wise maximum), comma-separated (default: the CAM layer alone)", placeholder: 'A,B' }),
  scorecamMode: z.enum(SCORECAM_MODES).default('softmax').describe("Score-CAM's channel weights: softmax of the masked scores (the paper's algorithm) or difference (confidence gain over the baseline)"),
  scorecamChannels: z.number().int().min(1).max(100_000).optional().meta({ description: 'Score-CAM: mask with only the N channels whose maps vary most (Faster Score-CAM; default: every channel, one forward pass each)', placeholder: 'N' }),
  occlusionWindow: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: 'occlusion method: window side in px (default: size/14)', placeholder: 'PX' }),
  occlusionStride: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: 'occlusion method: step between windows in px (default: window/2)', placeholder: 'PX' }),
  occlusionBaseline: z
    .union([text, z.array(z.number())])
    .transform(occlusionBaselineValue)
    .default('zero')
    .meta({ description: "occlusion method: what replaces a window: zero (the model's zero input), black, blur or r,g,b", placeholder: 'zero|black|blur|R,G,B' }),
  occlusionPerChannel: z.boolean().default(false).describe('occlusion method: occlude each colour channel on its own (3x the passes)'),
  faithfulnessSteps: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(20)
    .meta({ description: 'deletion / insertion curves (Petsiuk et al. 2018) per map: points per curve (0: off)', placeholder: 'N' }),
  sharedScale: z.boolean().default(false).describe("one colour scale per method over all the run's maps (shows how weak one map is next to another) instead of each map stretched to its own range"),
  rules: (dflt: ReluBackward[]) =>
    z
      .union([text, z.array(text)])
      .transform(rulesValue)
      .default(dflt)
      .meta({ description: 'projection rules (ReLU backward): deconvnet, guided, gradient', placeholder: 'A,B' }),
  units: (dflt: string) =>
    z
      .union([text, z.array(z.number()), z.object({ strongest: z.number() }), z.object({ spread: z.number() })])
      .transform(unitsValue)
      .optional()
      .meta({ description: `units: 3,17,42, strongest:N (strongest on average over the images) or spread:N (evenly spaced); default ${dflt}`, placeholder: 'UNITS' }),
  images: z
    .array(z.string())
    .refine((a) => a.length > 0, 'give at least one image file or folder')
    .meta({ description: 'image files or folders (the positional arguments)', placeholder: 'IMAGE' }),
  square: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: 'side of the grey occluder square in px (default: size/7)', placeholder: 'PX' }),
  stride: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: 'step between occluder positions in px (default: square/4)', placeholder: 'PX' }),
  batch: (dflt: number, what: string) => z.number().int().min(1).max(256).default(dflt).describe(what),
};

const imageRun = { images: fields.images, out: fields.out, size: fields.size, fit: fields.fit };
const target = { layer: fields.layer.optional(), unit: fields.unit, position: fields.position, class: fields.class };
const methodOptions = {
  seed: fields.seed,
  smoothgradSamples: fields.smoothgradSamples,
  smoothgradSigma: fields.smoothgradSigma,
  camLayer: fields.camLayer,
  igSteps: fields.igSteps,
  igMaxSteps: fields.igMaxSteps,
  igBaseline: fields.igBaseline,
  igRule: fields.igRule,
  layercamLayers: fields.layercamLayers,
  scorecamMode: fields.scorecamMode,
  scorecamChannels: fields.scorecamChannels,
  occlusionWindow: fields.occlusionWindow,
  occlusionStride: fields.occlusionStride,
  occlusionBaseline: fields.occlusionBaseline,
  occlusionPerChannel: fields.occlusionPerChannel,
};
const occlusionFields = { square: fields.square, stride: fields.stride, batch: fields.batch(16, 'occluded images per forward pass') };

// ------------------------------------------------------------------ the calls

/** The model a run loads (CLI and studio; the library calls take a loaded ConvNet). */
export const ModelOptions = z.object({
  model: z.string().min(1).default('mobilenet_v2').meta({ description: 'model: mobilenet_v2, inception_v3, vgg16, vgg19 or custom', placeholder: 'NAME' }),
  weights: z.string().min(1).optional().meta({ description: 'weights: default, random, or a file/folder (custom models, pulled VGG files)', placeholder: 'default|random|PATH' }),
  seed: fields.seed,
});
export type ModelOptions = z.input<typeof ModelOptions>;

/** `attribute`: every method side by side for one target. */
export const AttributeOptions = z.object({
  ...imageRun,
  ...target,
  methods: fields.methods,
  ...methodOptions,
  normalize: fields.normalize,
  sharedScale: fields.sharedScale,
  faithfulnessSteps: fields.faithfulnessSteps,
});
export type AttributeOptions = z.input<typeof AttributeOptions>;
export type AttributeParameters = z.output<typeof AttributeOptions>;

/** `project`: the deconvnet projection of one unit, whole and cropped to its receptive field. */
export const ProjectOptions = z.object({ ...imageRun, ...target, rules: fields.rules(['deconvnet', 'guided']), normalize: fields.normalize });
export type ProjectOptions = z.input<typeof ProjectOptions>;
export type ProjectParameters = z.output<typeof ProjectOptions>;

/** `occlusion`: grey-square occlusion maps (Zeiler & Fergus 4.2). */
export const OcclusionOptions = z.object({ ...imageRun, ...target, ...occlusionFields });
export type OcclusionOptions = z.input<typeof OcclusionOptions>;
export type OcclusionParameters = z.output<typeof OcclusionOptions>;

/** `top9`: the top-k activations of units over a folder (Z&F Fig. 2), resumable. */
export const Top9Options = z.object({
  images: z.string().min(1).meta({ description: 'folder of images to scan', placeholder: 'DIR' }),
  layer: fields.layer,
  units: fields.units('spread:16'),
  k: z.number().int().min(1).max(100).default(9).describe('activations shown per unit'),
  rules: fields.rules(['deconvnet']),
  normalize: fields.normalize,
  cache: z.string().min(1).optional().meta({ description: 'scan cache folder (default: <out>/cache)', placeholder: 'DIR' }),
  batch: fields.batch(8, 'images per forward pass of the scan'),
  limit: z.number().int().min(1).optional().meta({ description: 'scan only the first N files (sorted); a later run without it continues from the cache', placeholder: 'N' }),
  unitImages: z.boolean().default(true).describe('one PNG per unit besides the layer figure (on by default; --no-unit-images leaves them out)'),
  out: fields.out,
  size: fields.size,
  fit: fields.fit,
});
export type Top9Options = z.input<typeof Top9Options>;
export type Top9Parameters = z.output<typeof Top9Options>;

/** `features`: every channel of a layer as a grid. */
export const FeaturesOptions = z.object({
  ...imageRun,
  layer: fields.layer,
  maxChannels: z.number().int().min(1).max(4096).optional().meta({ description: 'show only the first N channels (default: all)', placeholder: 'N' }),
  sort: z.boolean().default(false).describe('order channels by their maximum, strongest first'),
});
export type FeaturesOptions = z.input<typeof FeaturesOptions>;
export type FeaturesParameters = z.output<typeof FeaturesOptions>;

/** `filters`: first-layer filters as images. */
export const FiltersOptions = z.object({
  layer: fields.layer.optional().describe('convolution to draw (default: the first; it must take 3 colour channels)'),
  out: fields.out,
});
export type FiltersOptions = z.input<typeof FiltersOptions>;
export type FiltersParameters = z.output<typeof FiltersOptions>;

/** `sanity`: cascading weight randomization (Adebayo et al. 2018) on the first image. */
export const SanityOptions = z.object({
  ...imageRun,
  ...target,
  methods: fields.methods,
  steps: z.number().int().min(1).max(1000).default(8).describe('cascade checkpoints (the last randomizes every layer)'),
  ...methodOptions,
  smoothgradSamples: z.number().int().min(1).max(10000).default(10).describe('noisy copies averaged by SmoothGrad'),
});
export type SanityOptions = z.input<typeof SanityOptions>;
export type SanityParameters = z.output<typeof SanityOptions>;

/** `report`: one HTML page with every method, occlusion, feature maps and optionally the sanity check. */
export const ReportOptions = z.object({
  ...imageRun,
  ...target,
  methods: fields.methods,
  ...methodOptions,
  normalize: fields.normalize,
  sharedScale: fields.sharedScale,
  faithfulnessSteps: fields.faithfulnessSteps,
  ...occlusionFields,
  sanitySteps: z.number().int().min(1).max(1000).optional().meta({ description: 'also run the sanity check with N steps on the first image (slow)', placeholder: 'N' }),
});
export type ReportOptions = z.input<typeof ReportOptions>;
export type ReportParameters = z.output<typeof ReportOptions>;

/** Feature visualization's optimization settings (Olah et al. 2017; featureviz/optimize.ts), shared by featureviz and the dossier. */
const optimization = {
  size: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: "side of the optimized images in px (default: the model's input size)", placeholder: 'N' }),
  param: z.enum(['fourier', 'pixel']).default('fourier').describe('parameterization: fourier (decorrelated colour, 1/f spectrum) or pixel'),
  steps: z.number().int().min(1).max(100_000).default(256).describe('optimization steps'),
  lr: z.number().gt(0).max(100).default(0.05).describe('Adam learning rate'),
  transforms: z.enum(['standard', 'none']).default('standard').describe("transformation robustness: standard (lucid's pad, jitter, scale, rotate) or none"),
  tv: z.number().min(0).max(1e6).default(0).describe('total-variation penalty weight'),
  l1: z.number().min(0).max(1e6).default(0).describe('L1 penalty weight (distance from grey)'),
  blur: z.number().min(0).max(1e6).default(0).describe('blur penalty weight (distance to the image blurred)'),
  seed: fields.seed,
};

/** `featureviz`: images that maximise an objective (unit, channel, neuron, direction, class; featureviz/objectives.ts). */
export const FeatureVizOptions = z.object({
  objective: z.string().min(1).meta({ description: 'objective, e.g. "block_13_expand_relu:12" (channel), "L:12@center" (neuron), "class:3", "L" (DeepDream), sums "2*A:1 + B:3", ";" for several images', placeholder: 'OBJ' }),
  copies: z.number().int().min(1).max(64).default(1).describe('images per objective (use with --diversity for different ones)'),
  diversity: z.number().min(0).max(1e6).default(0).describe("weight of lucid's diversity term over the copies (at the objective's layer; lucid uses ~100 on InceptionV1, MobileNetV2's pre-activations need ~1-5)"),
  ...optimization,
  out: fields.out,
});
export type FeatureVizOptions = z.input<typeof FeatureVizOptions>;
export type FeatureVizParameters = z.output<typeof FeatureVizOptions>;

/** `deepdream`: DeepDream (Mordvintsev et al. 2015) on a photo: maximise a layer's activations octave by octave. */
export const DeepDreamOptions = z.object({
  image: z.string().min(1).meta({ description: 'photo to dream on', placeholder: 'IMG' }),
  objective: z.string().min(1).meta({ description: 'layer (its mean squared activation is maximised) or any objective text', placeholder: 'LAYER' }),
  steps: z.number().int().min(1).max(100_000).default(60).describe('optimization steps over all octaves'),
  octaves: z.number().int().min(1).max(8).default(3).describe('octaves: scales from 1/2^((n-1)/2) of the photo up to its full size'),
  lr: z.number().gt(0).max(100).default(0.05).describe('Adam learning rate'),
  jitter: z.number().int().min(0).max(256).default(8).describe('random translation per step in px'),
  size: z.number().int().min(1).max(MAX_SIZE).optional().meta({ description: 'fit the photo to N px on its shorter side first (default: as it is, at most 512)', placeholder: 'N' }),
  seed: fields.seed,
  out: fields.out,
});
export type DeepDreamOptions = z.input<typeof DeepDreamOptions>;
export type DeepDreamParameters = z.output<typeof DeepDreamOptions>;

/**
 * `dossier`: everything about one unit in one HTML report (top-9 with deconvnet and guided projections,
 * feature visualization with diverse copies, receptive field) and, for a class, every map method side
 * by side with deletion / insertion scores and the sanity check.
 */
export const DossierOptions = z.object({
  layer: fields.layer,
  unit: z.number().int().min(0).meta({ description: 'channel of --layer', placeholder: 'N' }),
  images: z.string().min(1).default('bundled').meta({ description: 'folder of photos for top-9 and the maps (bundled: the sample photos in assets/content)', placeholder: 'DIR|bundled' }),
  class: fields.class,
  methods: fields.methods,
  k: z.number().int().min(1).max(100).default(9).describe('top activations shown'),
  mapImages: z.number().int().min(1).max(100).default(2).describe('images (the unit\'s strongest first) for the maps, faithfulness and sanity check'),
  copies: z.number().int().min(1).max(16).default(4).describe('feature visualizations of the unit (diverse copies)'),
  diversity: z
    .number()
    .min(0)
    .max(1e6)
    .default(2)
    .describe("weight of lucid's diversity term over the copies (MobileNetV2 block_13_expand_relu:12, 128 px, 48 steps: weight 1 keeps the objective, 5 halves it for two of three copies, 20 makes it fall)"),
  ...optimization,
  steps: z.number().int().min(1).max(100_000).default(128).describe('feature visualization steps'),
  sanitySteps: z.number().int().min(0).max(1000).default(4).describe('sanity check: cascade checkpoints on the first map image (0: off)'),
  faithfulnessSteps: fields.faithfulnessSteps,
  smoothgradSamples: z.number().int().min(1).max(10000).default(10).describe('noisy copies averaged by SmoothGrad and VarGrad'),
  igSteps: fields.igSteps,
  igMaxSteps: fields.igMaxSteps,
  batch: fields.batch(8, 'images per forward pass of the top-9 scan'),
  fit: fields.fit,
  out: fields.out,
});
export type DossierOptions = z.input<typeof DossierOptions>;
export type DossierParameters = z.output<typeof DossierOptions>;

/** `figure`: the demo figure, top-9 of a few units of two layers on a small photo folder. */
export const FigureOptions = z.object({
  layer: z.array(z.string().min(1)).optional().meta({ description: 'layers, comma-separated (default: @early and a middle layer)', placeholder: 'A,B' }),
  units: fields.units('strongest:4'),
  images: z.string().min(1).default('assets/content').meta({ description: 'folder of photos', placeholder: 'DIR' }),
  rules: fields.rules(['deconvnet', 'guided']),
  augment: z.boolean().optional().describe('augment the photos with flips and zooms (default: when there are fewer than 18)'),
  out: fields.out,
});
export type FigureOptions = z.input<typeof FigureOptions>;
export type FigureParameters = z.output<typeof FigureOptions>;

/** `layers`: the model's layers with shapes, receptive fields and roles. */
export const LayersOptions = z.object({ size: fields.size });
export type LayersOptions = z.input<typeof LayersOptions>;
export type LayersParameters = z.output<typeof LayersOptions>;

// ------------------------------------------------------------------ helpers

/** [h, w] from the parsed --size ([n] or [h, w]); undefined when not given. */
export function sizeOf(size: number[] | undefined): [number, number] | undefined {
  if (!size) return undefined;
  return size.length === 1 ? [size[0], size[0]] : [size[0], size[1]];
}

/** The target of parsed options: --class, or --layer with --unit (and --position). */
export function targetOf(o: { layer?: string; unit?: number | 'strongest'; position?: [number, number] | 'argmax' | 'all'; class?: number | string }): Target {
  if (o.class !== undefined) {
    if (o.unit !== undefined) throw new ConvlabError('give either --class or --unit, not both', { hint: 'a class of the head (--class K) or a unit of a layer (--layer NAME --unit N)' });
    return { classIndex: o.class };
  }
  if (o.layer === undefined || o.unit === undefined) {
    throw new ConvlabError('no target: give --layer NAME --unit N (optionally --position y,x), or --class K', {
      hint: 'list layers with: convlab-deconv layers --model NAME',
    });
  }
  return { layer: o.layer, unit: o.unit, position: o.position ?? 'argmax' };
}

/** The fields of `values` that `schema` declares (to hand one call's options on to another call). */
export function pick<S extends z.ZodObject<z.ZodRawShape>>(schema: S, values: Record<string, unknown>): z.input<S> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(schema.shape)) if (values[k] !== undefined) out[k] = values[k];
  return out as z.input<S>;
}
