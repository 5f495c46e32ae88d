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
  /** Registry name the file belongs to (its cache folder). */
  model: string;
  /** 'top': with the ImageNet classifier; 'notop': the convolutional trunk only. */
  variant: 'top' | 'notop';
  file: string;
  url: string;
  /** Published hash (Keras `file_hash`); undefined where Keras publishes none (MobileNetV2). */
  md5?: string;
  /** Known sha256, when one has been recorded upstream of this table (none so far). */
  sha256?: string;
  description: string;
}

const KERAS_APPS = 'https://storage.googleapis.com/tensorflow/keras-applications';

function kerasFile(model: string, folder: string, file: string, variant: 'top' | 'notop', md5: string | undefined, description: string): KnownWeights {
  return { model, variant, file, url: `${KERAS_APPS}/${folder}/${file}`, ...(md5 ? { md5 } : {}), description };
}

/**
 * Every downloadable file, keyed `<model>` for the model's default download and `<model>:top` /
 * `<model>:notop` for both variants. File names, URLs and md5 hashes as the Keras sources publish them:
 * keras/src/applications/vgg16.py, vgg19.py (WEIGHTS_PATH[_NO_TOP] file_hash), resnet.py
 * (WEIGHTS_HASHES), inception_v3.py, inception_resnet_v2.py; mobilenet_v2.py downloads without a
 * hash, so its sha256 is recorded on the first download (trust on first use) and checked afterwards.
 */
export const KNOWN_WEIGHTS: Record<string, KnownWeights> = {};

function add(model: string, folder: string, topFile: string, notopFile: string, topMd5: string | undefined, notopMd5: string | undefined, what: string, defaultVariant: 'top' | 'notop'): void {
  const top = kerasFile(model, folder, topFile, 'top', topMd5, `Keras applications ${what}, ImageNet, with the 1000-class classifier`);
  const notop = kerasFile(model, folder, notopFile, 'notop', notopMd5, `Keras applications ${what}, ImageNet, convolutional trunk (notop)`);
  KNOWN_WEIGHTS[model] = defaultVariant === 'top' ? top : notop;
  KNOWN_WEIGHTS[`${model}:top`] = top;
  KNOWN_WEIGHTS[`${model}:notop`] = notop;
}

const tfKernels = (m: string) => [`${m}_weights_tf_dim_ordering_tf_kernels.h5`, `${m}_weights_tf_dim_ordering_tf_kernels_notop.h5`] as const;
// VGG's default download stays the trunk (style transfer needs only that); the rest default to the classifier.
add('vgg16', 'vgg16', ...tfKernels('vgg16'), '64373286793e3c8b2b4e3219cbf3544b', '6d6bbae143d832006294945121d1f1fc', 'VGG16', 'notop');
add('vgg19', 'vgg19', ...tfKernels('vgg19'), 'cbe5617147190e668d6c5d5026f83318', '253f8cb515780f3b799900260a226db6', 'VGG19', 'notop');
add('resnet50', 'resnet', ...tfKernels('resnet50'), '2cb95161c43110f7111970584f804107', '4d473c1dd8becc155b73f8504c6f6626', 'ResNet50', 'top');
add('resnet101', 'resnet', ...tfKernels('resnet101'), 'f1aeb4b969a6efcfb50fad2f0c20cfc5', '88cf7a10940856eca736dc7b7e228a21', 'ResNet101', 'top');
add('resnet152', 'resnet', ...tfKernels('resnet152'), '100835be76be38e30d865e96f2aaae62', 'ee4c566cf9a93f14d82f913c2dc6dd0c', 'ResNet152', 'top');
add('inception_v3', 'inception_v3', ...tfKernels('inception_v3'), '9a0d58056eeedaa3f26cb7ebd46da564', 'bcbd6486424b2319ff4ef7d526e38f63', 'InceptionV3', 'top');
add('inception_resnet_v2', 'inception_resnet_v2', ...tfKernels('inception_resnet_v2'), 'e693bd0210a403b3192acc6073ad2e96', 'd19885ff4a710c122648d3b5c3b684e4', 'InceptionResNetV2', 'top');
add('mobilenet_v2', 'mobilenet_v2', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5', undefined, undefined, 'MobileNetV2 1.0 (224)', 'top');

/** The key of a model's variant in KNOWN_WEIGHTS ('vgg19:top'). */
export function weightsKey(model: string, variant?: 'top' | 'notop'): string {
  return variant ? `${model}:${variant}` : model;
}

/**
 * The known weights of a model (`vgg19`, or a variant `vgg19:top`). CONVLAB_WEIGHTS_MIRROR=<base URL>
 * fetches from a mirror with the Keras layout instead (<base>/<model>/<file>); the hash checks stay.
 */
export function knownWeights(key: string, env: NodeJS.ProcessEnv = process.env): KnownWeights {
  const known = KNOWN_WEIGHTS[key];
  if (!known) {
    throw new ConvlabError(`no downloadable weights are known for '${key}'`, {
      hint: `known: ${[...new Set(Object.values(KNOWN_WEIGHTS).map((k) => k.model))].join(', ')}`,
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
export function cachedWeightsPath(key: string, env: NodeJS.ProcessEnv = process.env): string {
  const known = knownWeights(key, env);
  return join(modelCacheDir(known.model, env), known.file);
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
export function missingWeightsError(key: string, env: NodeJS.ProcessEnv = process.env): ConvlabError {
  const known = knownWeights(key, env);
  const path = cachedWeightsPath(key, env);
  const flag = key.includes(':') ? ` --${known.variant}` : '';
  return new ConvlabError(`no ${known.model} weights on this machine: ${path} does not exist`, {
    hint:
      `place ${known.file} (from ${known.url}) there, or run \`convlab-models pull ${known.model}${flag}\` on a machine with a network ` +
      `and copy ${modelCacheDir(known.model, env)} over, or pass weights: '<path to .h5 or tfjs folder>' (weights: 'random' for untrained features)`,
  });
}

/**
 * The one-line error for ImageNet weights of a model when neither the classifier nor the trunk file is
 * cached: names both files, where each goes and the pull commands.
 */
export function missingImagenetError(model: string, env: NodeJS.ProcessEnv = process.env): ConvlabError {
  const top = knownWeights(`${model}:top`, env);
  const notop = knownWeights(`${model}:notop`, env);
  const dir = modelCacheDir(model, env);
  return new ConvlabError(`no ImageNet weights for ${model} on this machine: neither ${top.file} nor ${notop.file} is in ${dir}`, {
    hint:
      `run \`convlab-models pull ${model} --top\` (classifier, ${top.url}) or \`--notop\` (trunk, ${notop.url}) on a machine with a network and copy ${dir} over, ` +
      `or place either file there by hand, or pass weights: '<path to the .h5>'`,
  });
}

export interface VerifyResult {
  path: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** The md5 matched the published hash (where one is published) and the sha256 the record. */
  ok: boolean;
  /** Whether a published md5 was checked (false for files Keras publishes without a hash). */
  md5Checked: boolean;
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
  const result: VerifyResult = { path, bytes, md5, sha256, ok: true, md5Checked: known.md5 !== undefined, recordedSha256: record?.sha256 };
  if (known.md5 && md5 !== known.md5) {
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
