/**
 * Where downloaded weights live and which downloads convlab knows.
 *
 * Layout: `$CONVLAB_HOME/models/<model>/<file>` (CONVLAB_HOME defaults to `$XDG_CACHE_HOME/convlab`, then
 * `~/.cache/convlab`), next to `<file>.json`, a record of where the file came from and its hashes.
 * The Keras project publishes md5 hashes of its weight files; their sha256 is not known offline, so the
 * first verified download (or `verify` of a file placed by hand) records the sha256 it computed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, writeJsonAtomic } from '@convlab/core';

/** A weights file convlab can download. */
export interface KnownWeights {
  /** Registry name the file belongs to. */
  model: string;
  file: string;
  url: string;
  /** Published hash (Keras `file_hash`). */
  md5: string;
  /** Known sha256, when one has been recorded upstream of this table (none so far). */
  sha256?: string;
  description: string;
}

const KERAS_APPS = 'https://storage.googleapis.com/tensorflow/keras-applications';

/** Hashes: keras/src/applications/vgg16.py and vgg19.py (WEIGHTS_PATH_NO_TOP file_hash). */
export const KNOWN_WEIGHTS: Record<string, KnownWeights> = {
  vgg16: {
    model: 'vgg16',
    file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    url: `${KERAS_APPS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
    md5: '6d6bbae143d832006294945121d1f1fc',
    description: 'Keras applications VGG16, ImageNet, convolutional trunk (notop), 58.9 MB',
  },
  vgg19: {
    model: 'vgg19',
    file: 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
    url: `${KERAS_APPS}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`,
    md5: '253f8cb515780f3b799900260a226db6',
    description: 'Keras applications VGG19, ImageNet, convolutional trunk (notop), 80.1 MB',
  },
};

/**
 * The known weights of a model. CONVLAB_WEIGHTS_MIRROR=<base URL> fetches from a mirror with the Keras
 * layout instead (<base>/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5); the md5 check stays.
 */
export function knownWeights(model: string, env: NodeJS.ProcessEnv = process.env): KnownWeights {
  const known = KNOWN_WEIGHTS[model];
  if (!known) {
    throw new ConvlabError(`no downloadable weights are known for '${model}'`, {
      hint: `known: ${Object.keys(KNOWN_WEIGHTS).join(', ')}`,
    });
  }
  const mirror = env.CONVLAB_WEIGHTS_MIRROR?.replace(/\/+$/, '');
  return mirror ? { ...known, url: `${mirror}/${known.model}/${known.file}` } : known;
}

/** The cache root: CONVLAB_HOME, else $XDG_CACHE_HOME/convlab, else ~/.cache/convlab. */
export function convlabHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONVLAB_HOME) return env.CONVLAB_HOME;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'convlab');
  return join(homedir(), '.cache', 'convlab');
}

export function modelCacheDir(model: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(convlabHome(env), 'models', model);
}

/** Where the known weights file of a model is expected. */
export function cachedWeightsPath(model: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(modelCacheDir(model, env), knownWeights(model).file);
}

/** What `pull` / `verify` remember about a cached file (`<file>.json`). */
export interface CacheRecord {
  file: string;
  url: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** ISO time of the download or verification that wrote the record. */
  recordedAt: string;
  how: 'download' | 'verify';
}

export function recordPath(weightsPath: string): string {
  return `${weightsPath}.json`;
}

export async function readCacheRecord(weightsPath: string): Promise<CacheRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(weightsPath), 'utf8')) as CacheRecord;
  } catch {
    return undefined;
  }
}

export async function writeCacheRecord(weightsPath: string, record: CacheRecord): Promise<void> {
  await writeJsonAtomic(recordPath(weightsPath), record);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** md5 and sha256 of a file in one streaming pass. */
export async function hashFile(path: string): Promise<{ md5: string; sha256: string; bytes: number }> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), bytes };
}

/** The one-line error for weights that are not on this machine. */
export function missingWeightsError(model: string, env: NodeJS.ProcessEnv = process.env): ConvlabError {
  const known = knownWeights(model, env);
  const path = cachedWeightsPath(model, env);
  return new ConvlabError(`no ${model} weights on this machine: ${path} does not exist`, {
    hint:
      `place ${known.file} (from ${known.url}) there, or run \`convlab-models pull ${model}\` on a machine with a network ` +
      `and copy ${modelCacheDir(model, env)} over, or pass weights: '<path to .h5 or tfjs folder>' (weights: 'random' for untrained features)`,
  });
}

export interface VerifyResult {
  path: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** The md5 matched the published hash. */
  ok: boolean;
  /** sha256 of an earlier record, if any, and whether it matched. */
  recordedSha256?: string;
  problem?: string;
}

/**
 * Re-hash a cached weights file: md5 against the published hash, sha256 against the cache record.
 * Writes a record (with the sha256) when the file checks out and none existed.
 */
export async function verifyCachedWeights(model: string, env: NodeJS.ProcessEnv = process.env): Promise<VerifyResult> {
  const known = knownWeights(model, env);
  const path = cachedWeightsPath(model, env);
  if (!(await fileExists(path))) throw missingWeightsError(model, env);
  const { md5, sha256, bytes } = await hashFile(path);
  const record = await readCacheRecord(path);
  const result: VerifyResult = { path, bytes, md5, sha256, ok: true, recordedSha256: record?.sha256 };
  if (md5 !== known.md5) {
    result.ok = false;
    result.problem = `md5 ${md5} differs from the published ${known.md5}`;
  } else if (known.sha256 && sha256 !== known.sha256) {
    result.ok = false;
    result.problem = `sha256 ${sha256} differs from the known ${known.sha256}`;
  } else if (record && record.sha256 !== sha256) {
    result.ok = false;
    result.problem = `sha256 ${sha256} differs from the one recorded at ${record.recordedAt} (${record.sha256})`;
  }
  if (result.ok && !record) {
    await writeCacheRecord(path, { file: known.file, url: known.url, bytes, md5, sha256, recordedAt: new Date().toISOString(), how: 'verify' });
  }
  return result;
}
