import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { ConvlabError } from '@convlab/core';

export function readText(path: string, what: string): string {
  if (!existsSync(path)) throw new ConvlabError(`${what} not found: ${path}`, { hint: 'check the dataset path' });
  return readFileSync(path, 'utf8');
}

export function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConvlabError(`${what} is not valid JSON: ${path} (${(err as Error).message})`, { hint: 'check the file is complete' });
  }
}

/** The set of file names in a folder (one readdir instead of one stat per image). */
export function listFolder(dir: string): Set<string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConvlabError(`image folder not found: ${dir}`, { hint: 'pass --images <folder with the dataset images>' });
  }
  return new Set(readdirSync(dir));
}
