/**
 * Builds the studio's front end: bundles web/src/main.ts (plain TypeScript, no framework) into one ES module with
 * esbuild and copies index.html and style.css beside it. Offline and well under a second, so the server runs it
 * at every start. Each output file is written atomically, so a studio serving the folder (or a second studio
 * building into it at the same time) never sees half a file.
 */
import { build } from 'esbuild';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Where the studio serves the front end from (git-ignored). */
export const WEB_DIST = join(here, '..', 'web-dist');
/** Files copied as they are. */
const STATIC = ['index.html', 'style.css'];

/** Temp file + rename (same folder, so the rename is atomic); no @convlab/core import, so building loads no engine. */
async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function buildWeb(outDir = WEB_DIST): Promise<void> {
  const result = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    outfile: join(outDir, 'main.js'),
    sourcemap: 'linked',
    conditions: ['@convlab/source'],
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  await mkdir(outDir, { recursive: true });
  for (const file of result.outputFiles) await writeFileAtomic(join(outDir, basename(file.path)), file.contents);
  for (const name of STATIC) await writeFileAtomic(join(outDir, name), await readFile(join(here, name)));
}
