/**
 * The files of a command-line run, checked and prepared before any work, then written once the run has an
 * image: PATH (the image), PATH.json (run record), PATH-loss.png, PATH-iterNNNN.ext checkpoints and an
 * optional HTML page. Messages name convlab-style's flags (--output, --html, --save-every).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ConvlabError, missingDirs, prepareOutputFile, removeEmptyDirs, resolvedPath, saveImage } from '@convlab/core';
import type { ResolvedStylizeOptions } from './options.js';
import { writeLossPlot } from './plot.js';
import { writeStyleReport } from './report.js';
import type { StylizeResult } from './stylize.js';

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

export interface OutputPaths {
  image: string;
  record: string;
  plot: string;
  checkpoint: (n: number) => string;
}

/** Output file names derived from the image path. */
export function outputPaths(output: string): OutputPaths {
  const ext = extname(output);
  if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext.toLowerCase())) {
    throw new ConvlabError(`--output ${output}: unknown image extension "${ext}"`, { hint: 'end it with .png, .jpg or .webp' });
  }
  const base = output.slice(0, output.length - ext.length);
  return { image: output, record: `${base}.json`, plot: `${base}-loss.png`, checkpoint: (n) => `${base}-iter${String(n).padStart(4, '0')}${ext}` };
}

/** Input images must be files that exist (decoding comes later, in stylize). */
export function checkInputFile(path: string, flag: string): void {
  if (!existsSync(path)) throw new ConvlabError(`${flag} ${path}: image not found`, { hint: 'check the path' });
  if (!statSync(path).isFile()) throw new ConvlabError(`${flag} ${path} is not a file`, { hint: `give ${flag} an image file` });
}

/** The run's input files (images given by path, and a weights file or folder), each checked to exist; no output may be written over one. */
export function checkInputs(o: ResolvedStylizeOptions): string[] {
  if (typeof o.content === 'string') checkInputFile(o.content, '--content');
  for (const s of o.style) if (typeof s === 'string') checkInputFile(s, '--style');
  const weights = o.weights !== 'default' && o.weights !== 'random' ? [o.weights] : [];
  return [o.content, ...o.style, ...weights].filter((p): p is string => typeof p === 'string');
}

export interface PreparedOutputs {
  paths: OutputPaths;
  html?: string;
  /** Folders created for the outputs (removed again if the run fails before writing anything). */
  created: string[];
}

/**
 * Every file the run will write, checked and prepared before any work: resolved, refused on /proc and
 * the like, never one of the input images (also through links) nor another output, folders created and
 * probed for writability. Checkpoints (PATH-iterNNNN.ext) must not be input images either.
 */
export async function prepareOutputs(output: string, html: string | undefined, inputs: string[], checkpoints: { every: number; total: number }): Promise<PreparedOutputs> {
  const paths = outputPaths(output);
  const created = [...new Set([...missingDirs(dirname(resolve(paths.image))), ...(html ? missingDirs(dirname(resolve(html))) : [])])].sort((a, b) => b.length - a.length);
  try {
    await prepareOutputFile(paths.image, { flag: '--output', inputs, extensions: IMAGE_EXTENSIONS });
    await prepareOutputFile(paths.record, { flag: '--output', inputs });
    await prepareOutputFile(paths.plot, { flag: '--output', inputs });
    if (html) {
      const h = resolve(html);
      const clash = [paths.image, paths.record, paths.plot].find((p) => resolve(p) === h);
      if (clash) throw new ConvlabError(`--html ${html} is also an output of --output (${clash})`, { hint: 'give --html its own file, e.g. out/report.html' });
      await prepareOutputFile(html, { flag: '--html', inputs, extensions: ['.html', '.htm'] });
    }
    if (checkpoints.every > 0) {
      // An input with a checkpoint's name in the output folder (or a link there to one) would be written over.
      const dir = dirname(resolve(paths.image));
      const ext = extname(paths.image);
      const stem = basename(paths.image, ext);
      const inputSet = new Set(inputs.map(resolvedPath));
      for (const name of readdirSync(dir)) {
        const m = name.startsWith(`${stem}-iter`) && name.endsWith(ext) ? /^(\d+)$/.exec(name.slice(stem.length + 5, name.length - ext.length)) : null;
        if (!m) continue;
        const n = Number(m[1]);
        if (n % checkpoints.every !== 0 || n > checkpoints.total) continue;
        if (inputSet.has(resolvedPath(join(dir, name)))) {
          throw new ConvlabError(`--save-every ${checkpoints.every} would write checkpoint ${join(dir, name)} over an input image`, { hint: 'choose another --output name' });
        }
      }
    }
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
  return { paths, html, created };
}

/** Write the image, its loss plot, the run record (with the files in `extra.outputs`) and the HTML page. */
export async function writeOutputs(result: StylizeResult, prepared: PreparedOutputs, checkpoints: string[]): Promise<void> {
  const { paths, html } = prepared;
  await saveImage(result.image, paths.image);
  await writeLossPlot(result.record, paths.plot);
  result.record.set('outputs', { image: paths.image, plot: paths.plot, record: paths.record, checkpoints, ...(html ? { html } : {}) });
  await result.record.save(paths.record);
  if (html) await writeStyleReport(result, html);
}
