/**
 * Captioning image files with a saved model: load the encoder named in the model's config, extract
 * features, decode (greedy or beam), and optionally return per-word attention maps.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ConvlabError, loadImage, resizeImage, tf } from '@convlab/core';
import type { RgbImage } from '@convlab/core';
import { loadCaptionModel, type CaptionModel } from './model-io.js';
import { asCached, createExtractor, encodeImageFiles, type FeatureExtractor, type Features } from './features.js';
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
  /** Stop between images once aborted (Ctrl-C, SIGTERM): the results finished so far are returned. */
  signal?: AbortSignal;
  /**
   * Skip an image that cannot be read (missing, truncated, corrupt: a ConvlabError) and report it here,
   * instead of throwing. Other errors still throw.
   */
  onFailure?: (path: string, error: ConvlabError) => void;
  /** Each result as soon as it is ready (print it, write its strip), before the next image is read. */
  onResult?: (result: CaptionResult) => void | Promise<void>;
}

export interface CaptionResult {
  path: string;
  caption: string;
  logprob: number;
  /** Attention decoders: per word (and <end>), weights over the grid [gridHeight, gridWidth]. */
  attention?: { grid: [number, number]; words: WordAttention[] };
  strip?: RgbImage;
}

type DecodeOptions = Omit<CaptionImagesOptions, 'images' | 'model' | 'signal' | 'onFailure' | 'onResult'>;

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

  /**
   * An image file's features exactly as `extract` caches them: loadEncoderImage (the one image pipeline),
   * the encoder, and the cache's float16 rounding of the grid.
   */
  async encode(path: string): Promise<Features> {
    return encodeImageFiles(this.extractor, [path]);
  }

  /**
   * Caption an image file. It goes through the same pipeline as `extract` (so as `eval`): the caption is the
   * one eval scores for this image with the same model and decoding options. Attention strips are drawn on
   * a display copy (longer side at most 1024 px), which the model never sees.
   */
  async captionFile(path: string, options: DecodeOptions = {}): Promise<CaptionResult> {
    const feats = await this.encode(path);
    const display = options.attentionMaps && options.strips ? await loadImage(path, { maxSide: 1024 }) : undefined;
    return this.decode(feats, path, options, display);
  }

  /**
   * Caption an image already in memory (e.g. a synthetic scene): squashed to the encoder's input size with
   * resizeImage. For files use captionFile, which decodes and resizes in one step as `extract` does (a JPEG
   * decoded first and resized afterwards gives slightly different pixels, and so sometimes another caption).
   */
  async caption(image: RgbImage, path: string, options: DecodeOptions = {}): Promise<CaptionResult> {
    const [ih, iw] = this.model.config.encoder.inputSize;
    const resized = image.width === iw && image.height === ih ? image : await resizeImage(image, { width: iw, height: ih });
    const feats = asCached(await this.extractor.extract([resized]));
    return this.decode(feats, path, options, image);
  }

  private async decode(feats: Features, path: string, options: DecodeOptions, display?: RgbImage): Promise<CaptionResult> {
    const { decoder, vocab, config } = this.model;
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
      if (options.strips && display) result.strip = await attentionStrip(display, wa, [gh, gw], { title: result.caption });
    }
    return result;
  }

  dispose(): void {
    this.model.decoder.params.dispose();
    this.extractor.dispose();
  }
}

/**
 * Caption image files with the shipped (or a given) model, one at a time through the one image pipeline
 * (Captioner.captionFile). Throws on the first unreadable image unless `onFailure` is given.
 */
export async function captionImages(options: CaptionImagesOptions): Promise<CaptionResult[]> {
  const captioner = await Captioner.load(options.model);
  try {
    const out: CaptionResult[] = [];
    for (const path of options.images) {
      if (options.signal?.aborted) break;
      let result: CaptionResult;
      try {
        result = await captioner.captionFile(path, options);
      } catch (err) {
        if (!options.onFailure || !(err instanceof ConvlabError)) throw err;
        options.onFailure(path, err);
        continue;
      }
      out.push(result);
      await options.onResult?.(result);
    }
    return out;
  } finally {
    captioner.dispose();
  }
}
