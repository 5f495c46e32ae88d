/**
 * The files of a job, the same for every driver that keeps jobs on a disk:
 *
 *   <runsDir>/<id>/job.json    the JobInfo (written atomically at each status change)
 *   <runsDir>/<id>/.staging/   what the kind's run function writes while it runs (ctx.dir)
 *   <runsDir>/<id>/files/      the staging folder renamed into place when the job is done
 *
 * A failed, cancelled or crashed job has no .staging and no files/: no half-written output survives.
 * Artifact paths are relative to ctx.dir ('/'-separated), so they name the same file in .staging/ and files/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';

/** Job ids are folder names: a letter or digit first, then letters, digits, '.', '_', '-'; at most 128. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const isValidJobId = (id: unknown): id is string => typeof id === 'string' && JOB_ID_PATTERN.test(id);

export const JOB_FILE = 'job.json';
export const STAGING_DIR = '.staging';
export const FILES_DIR = 'files';

export const jobDir = (runsDir: string, id: string): string => join(runsDir, id);
export const jobFile = (runsDir: string, id: string): string => join(runsDir, id, JOB_FILE);
export const stagingDir = (runsDir: string, id: string): string => join(runsDir, id, STAGING_DIR);
export const filesDir = (runsDir: string, id: string): string => join(runsDir, id, FILES_DIR);

/**
 * A job-relative file path made safe: '/'-separated (backslashes count as separators), no empty, '.' or
 * '..' segment, not absolute, no NUL. Returns the cleaned path, or undefined when it is refused.
 */
export function safeRelativePath(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) return undefined;
  const parts = path.split(/[/\\]/);
  if (parts[0] === '' || /^[A-Za-z]:$/.test(parts[0])) return undefined;
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return parts.join('/');
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.md': 'text/markdown',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

/** The MIME type of a file by its extension (application/octet-stream when unknown). */
export const mimeOf = (path: string): string => MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';

/**
 * Write a file atomically: a temporary file in the same folder, then a rename, so a reader (the studio
 * serving a live image) sees the old bytes or the new ones, never a part. (core's writeFileAtomic lives in
 * its main entry, which loads tfjs; this package imports only @convlab/core/light.)
 */
export async function writeFileAtomically(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
