/**
 * Inputs and output folders of a run, checked and prepared before the model loads: the image files
 * (missing or empty folders are errors), which folders a run is about to create (so a run refused
 * after creating them leaves nothing behind), refusing an output folder inside an input folder (its
 * results would be read back as images by the next run over that folder, and could then be written
 * over), and core's prepareOutputDir (pseudo file systems, an input file, writability).
 */
import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ConvlabError, isSameOrInside, missingDirs, prepareOutputDir, removeEmptyDirs } from '@convlab/core';
import { collectImageFiles } from './images.js';

export { missingDirs, removeEmptyDirs };

/** Refuse an output folder that is one of the input folders or inside one. */
export function refuseInsideInputFolders(out: string, inputs: readonly string[], flag: string): void {
  for (const input of inputs) {
    if (!input || !existsSync(input) || !statSync(input).isDirectory()) continue;
    if (isSameOrInside(out, input)) {
      throw new ConvlabError(`${flag} ${out} is inside the image folder ${input}: the results would be read as images by the next run over it`, {
        hint: `choose a ${flag} outside ${input}`,
      });
    }
  }
}

export interface RunIo {
  /** The image files of the run (folders expanded, sorted per folder). */
  files: string[];
  /** Absolute output folder (undefined when the run writes nothing). */
  out?: string;
  /** Absolute scan cache folder (top9 with --cache). */
  cache?: string;
  /** Folders this preparation created, deepest first: removeEmptyDirs(created) undoes it after a refusal. */
  created: string[];
}

/**
 * Check a run's inputs and prepare its output folders before any model is loaded: `images` are the
 * image files or folders (a folder that is missing or holds no images is an error), `out` and `cache`
 * are refused inside an image folder, on a pseudo file system, or as one of the input files (a
 * `weights` path counts as an input), then created and probed. Nothing is left behind on a refusal.
 */
export async function prepareRunIo(o: { images?: string | readonly string[]; out?: string; cache?: string; weights?: string }): Promise<RunIo> {
  const paths = o.images === undefined ? [] : typeof o.images === 'string' ? [o.images] : [...o.images];
  const files: string[] = [];
  const folders: string[] = [];
  for (const p of paths) {
    files.push(...(await collectImageFiles(p)));
    if ((await stat(p)).isDirectory()) folders.push(p);
  }
  const inputs = [...files, ...(o.weights !== undefined && o.weights !== 'default' && o.weights !== 'random' ? [o.weights] : [])];
  const created: string[] = [];
  const io: RunIo = { files, created };
  try {
    for (const [flag, dir] of [['--out', o.out], ['--cache', o.cache]] as const) {
      if (dir === undefined) continue;
      refuseInsideInputFolders(dir, folders, flag);
      created.unshift(...missingDirs(dir));
      const abs = await prepareOutputDir(dir, { flag, inputs });
      if (flag === '--out') io.out = abs;
      else io.cache = abs;
    }
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
  return io;
}
