/**
 * The bundled fast-style networks by name: packages/style/fast-nets/<name>/ (manifest.json + weights.bin,
 * ./fast-io.ts), or the folder CONVLAB_FAST_NETS_DIR names instead (a studio or a test with networks of its
 * own). Light: no tfjs, so job-kind modules (./jobs.ts) and the batch planner can list and resolve networks
 * without loading a model. Re-exported by ./fast-io.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError } from '@convlab/core/light';

/** Where the bundled networks live by default (packages/style/fast-nets/, beside src/ and dist/). */
export const BUNDLED_FAST_NETS_DIR = fileURLToPath(new URL('../fast-nets/', import.meta.url));

/** The folder of bundled networks: CONVLAB_FAST_NETS_DIR when set (and not empty), else BUNDLED_FAST_NETS_DIR. */
export function fastNetsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONVLAB_FAST_NETS_DIR ? resolve(env.CONVLAB_FAST_NETS_DIR) : BUNDLED_FAST_NETS_DIR;
}

/** A bundled network's name: a plain folder name (never a path). */
export const FAST_NET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Names of the bundled networks (folders with a manifest), sorted. */
export function bundledFastNets(env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = fastNetsDir(env);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => FAST_NET_NAME.test(n) && existsSync(join(dir, n, 'manifest.json')))
    .sort();
}

/** The command that trains a bundled network (from the repository root; photos/: a folder of a few thousand photos), for messages that say none is there. */
export function trainFastCommand(name = 'the_scream', env: NodeJS.ProcessEnv = process.env): string {
  const out = env.CONVLAB_FAST_NETS_DIR ? join(fastNetsDir(env), name) : `packages/style/fast-nets/${name}`;
  return `node apps/style-transfer/bin/convlab-style.js train-fast --style assets/style/${name}.jpg --content-dir photos/ --out ${out}`;
}

/** A --net value as a folder: an existing folder as given, else a bundled network's name. */
export function resolveFastNet(netOrName: string, flag = '--net', env: NodeJS.ProcessEnv = process.env): string {
  if (existsSync(join(netOrName, 'manifest.json'))) return netOrName;
  const bundled = bundledFastNets(env);
  if (bundled.includes(netOrName)) return join(fastNetsDir(env), netOrName);
  if (existsSync(netOrName)) return netOrName; // readFastNetManifest says what is missing
  throw new ConvlabError(`${flag} ${netOrName}: no such network folder or bundled network`, {
    hint: bundled.length
      ? `bundled: ${bundled.join(', ')}; or give a folder written by convlab-style train-fast`
      : `give a folder written by convlab-style train-fast (no networks are bundled in ${fastNetsDir(env)}; train one: ${trainFastCommand('the_scream', env)})`,
  });
}
