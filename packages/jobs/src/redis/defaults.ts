/**
 * Defaults shared by the Redis queue and its workers: the folder job files go to, and the kinds modules that
 * hold the sharded batch kinds (top-9 scan, caption feature extraction, batch stylization).
 */
import { homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CONVLAB_RUNS, else ~/.convlab/runs. */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONVLAB_RUNS || join(homedir(), '.convlab', 'runs');
}

/**
 * The scale-out kinds modules, found next to each package's entry (src/*.ts when running from source under the
 * '@convlab/source' condition, dist/*.js when built). A package that is not installed (or has no such module) is left out.
 */
export const SCALE_OUT_MODULES: readonly [pkg: string, file: string][] = [
  ['@convlab/visualize', 'top9/shard-kinds'],
  ['@convlab/caption', 'feature-shard-kinds'],
  ['@convlab/style', 'batch-kinds'],
];

export function defaultKindsModules(): string[] {
  const out: string[] = [];
  for (const [pkg, file] of SCALE_OUT_MODULES) {
    let main: string;
    try {
      main = import.meta.resolve(pkg);
    } catch {
      continue;
    }
    const ext = main.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./${file}${ext}`, main);
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) out.push(url.href);
  }
  return out;
}
