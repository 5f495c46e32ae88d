/**
 * `predict` as a library call: caption image files and folders with a shipped or trained model, one image
 * at a time through the one image pipeline (Captioner.captionFile, the pipeline `extract` uses). An
 * unreadable image is reported (hooks.onFailure) and skipped. With `attentionMaps` (a folder), attention
 * models draw one strip per image there and the run record is written beside them; the record is always
 * returned.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { ConvlabError, createRunRecord, listImageFiles, prepareOutputDir, resolvedPath, saveImage, type RunRecordJson, type z } from '@convlab/core';
import { readCaptionModelFiles } from '../model-io.js';
import { PredictOptions } from '../options.js';
import { captionImages, type CaptionResult } from '../predict.js';
import { checkInputs, chooseModel, hooksOf, parseGiven, samePath, startEngine, type RunHooks } from './common.js';

export interface PredictHooks extends RunHooks {
  /** Each caption as soon as it is done (its strip already written), before the next image is read. */
  onResult?: (result: CaptionResult) => void | Promise<void>;
}

export interface PredictRun {
  /** The image files captioned or tried (folders expanded). */
  images: string[];
  results: CaptionResult[];
  failed: { item: string; reason: string }[];
  /** Strips written into `attentionMaps` (0 for a model without attention). */
  strips: number;
  record: RunRecordJson;
  /** Where the record was written (inside `attentionMaps`), if it was. */
  recordPath?: string;
}

/** Image paths and folders -> image files: folders are listed (links followed); every path must exist. */
export async function expandImages(paths: string[]): Promise<{ images: string[]; folders: string[] }> {
  const images: string[] = [];
  const folders: string[] = [];
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length) {
    throw new ConvlabError(`image not found: ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`, { hint: 'check the paths; nothing was captioned' });
  }
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      const found = await listImageFiles(p);
      if (!found.length) throw new ConvlabError(`no images in folder ${p}`, { hint: 'give image files (.jpg, .png, .webp, ...) or a folder that holds some' });
      folders.push(p);
      images.push(...found);
    } else images.push(p);
  }
  return { images, folders };
}

/** `<name>-attention.png` per image; a second image of the same name gets `-2`, and so on. */
export function stripNames(images: string[]): Map<string, string> {
  const used = new Map<string, number>();
  const out = new Map<string, string>();
  for (const p of images) {
    const base = basename(p, extname(p));
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    out.set(p, `${base}${n > 1 ? `-${n}` : ''}-attention.png`);
  }
  return out;
}

export async function runPredict(options: z.input<typeof PredictOptions>, hooks: PredictHooks = {}): Promise<PredictRun> {
  const h = hooksOf(hooks);
  // 1. options
  if (!options?.images?.length) throw new ConvlabError('no images given', { hint: h.source === 'cli' ? 'convlab-caption predict photo.jpg [more.jpg | folder ...]' : 'give images: ["photo.jpg", ...] (files or folders)' });
  const { o } = parseGiven(PredictOptions, options, h);
  const model = chooseModel(o.model, h);
  // 2. inputs
  checkInputs([model.input]);
  const { images, folders } = await expandImages(o.images);
  // 3. output
  let mapsDir: string | undefined;
  const names = stripNames(images);
  if (o.attentionMaps !== undefined) {
    const flag = h.name('attentionMaps');
    for (const f of folders) if (samePath(o.attentionMaps, f)) throw new ConvlabError(`${flag} ${o.attentionMaps} is the input folder ${f}: convlab never writes into its inputs`, { hint: `choose another folder, e.g. ${flag} out/` });
    mapsDir = await prepareOutputDir(o.attentionMaps, { flag, inputs: images });
    const inputSet = new Set(images.map((p) => resolvedPath(p)));
    for (const [p, name] of names) {
      if (inputSet.has(resolvedPath(join(mapsDir, name)))) throw new ConvlabError(`${flag} ${o.attentionMaps}: ${name} would overwrite the input ${p}`, { hint: 'choose another folder for the maps' });
    }
  }
  // 4. small inputs
  const saved = readCaptionModelFiles(model.dir);
  // 5. work
  const engine = await startEngine(o.backend, h);
  const parameters = { ...o, lengthPenalty: o.lengthPenalty ?? saved.config.decoding?.lengthPenalty ?? 0 };
  const record = createRunRecord({ tool: 'caption-predict', parameters, backend: engine, model: o.model });
  const failed: PredictRun['failed'] = [];
  let strips = 0;
  const results = await record.measure('caption', () =>
    captionImages({
      images,
      model: o.model,
      beam: o.beam,
      maxLength: o.maxLength,
      lengthPenalty: o.lengthPenalty,
      blockTrigrams: o.blockTrigrams,
      attentionMaps: !!mapsDir,
      strips: !!mapsDir,
      signal: h.signal,
      onFailure: (path, err) => {
        failed.push({ item: path, reason: err.message.split('\n')[0] });
        h.onFailure?.(path, err);
      },
      // Each caption is reported (and its strip written) as soon as it is done: an interrupted run keeps them.
      onResult: async (r) => {
        if (mapsDir && r.strip) {
          const file = join(mapsDir, names.get(r.path)!);
          await saveImage(r.strip, file);
          strips++;
          h.log(`wrote ${file}`);
        }
        await hooks.onResult?.(r);
      },
    }),
  );
  if (mapsDir && results.length && !strips) h.log('note: this model has no attention (Show and Tell); no attention maps written');
  record.set('modelDir', relative(process.cwd(), model.dir) || '.');
  record.set('images', images.length);
  record.set('results', results.map((r) => ({ path: r.path, caption: r.caption, logprob: r.logprob, ...(r.strip ? { strip: names.get(r.path) } : {}) })));
  record.set('failed', failed);
  record.set('complete', !h.signal?.aborted);
  record.finish();
  let recordPath: string | undefined;
  if (mapsDir) {
    recordPath = join(mapsDir, 'run-record.json');
    await record.save(recordPath);
  }
  if (h.signal?.aborted) h.log(`interrupted: ${results.length} of ${images.length} images captioned`);
  return { images, results, failed, strips, record: record.toJSON(), recordPath };
}
