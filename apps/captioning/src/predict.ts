/**
 * Captioning image files with a saved model: load the encoder named in the model's config, extract
 * features, decode (greedy or beam), and optionally return per-word attention maps.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ConvlabError, loadImage, resizeImage, tf } from '@convlab/core';
import type { RgbImage } from '@convlab/core';
import { loadCaptionModel, type CaptionModel } from './model-io.js';
import { createExtractor, type FeatureExtractor } from './features.js';
import { beamSearch, decoderModel } from './beam-search.js';
import { attentionStrip, type WordAttention } from './attention-maps.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * The caption models shipped in the repository, by name (as torchvision names its weights): `--model` takes
 * one of these names or a model folder. Each folder holds the decoder weights, its vocabulary and the encoder
 * spec, so the features it needs are recomputed from the right backbone, layer and input size.
 */
export const SHIPPED_MODELS = {
  'show-attend-tell': {
    dir: join(HERE, '..', 'pretrained-attention'),
    description: 'Show, Attend and Tell (soft attention) over InceptionV3 mixed6, 9x9 grid, Flickr8k',
  },
  'show-tell': {
    dir: join(HERE, '..', 'pretrained'),
    description: 'Show and Tell over InceptionV3 mixed6, pooled, Flickr8k',
  },
} as const;
export type ShippedModel = keyof typeof SHIPPED_MODELS;
/** The model predict and eval use without --model: the best on the Flickr8k test split (README). */
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

export interface CaptionImagesOptions {
  images: string[];
  /** A shipped model's name (SHIPPED_MODELS) or a model folder; default DEFAULT_MODEL. */
  model?: string;
  beam?: number;
  maxLength?: number;
  lengthPenalty?: number;
  blockRepeatedTrigrams?: boolean;
  /** Return per-word attention maps (attention decoders only) and, with `strips`, a rendered strip image. */
  attentionMaps?: boolean;
  strips?: boolean;
}

export interface CaptionResult {
  path: string;
  caption: string;
  logprob: number;
  /** Attention decoders: per word (and <end>), weights over the grid [gridHeight, gridWidth]. */
  attention?: { grid: [number, number]; words: WordAttention[] };
  strip?: RgbImage;
}

export class Captioner {
  private constructor(
    readonly model: CaptionModel,
    readonly extractor: FeatureExtractor,
  ) {}

  static async load(modelNameOrDir?: string): Promise<Captioner> {
    const modelDir = resolveModelDir(modelNameOrDir);
    const model = loadCaptionModel(modelDir);
    const extractor = await createExtractor(model.config.encoder);
    const expected = model.config.decoder.kind === 'show-attend-tell' ? extractor.gridShape[2] : extractor.pooledDim;
    if (expected !== model.config.decoder.featureDim) {
      throw new ConvlabError(`model ${modelDir} expects ${model.config.decoder.featureDim}-d features but its encoder gives ${expected}`, { hint: 'the config.json encoder does not match the weights' });
    }
    return new Captioner(model, extractor);
  }

  async caption(image: RgbImage, path: string, options: Omit<CaptionImagesOptions, 'images' | 'model'> = {}): Promise<CaptionResult> {
    const { decoder, vocab, config } = this.model;
    const [ih, iw] = config.encoder.inputSize;
    const resized = image.width === iw && image.height === ih ? image : await resizeImage(image, { width: iw, height: ih });
    const feats = await this.extractor.extract([resized]);
    const attention = decoder.config.kind === 'show-attend-tell';
    const [gh, gw, gc] = this.extractor.gridShape;
    const input = attention ? tf.tensor3d(feats.grid, [1, gh * gw, gc]) : tf.tensor2d(feats.pooled, [1, feats.pooled.length]);
    const state = decoder.init(input);
    input.dispose();
    const best = beamSearch(decoderModel(decoder), state, {
      beamSize: options.beam ?? 3,
      maxLength: options.maxLength ?? config.maxLength ?? 20,
      lengthPenalty: options.lengthPenalty ?? config.decoding?.lengthPenalty,
      blockRepeatedTrigrams: options.blockRepeatedTrigrams,
    })[0];
    const words = vocab.decode(best.tokens);
    const result: CaptionResult = { path, caption: words.join(' '), logprob: best.logprob };
    if (options.attentionMaps && best.attention) {
      const wa = [...words, '<end>'].map((word, i) => ({ word, weights: best.attention![i] }));
      result.attention = { grid: [gh, gw], words: wa };
      if (options.strips) result.strip = await attentionStrip(image, wa, [gh, gw], { title: result.caption });
    }
    return result;
  }

  dispose(): void {
    this.model.decoder.params.dispose();
    this.extractor.dispose();
  }
}

/** Caption image files with the shipped (or a given) model. */
export async function captionImages(options: CaptionImagesOptions): Promise<CaptionResult[]> {
  const captioner = await Captioner.load(options.model);
  try {
    const out: CaptionResult[] = [];
    for (const path of options.images) {
      const image = await loadImage(path, { maxSide: 1024 });
      out.push(await captioner.caption(image, path, options));
    }
    return out;
  } finally {
    captioner.dispose();
  }
}
