/**
 * Output paths, checked before any heavy work: resolved, refused on pseudo file systems (/proc,
 * /sys, /dev: Node's recursive mkdir spins forever under /proc), refused when they would write over
 * an input, created, and probed for writability with a real file, so a run never finds out after an
 * hour of optimisation that it cannot save. Every error names the flag and says what to do.
 */
import { existsSync, statfsSync, statSync, realpathSync, rmdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep, basename, join } from 'node:path';
import { ConvlabError } from './errors.js';

/** statfs magic numbers of kernel pseudo file systems nothing should be written into. */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x1373: 'devfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
  0xcafe4a11: 'bpf',
  0x42494e4d: 'binfmt_misc',
};
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

export interface OutputCheck {
  /** The flag the path came from, named in every message (e.g. '--out'). */
  flag: string;
  /** Input files (or folders) the output must not be, or contain for a folder output. */
  inputs?: readonly string[];
}

/** The nearest existing ancestor of a path (the path itself if it exists). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The real path of a path that may not exist yet: its nearest existing ancestor resolved through
 * links, the rest appended (for an existing path, its realpath). Compare paths with this.
 */
export function resolvedPath(path: string): string {
  const abs = resolve(path);
  const anc = existingAncestor(abs);
  const rest = abs.slice(anc.length).replace(/^[/\\]+/, '');
  return rest ? join(real(anc), rest) : real(anc);
}

/** Whether `child` is `parent` or inside it, links resolved. */
export function isSameOrInside(child: string, parent: string): boolean {
  const c = resolvedPath(child);
  const p = resolvedPath(parent);
  return c === p || c.startsWith(p.endsWith(sep) ? p : p + sep);
}

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

/**
 * Remove folders (deepest first) that are still empty: with missingDirs, a run refused after its
 * output folders were made leaves nothing behind. Anything with a file in it stays.
 */
export function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // not empty, or already gone: keep it
    }
  }
}

function refusePseudo(abs: string, flag: string): void {
  const anc = existingAncestor(abs);
  const r = real(anc);
  const under = PSEUDO_ROOTS.find((root) => r === root || r.startsWith(root + sep));
  let fsName: string | undefined;
  try {
    fsName = PSEUDO_FS[Number(statfsSync(anc).type)];
  } catch {
    fsName = undefined;
  }
  if (under === '/dev' && !fsName && /^\/dev\/shm(\/|$)/.test(r)) return; // tmpfs: fine
  if (under || fsName) {
    throw new ConvlabError(`${flag} ${abs} is on ${fsName ? `the ${fsName} pseudo file system` : under}, where files cannot be written`, {
      hint: `give ${flag} a folder on a real disk, e.g. ${flag} out/`,
    });
  }
}

function refuseInputs(target: string, kind: 'file' | 'dir', check: OutputCheck): void {
  const t = resolvedPath(target);
  for (const input of check.inputs ?? []) {
    if (!input) continue;
    const i = resolvedPath(input);
    if (i === t) {
      throw new ConvlabError(`${check.flag} ${target} is the input ${input}: convlab never writes over an input`, {
        hint: `choose another ${check.flag}`,
      });
    }
    if (kind === 'file' && existsSync(t) && existsSync(i) && statSync(t).ino === statSync(i).ino && statSync(t).dev === statSync(i).dev) {
      throw new ConvlabError(`${check.flag} ${target} is a link to the input ${input}: convlab never writes over an input`, {
        hint: `choose another ${check.flag}`,
      });
    }
  }
}

async function probeWritable(dir: string, flag: string): Promise<void> {
  const probe = join(dir, `.convlab-write-probe-${process.pid}-${Date.now()}`);
  try {
    await writeFile(probe, 'probe');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConvlabError(`${flag}: cannot write into ${dir} (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' ? 'disk full' : code})`, {
      hint: `give ${flag} a folder you can write to`,
      cause: err,
    });
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

async function makeDir(dir: string, flag: string): Promise<void> {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new ConvlabError(`${flag} ${dir} exists and is not a folder`, { hint: `give ${flag} a folder path` });
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConvlabError(`${flag}: cannot create folder ${dir} (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a parent is a file' : code === 'EROFS' ? 'read-only file system' : code})`, {
      hint: `give ${flag} a folder you can write to`,
      cause: err,
    });
  }
}

/**
 * Check an output folder before any work: resolve it, refuse pseudo file systems and inputs inside
 * it being overwritten by name is the caller's business (outputs get their own names), create it and
 * write a probe file into it. Returns the absolute path.
 */
export async function prepareOutputDir(dir: string, check: OutputCheck): Promise<string> {
  if (!dir || !dir.trim()) throw new ConvlabError(`${check.flag} is empty`, { hint: `give ${check.flag} a folder path` });
  const abs = resolve(dir);
  refusePseudo(abs, check.flag);
  for (const input of check.inputs ?? []) {
    if (input && existsSync(input) && statSync(input).isFile() && resolvedPath(input) === resolvedPath(abs)) {
      throw new ConvlabError(`${check.flag} ${dir} is the input file ${input}`, { hint: `give ${check.flag} a folder path` });
    }
  }
  await makeDir(abs, check.flag);
  await probeWritable(abs, check.flag);
  return abs;
}

/**
 * Check an output file path before any work: refuse pseudo file systems, an existing folder, any of
 * the inputs (also through links), and unsupported extensions when `extensions` is given; create its
 * folder and probe that a file can be written there. Returns the absolute path.
 */
export async function prepareOutputFile(file: string, check: OutputCheck & { extensions?: readonly string[] }): Promise<string> {
  if (!file || !file.trim()) throw new ConvlabError(`${check.flag} is empty`, { hint: `give ${check.flag} a file path` });
  const abs = resolve(file);
  refusePseudo(abs, check.flag);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    throw new ConvlabError(`${check.flag} ${file} is a folder`, { hint: `give ${check.flag} a file name such as ${join(file, 'out.png')}` });
  }
  if (check.extensions) {
    const ext = basename(abs).includes('.') ? basename(abs).slice(basename(abs).lastIndexOf('.')).toLowerCase() : '';
    if (!check.extensions.includes(ext)) {
      throw new ConvlabError(`${check.flag} ${file}: unsupported extension "${ext}"`, { hint: `use one of ${check.extensions.join(', ')}` });
    }
  }
  refuseInputs(abs, 'file', check);
  const parent = existingAncestor(dirname(abs));
  if (!statSync(parent).isDirectory()) {
    throw new ConvlabError(`${check.flag} ${file}: ${parent} is a file, so it cannot hold ${basename(abs)}`, { hint: `give ${check.flag} a path in a folder, e.g. out/${basename(abs)}` });
  }
  await makeDir(dirname(abs), check.flag);
  await probeWritable(dirname(abs), check.flag);
  return abs;
}
