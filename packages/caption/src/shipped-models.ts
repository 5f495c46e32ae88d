/**
 * The caption models shipped in the repository (packages/caption/pretrained*), by name, as torchvision
 * names its weights: `--model` (and `model` in code) takes one of these names or a model folder. Each
 * folder holds the decoder weights, its vocabulary and the encoder spec, so the features it needs are
 * recomputed from the right backbone, layer and input size.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The package root (the folder above src/ or dist/), where the shipped model folders live. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const SHIPPED_MODELS = {
  'show-attend-tell': {
    dir: join(ROOT, 'pretrained-attention'),
    description: 'Show, Attend and Tell (soft attention) over InceptionV3 mixed6, 9x9 grid, Flickr8k',
  },
  'show-tell': {
    dir: join(ROOT, 'pretrained'),
    description: 'Show and Tell over InceptionV3 mixed6, pooled, Flickr8k',
  },
} as const;
export type ShippedModel = keyof typeof SHIPPED_MODELS;
/** The model predict and eval use without `model`: the best on the Flickr8k test split (README). */
export const DEFAULT_MODEL: ShippedModel = 'show-attend-tell';
/** Folder of the default model. */
export const PRETRAINED_DIR = SHIPPED_MODELS[DEFAULT_MODEL].dir;
/** The shipped soft-attention model: use it for attention maps. */
export const PRETRAINED_ATTENTION_DIR = SHIPPED_MODELS['show-attend-tell'].dir;

/** A shipped model's name -> its folder; anything else is taken as a folder path; undefined -> the default. */
export function resolveModelDir(model?: string): string {
  if (model === undefined) return PRETRAINED_DIR;
  return model in SHIPPED_MODELS ? SHIPPED_MODELS[model as ShippedModel].dir : model;
}
