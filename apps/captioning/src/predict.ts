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

/** The model shipped in the repository (apps/captioning/pretrained). */
export const PRETRAINED_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'pretrained');
/** The shipped soft-attention model (1 Flickr8k epoch): use it for attention maps. */
export const PRETRAINED_ATTENTION_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'pretrained-attention');

export interface CaptionImagesOptions {
  images: string[];
  /** Model folder (default: the shipped pretrained model). */
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

  static async load(modelDir = PRETRAINED_DIR): Promise<Captioner> {
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
