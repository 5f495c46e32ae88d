/**
 * Test helpers for packages that declare job kinds (`@convlab/jobs/testing`): run a kind here, as a worker
 * would but without a queue, through the same JobContext the drivers give it (`runJobInProcess`): the input
 * parsed from a JSON body with the kind's schema ('http', as the studio does), every event kept.
 * KINDS_LOOK=<dir> keeps a copy of each job's folder there to look at.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions, type OptionsSchema } from '@convlab/core/light';
import type { JobArtifact, JobKind, JobProgress } from './kind.js';
import { runJobInProcess } from './run.js';

export interface JobRun<R> {
  result: R;
  dir: string;
  progress: JobProgress[];
  artifacts: JobArtifact[];
  logs: string[];
  backends: string[];
  cleanup(): void;
}

let runs = 0;

export async function runKind<R>(kind: JobKind, body: Record<string, unknown>, signal: AbortSignal = new AbortController().signal): Promise<JobRun<R>> {
  const dir = mkdtempSync(join(tmpdir(), `${kind.kind}-`));
  const input = parseOptions(kind.input as OptionsSchema, body, 'http');
  const progress: JobProgress[] = [];
  const artifacts: JobArtifact[] = [];
  const logs: string[] = [];
  const backends: string[] = [];
  const result = (await runJobInProcess(kind, input, {
    id: `test-${++runs}`,
    dir,
    signal,
    validate: false,
    onEvent: (e) => {
      if (e.type === 'progress') progress.push(e.progress);
      else if (e.type === 'artifact') artifacts.push(e.artifact);
      else if (e.type === 'log') logs.push(e.message);
      else if (e.type === 'setBackend') backends.push(e.backend);
    },
  })) as R;
  if (process.env.KINDS_LOOK) cpSync(dir, join(process.env.KINDS_LOOK, `${kind.kind}-${process.pid}-${runs}`), { recursive: true });
  return { result, dir, progress, artifacts, logs, backends, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The modules whose import loads tfjs or sharp when `specifier` is imported in a fresh node (the way the
 * tests run: tsx, source condition). tfjs-core and sharp are CommonJS, so they show in require.cache.
 */
export function heavyModulesLoadedBy(specifier: string, cwd: string): string[] {
  const code = `
    await import(${JSON.stringify(specifier)});
    const { createRequire } = await import('node:module');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(cache.filter((k) => /@tensorflow|[\\\\/]sharp[\\\\/]/.test(k))));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@convlab/source', '--input-type=module', '-e', code], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`importing ${specifier} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG file's size, after checking its signature and decoding it whole (a truncated file throws). */
export async function pngSize(path: string): Promise<{ width: number; height: number }> {
  const { width, height } = await readPng(path);
  return { width, height };
}
/** A PNG file decoded, with the standard deviation of its sample values (0: a flat picture). */
export async function readPng(path: string): Promise<{ width: number; height: number; std: number }> {
  const bytes = readFileSync(path);
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`${path} is not a PNG`);
  const { loadImage } = await import('@convlab/core');
  const image = await loadImage(path);
  let sum = 0;
  let sq = 0;
  for (const v of image.data) {
    sum += v;
    sq += v * v;
  }
  const n = image.data.length;
  return { width: image.width, height: image.height, std: Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2)) };
}
