/**
 * Kinds modules: a package specifier ('@convlab/style/jobs') or a file path, each exporting
 * `jobKinds: JobKind[]`. The queue resolves each to one URL and both it and its workers import that URL, so
 * the schemas it validates with and the run functions the workers call come from the same file.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConvlabError } from '@convlab/core/light';
import type { JobKind } from './kind.js';

/** A kinds module that cannot be found, loaded or used: a user-facing error with its hint. */
export class KindsModuleError extends ConvlabError {
  constructor(message: string, hint: string) {
    super(message, { hint });
    this.name = 'KindsModuleError';
  }
}

const HINT = 'a kinds module exports `jobKinds`, an array of defineJobKind(...) (see @convlab/jobs/kind)';

/**
 * The URL to import for a kinds module: file URLs as they are, absolute paths (and ./ ../ paths, from the
 * current folder) as file URLs, package specifiers resolved from here (workspaces hoist them) with the
 * running process's conditions and loaders (the '@convlab/source' condition picks src/*.ts).
 */
export function resolveKindsModule(spec: string): string {
  if (spec.startsWith('file:')) return spec;
  if (isAbsolute(spec)) return pathToFileURL(spec).href;
  if (spec.startsWith('./') || spec.startsWith('../')) return pathToFileURL(resolve(spec)).href;
  try {
    return import.meta.resolve(spec);
  } catch (err) {
    throw new KindsModuleError(`cannot find the job kinds module ${spec}: ${(err as Error).message}`, 'give a package specifier that is installed (e.g. @convlab/style/jobs) or an absolute file path');
  }
}

function checkKind(k: unknown, spec: string, i: number): JobKind {
  const kind = k as Partial<JobKind> | undefined;
  const what = `${spec}: jobKinds[${i}]`;
  if (!kind || typeof kind.kind !== 'string' || kind.kind === '') throw new KindsModuleError(`${what} has no kind name`, HINT);
  if (typeof kind.run !== 'function') throw new KindsModuleError(`${what} (${kind.kind}) has no run function`, HINT);
  if (!kind.input || typeof (kind.input as { safeParse?: unknown }).safeParse !== 'function') throw new KindsModuleError(`${what} (${kind.kind}) has no input schema`, HINT);
  return kind as JobKind;
}

/** Import kinds modules (URLs from resolveKindsModule) and index their kinds by name; a name declared twice is refused. */
export async function loadKinds(urls: readonly string[], labels: readonly string[] = urls): Promise<Map<string, JobKind>> {
  const out = new Map<string, JobKind>();
  for (const [i, url] of urls.entries()) {
    const spec = labels[i] ?? url;
    let mod: { jobKinds?: unknown };
    try {
      mod = (await import(url)) as { jobKinds?: unknown };
    } catch (err) {
      throw new KindsModuleError(`cannot load job kinds from ${spec}: ${(err as Error).message}`, HINT);
    }
    if (!Array.isArray(mod.jobKinds)) throw new KindsModuleError(`${spec} exports no jobKinds array`, HINT);
    for (const [j, k] of mod.jobKinds.entries()) {
      const kind = checkKind(k, spec, j);
      if (out.has(kind.kind)) throw new KindsModuleError(`job kind ${kind.kind} is declared twice (again in ${spec})`, 'give each kind one module');
      out.set(kind.kind, kind);
    }
  }
  return out;
}
