/**
 * Captioning image files with a saved model: load the encoder named in the model's config, extract
 * features, decode (greedy or beam), and optionally return per-word attention maps.
 */
import { ConvlabError, loadImage, parseOptions, resizeImage, tf } from '@convlab/core';
import type { RgbImage } from '@convlab/core';
import { loadCaptionModel, type CaptionModel } from './model-io.js';
import { asCached, createExtractor, encodeImageFiles, type FeatureExtractor, type Features } from './features.js';
import { beamSearch, decoderModel } from './beam-search.js';
import { attentionStrip, type WordAttention } from './attention-maps.js';
import { resolveModelDir } from './shipped-models.js';
import { DecodingOptions } from './options.js';

/**
 * captionImages' options: the images, the model, the decoding options of the `DecodingOptions` schema
 * (validated the same way; left out, maxLength and lengthPenalty come from the model's config), and hooks.
 */
export interface CaptionImagesOptions extends Partial<DecodingOptions> {
  images: string[];
  /** A shipped model's name (SHIPPED_MODELS) or a model folder; default DEFAULT_MODEL. */
  model?: string;
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
      blockRepeatedTrigrams: options.blockTrigrams,
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
  // The decoding options given are checked against the one declaration of their ranges (`beam 0 is out of range ...`).
  const decoding = Object.fromEntries((['beam', 'maxLength', 'lengthPenalty', 'blockTrigrams'] as const).filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
  const parsed = parseOptions(DecodingOptions, decoding, 'code');
  const decode: DecodeOptions = { ...Object.fromEntries(Object.keys(decoding).map((k) => [k, parsed[k as keyof DecodingOptions]])), attentionMaps: options.attentionMaps, strips: options.strips };
  const captioner = await Captioner.load(options.model);
  try {
    const out: CaptionResult[] = [];
    for (const path of options.images) {
      if (options.signal?.aborted) break;
      let result: CaptionResult;
      try {
        result = await captioner.captionFile(path, decode);
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
