/**
 * The options of fast (feed-forward) style transfer, declared once (zod): `FastTrainOptions` for training a
 * transformation network (./fast-train.ts, `convlab-style train-fast`) and `FastApplyOptions` for applying
 * one (`convlab-style fast`). Flags, --help, validation messages and the run record's parameters come from
 * these schemas, as for StylizeOptions. This module loads no tfjs.
 */
import { ConvlabError, kebab, parseOptions, z, type OptionSource } from '@convlab/core/light';
import { BACKBONES, BACKBONE_DEFAULTS, BACKENDS, STYLE_LOSS_NAMES } from './options.js';

/** Loss networks the training can use (the same registry as stylize). */
export const FAST_BACKBONES = BACKBONES;

export const FastTrainOptions = z.object({
  style: z.string().meta({ description: 'style image (a painting)', placeholder: 'IMG' }),
  contentDir: z.string().meta({ description: 'folder of content photos to train on (searched recursively)', placeholder: 'DIR' }),
  out: z.string().meta({ description: 'network folder to write: manifest.json + weights.bin (float16), checkpoint/, run.json, loss.png', placeholder: 'NET_DIR' }),
  steps: z.number().int().min(1).max(1_000_000).default(1000).describe('training steps (batches) in total, counting steps done before --resume'),
  batch: z.number().int().min(1).max(64).default(4).describe('content crops per step'),
  size: z.number().int().min(32).max(1024).default(128).meta({ description: 'side of the square random crops in px (a multiple of 4)', placeholder: 'PX' }),
  styleSize: z.number().int().min(32).max(2048).optional().meta({ description: 'longer side of the style image in px (default 2 x --size)', placeholder: 'PX' }),
  lr: z.number().gt(0).max(1).default(0.001).describe('Adam learning rate'),
  backbone: z.enum(FAST_BACKBONES).default('mobilenet_v2').meta({ description: `loss network: ${FAST_BACKBONES.join(', ')}`, placeholder: 'NAME' }),
  weights: z.string().default('default').meta({ description: "the loss network's weights: default | random | path", placeholder: 'W' }),
  contentLayers: z.array(z.string()).optional().meta({ description: 'content layers of the loss network (default per backbone, as stylize)', placeholder: 'L[,L]' }),
  styleLayers: z.array(z.string()).optional().meta({ description: 'style layers of the loss network (default per backbone, as stylize)', placeholder: 'L[,L...]' }),
  contentWeight: z.number().min(0).default(1).describe('content weight lambda_c'),
  styleWeight: z.number().min(0).default(10).describe('style weight lambda_s (style loss relative to the painting, per layer)'),
  tvWeight: z.number().min(0).default(1).describe('total-variation weight lambda_TV'),
  styleLoss: z.enum(STYLE_LOSS_NAMES).default('gram').describe('Gram matrices, or sliced Wasserstein (Heitz et al. 2021)'),
  channels: z.number().int().min(4).max(128).default(32).describe('channel width C of the transformation network (Johnson et al.: 32)'),
  residualBlocks: z.number().int().min(0).max(16).default(5).describe('residual blocks (Johnson et al.: 5)'),
  jitter: z.number().int().min(0).max(16).default(1).meta({ description: "shift the network's output and the content photo together by a random 0..N px before the loss network each step, so the loss network's stride-2 first convolution cannot leave a period-2 grid unseen (0 = off)", placeholder: 'PX' }),
  checkpointEvery: z.number().int().min(1).max(1_000_000).default(100).meta({ description: 'write NET_DIR/checkpoint every N steps (and at the end or on Ctrl-C)', placeholder: 'N' }),
  resume: z.boolean().default(false).describe('continue from NET_DIR/checkpoint (weights, Adam state, step count)'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0).describe('initial weights, photo order and crops'),
  backend: z.enum(BACKENDS).optional().meta({ description: `compute backend: ${BACKENDS.join(', ')} (default CONVLAB_BACKEND, else auto)`, placeholder: 'B' }),
});

export type FastTrainOptions = z.input<typeof FastTrainOptions>;
export type ParsedFastTrainOptions = z.output<typeof FastTrainOptions>;

/** Training options with the per-backbone layer defaults filled and cross-field rules checked. */
export interface ResolvedFastTrainOptions extends ParsedFastTrainOptions {
  contentLayers: string[];
  styleLayers: string[];
  styleSize: number;
}

export function resolveFastTrainOptions(o: ParsedFastTrainOptions, source: OptionSource = 'code'): ResolvedFastTrainOptions {
  const name = (field: keyof ParsedFastTrainOptions) => (source === 'cli' ? `--${kebab(field)}` : field);
  if (o.size % 4 !== 0) {
    throw new ConvlabError(`${name('size')} ${o.size} is not a multiple of 4`, { hint: `use ${name('size')} ${Math.round(o.size / 4) * 4}` });
  }
  if (o.contentWeight + o.styleWeight === 0) throw new ConvlabError(`${name('styleWeight')}: content and style weights are both 0`, { hint: 'give the style a positive weight' });
  const d = BACKBONE_DEFAULTS[o.backbone];
  const styleLayers = o.styleLayers ?? d.styleLayers;
  if (styleLayers.length === 0) throw new ConvlabError(`${name('styleLayers')}: no style layer given`, { hint: 'name at least one layer' });
  return { ...o, contentLayers: o.contentLayers ?? d.contentLayers, styleLayers, styleSize: o.styleSize ?? 2 * o.size };
}

export function parseFastTrainOptions(raw: Record<string, unknown>, source: OptionSource = 'code'): ResolvedFastTrainOptions {
  return resolveFastTrainOptions(parseOptions(FastTrainOptions, raw, source), source);
}

export const FastApplyOptions = z.object({
  net: z.string().meta({ description: 'a trained network folder, or the name of a bundled one (listed by fast --help)', placeholder: 'NET_DIR|NAME' }),
  content: z.string().meta({ description: 'image to stylize (any size)', placeholder: 'IMG' }),
  out: z.string().meta({ description: 'result image (.png/.jpg/.webp), same size as the input unless --size', placeholder: 'OUT.png' }),
  size: z.number().int().min(16).max(8192).optional().meta({ description: 'resize the input so its longer side is this many px first (default: as is)', placeholder: 'PX' }),
  backend: z.enum(BACKENDS).optional().meta({ description: `compute backend: ${BACKENDS.join(', ')} (default CONVLAB_BACKEND, else auto)`, placeholder: 'B' }),
});

export type FastApplyOptions = z.input<typeof FastApplyOptions>;
export type ParsedFastApplyOptions = z.output<typeof FastApplyOptions>;
