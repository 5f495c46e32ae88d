/**
 * The studio's captioning job kind, `caption.predict` (@convlab/jobs' kind interface): one image captioned
 * by a shipped model with beam search, through the same pipeline as `convlab-caption predict` (Captioner:
 * the image reaches the encoder as in `extract`, so the caption is the one `eval` would score). With the
 * attention model (Show, Attend and Tell; Xu et al. 2015) each word gets its attention map upsampled and
 * overlaid on the photo, as in the paper's Fig. 3.
 *
 * Input: PredictOptions' decoding fields, one image (a file path: the studio resolves its references
 * first) and a shipped model by name (no model folder from a client). Files: photo.png (the photo, longer
 * side at most 512 px, for display), att-<i>.png per word (attention models) and run.json. This module
 * loads no tfjs: `run` imports the pipeline.
 */
import { join } from 'node:path';
import { z } from '@convlab/core/light';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { PredictOptions } from './options.js';
import { DEFAULT_MODEL, SHIPPED_MODELS, type ShippedModel } from './shipped-models.js';

/** Longer side of photo.png and of the attention overlays. */
export const DISPLAY_SIDE = 512;

const MODEL_NAMES = Object.keys(SHIPPED_MODELS) as [ShippedModel, ...ShippedModel[]];

export const CaptionJobInput = PredictOptions.omit({ images: true, attentionMaps: true, backend: true, model: true }).extend({
  image: z.string().min(1, 'give an image').meta({ description: 'the photo to caption', image: true }),
  model: z
    .enum(MODEL_NAMES)
    .default(DEFAULT_MODEL)
    .describe(`caption model: ${MODEL_NAMES.map((m) => `${m} (${SHIPPED_MODELS[m].description})`).join('; ')}`),
});
export type CaptionJobInput = z.output<typeof CaptionJobInput>;

export interface CaptionJobWord {
  word: string;
  /** The word's attention overlay ('att-<i>.png'); absent when the model has no attention. */
  attention?: string;
}

export interface CaptionJobResult {
  caption: string;
  logprob: number;
  words: CaptionJobWord[];
  photo: 'photo.png';
  model: ShippedModel;
  /** Whether the model attends (Show, Attend and Tell): only then do words have attention maps. */
  attention: boolean;
  /** The attention grid [h, w] over the photo (attention models). */
  grid?: [number, number];
  record: 'run.json';
  /** True when the job was cancelled while the attention maps were drawn (the caption is complete). */
  aborted: boolean;
}

const PNG = { mime: 'image/png' } as const;

async function captionJob(o: CaptionJobInput, ctx: JobContext): Promise<CaptionJobResult> {
  const [core, { Captioner }, { attentionOverlay }] = await Promise.all([import('@convlab/core'), import('./predict.js'), import('./attention-maps.js')]);
  const engine = await core.initEngine({ log: false });
  ctx.setBackend(engine.backend);
  const record = core.createRunRecord({ tool: 'studio caption.predict', parameters: o, backend: engine, model: o.model });
  ctx.progress({ done: 0, total: 3, message: `loading ${o.model}` });
  // Read the photo first: an unreadable file fails before the model loads.
  const photo = await core.loadImage(o.image, { maxSide: DISPLAY_SIDE });
  await core.saveImage(photo, join(ctx.dir, 'photo.png'));
  await ctx.announce('photo.png', { ...PNG, label: `photo ${photo.width}x${photo.height}` });
  ctx.signal.throwIfAborted();
  const captioner = await record.measure('load', () => Captioner.load(o.model));
  try {
    ctx.signal.throwIfAborted();
    const attends = captioner.model.config.decoder.kind === 'show-attend-tell';
    ctx.progress({ done: 1, total: 3, message: `captioning (beam ${o.beam})` });
    const r = await record.measure('caption', () =>
      captioner.captionFile(o.image, { beam: o.beam, maxLength: o.maxLength, lengthPenalty: o.lengthPenalty, blockTrigrams: o.blockTrigrams, attentionMaps: attends }),
    );
    const words: CaptionJobWord[] = r.caption === '' ? [] : r.caption.split(' ').map((word) => ({ word }));
    ctx.log(`caption: ${r.caption} (log p = ${r.logprob.toFixed(2)})`);
    let aborted = false;
    if (r.attention) {
      const { grid } = r.attention;
      for (const [i, w] of words.entries()) {
        if (ctx.signal.aborted) {
          aborted = true;
          break;
        }
        ctx.progress({ done: 2 + i / words.length, total: 3, message: `attention map ${i + 1}/${words.length}: ${w.word}` });
        const file = `att-${i}.png`;
        await core.saveImage(await attentionOverlay(photo, r.attention.words[i].weights, grid), join(ctx.dir, file));
        await ctx.announce(file, { ...PNG, label: `attention for "${w.word}" (word ${i + 1})` });
        w.attention = file;
      }
    }
    const result: CaptionJobResult = {
      caption: r.caption,
      logprob: r.logprob,
      words,
      photo: 'photo.png',
      model: o.model,
      attention: attends,
      ...(r.attention ? { grid: r.attention.grid } : {}),
      record: 'run.json',
      aborted,
    };
    record.set('result', { caption: r.caption, logprob: r.logprob, words });
    record.set('outputs', { photo: 'photo.png', attention: words.flatMap((w) => (w.attention ? [w.attention] : [])) });
    record.finish();
    await record.save(join(ctx.dir, 'run.json'));
    await ctx.announce('run.json', { mime: 'application/json', label: 'run record' });
    if (!aborted) ctx.progress({ done: 3, total: 3, message: attends ? 'done' : 'done (this model has no attention maps)' });
    return result;
  } finally {
    captioner.dispose();
  }
}

export const predictKind = defineJobKind({
  kind: 'caption.predict',
  title: 'Caption a photo',
  description:
    'A caption for a photo from the shipped Flickr8k models (ConvNet encoder, LSTM decoder, beam search); with Show, Attend and Tell, where the model looked for each word.',
  input: CaptionJobInput,
  heavy: true,
  run: captionJob,
});

export const jobKinds: JobKind[] = [predictKind];
