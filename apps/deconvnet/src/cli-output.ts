/**
 * Output folders of the CLI: which folders a run is about to create (so a run refused after creating
 * them leaves nothing behind), and refusing an output folder inside an input folder (its results
 * would be read back as images by the next run over that folder, and could then be written over).
 */
import { existsSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { ConvlabError } from '@convlab/core';

/** The folders that creating `dir` (recursively) would make, deepest first. */
export function missingDirs(dir: string): string[] {
  const out: string[] = [];
  let p = resolve(dir);
  while (!existsSync(p)) {
    out.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return out;
}

/** Remove folders (deepest first) that are still empty; anything with a file in it stays. */
export function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // not empty, or already gone: keep it
    }
  }
}

/** Realpath of a path that may not exist yet (its existing ancestor resolved, the rest appended). */
function realish(path: string): string {
  const abs = resolve(path);
  let anc = abs;
  while (!existsSync(anc) && dirname(anc) !== anc) anc = dirname(anc);
  let real = anc;
  try {
    real = realpathSync(anc);
  } catch {
    real = anc;
  }
  const rest = abs.slice(anc.length).replace(/^[/\\]+/, '');
  return rest ? join(real, rest) : real;
}

/** Refuse an output folder that is one of the input folders or inside one. */
export function refuseInsideInputFolders(out: string, inputs: readonly string[], flag: string): void {
  const o = realish(out);
  for (const input of inputs) {
    if (!input || !existsSync(input) || !statSync(input).isDirectory()) continue;
    const i = realish(input);
    if (o === i || o.startsWith(i.endsWith(sep) ? i : i + sep)) {
      throw new ConvlabError(`${flag} ${out} is inside the image folder ${input}: the results would be read as images by the next run over it`, {
        hint: `choose a ${flag} outside ${input}`,
      });
    }
  }
}
