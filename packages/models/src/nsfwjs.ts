/**
 * Reader for the Keras LayersModels that the npm package nsfwjs ships as base64 JavaScript modules
 * (dist/models/<name>/model.min.js + group1-shard*of*.min.js, browserify UMD bundles). The files are
 * not in nsfwjs's "exports" map, so the package directory is found on disk and the files are read and
 * evaluated in an empty sandbox (no require, no globals) to get the topology object and the shards'
 * base64 strings. The result is a plain tf.io.ModelArtifacts with uint8-quantized weight specs, which
 * tfjs dequantizes to float32 on load.
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { ConvlabError, tf } from '@convlab/core';
import type { WeightsInfo } from './types.js';

type ModelArtifacts = import('@tensorflow/tfjs-core').io.ModelArtifacts;
type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

export type NsfwjsModelName = 'mobilenet_v2' | 'inception_v3';

/** nsfwjs's class order (src/nsfw_classes.ts in nsfwjs 4.4.0). */
export const NSFWJS_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

const DESCRIPTIONS: Record<NsfwjsModelName, string> = {
  mobilenet_v2:
    'nsfwjs 4.4.0: Keras MobileNetV2 (224) trunk trained on ImageNet, then fine-tuned by the nsfwjs authors ' +
    'for a 5-class image filter (Drawing, Hentai, Neutral, Porn, Sexy); uint8-quantized',
  inception_v3:
    'nsfwjs 4.4.0: Keras InceptionV3 (299) trunk trained on ImageNet, then fine-tuned by the nsfwjs authors ' +
    'for a 5-class image filter (Drawing, Hentai, Neutral, Porn, Sexy); uint8-quantized',
};

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}
interface WeightsGroup {
  paths: string[];
  weights: WeightEntry[];
}

/** The installed nsfwjs package directory, or undefined if it is not installed. */
export function findNsfwjsDir(): string | undefined {
  const require = createRequire(import.meta.url);
  let start: string | undefined;
  try {
    // 'nsfwjs/package.json' is not exported; resolve the main entry and walk up to the package root.
    start = dirname(require.resolve('nsfwjs'));
  } catch {
    start = undefined;
  }
  for (let dir = start; dir; ) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nsfwjs') return dir;
      } catch {
        // A broken nested package.json: keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Fallback: walk up from this file looking for node_modules/nsfwjs.
  for (let dir = dirname(new URL(import.meta.url).pathname); ; ) {
    const candidate = join(dir, 'node_modules', 'nsfwjs');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function nsfwjsVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

/** Directory holding model.min.js and the shards for one model. */
export function nsfwjsModelDir(name: NsfwjsModelName): string {
  const dir = findNsfwjsDir();
  if (!dir) {
    throw new ConvlabError(`the offline weights for ${name} come from the npm package nsfwjs, which is not installed`, {
      hint: 'run npm ci in the convlab checkout (nsfwjs is a dependency of @convlab/models)',
    });
  }
  return join(dir, 'dist', 'models', name);
}

export async function nsfwjsWeightsAvailable(name: NsfwjsModelName): Promise<{ available: boolean; where: string }> {
  let dir: string;
  try {
    dir = nsfwjsModelDir(name);
  } catch {
    return { available: false, where: 'npm package nsfwjs (not installed)' };
  }
  try {
    await stat(join(dir, 'model.min.js'));
    return { available: true, where: dir };
  } catch {
    return { available: false, where: dir };
  }
}

/** Evaluate a browserify UMD bundle in an empty sandbox and return its module.exports. */
function evalBundle(source: string, file: string): unknown {
  const module = { exports: {} as unknown };
  try {
    runInNewContext(source, { module, exports: module.exports }, { filename: file, timeout: 30_000 });
  } catch (err) {
    throw new ConvlabError(`cannot read nsfwjs model file ${file}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'the file is corrupt or truncated; reinstall with npm ci',
    });
  }
  // Objects built in another realm fail tfjs's instanceof checks: copy plain data into this one.
  const out = module.exports;
  return typeof out === 'object' && out !== null ? JSON.parse(JSON.stringify(out)) : out;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConvlabError(`missing nsfwjs model file ${file}${code ? ` (${code})` : ''}`, {
      hint: 'reinstall the nsfwjs package with npm ci',
    });
  }
}

const BYTES_PER_DTYPE: Record<string, number> = { uint8: 1, uint16: 2, float16: 2, float32: 4, int32: 4 };

/** Read and decode one nsfwjs model into ModelArtifacts (topology + uint8 weight specs + weight bytes). */
export async function readNsfwjsArtifacts(name: NsfwjsModelName, dir = nsfwjsModelDir(name)): Promise<ModelArtifacts> {
  const topologyFile = join(dir, 'model.min.js');
  const json = evalBundle(await readText(topologyFile), topologyFile) as {
    modelTopology?: unknown;
    weightsManifest?: WeightsGroup[];
  };
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ConvlabError(`${topologyFile} does not hold a model topology and weights manifest`, {
      hint: 'the file is corrupt or from an unsupported nsfwjs version; reinstall nsfwjs 4.4.0 with npm ci',
    });
  }
  const weightSpecs: WeightEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) {
      const file = join(dir, `${path}.min.js`);
      const b64 = evalBundle(await readText(file), file);
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64.slice(-64))) {
        throw new ConvlabError(`${file} does not hold a base64 weight shard`, {
          hint: 'the file is corrupt; reinstall with npm ci',
        });
      }
      buffers.push(Buffer.from(b64, 'base64'));
    }
  }
  const expected = weightSpecs.reduce((sum, w) => {
    const dtype = w.quantization?.dtype ?? w.dtype;
    return sum + w.shape.reduce((a, b) => a * b, 1) * (BYTES_PER_DTYPE[dtype] ?? 4);
  }, 0);
  const total = buffers.reduce((s, b) => s + b.length, 0);
  if (total < expected) {
    throw new ConvlabError(`nsfwjs ${name} weights in ${dir} hold ${total} bytes, the manifest needs ${expected}`, {
      hint: 'a shard is truncated or corrupt; reinstall with npm ci',
    });
  }
  const all = Buffer.concat(buffers, total);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + expected);
  return {
    modelTopology: json.modelTopology as ModelArtifacts['modelTopology'],
    weightSpecs: weightSpecs as never,
    weightData,
  } as ModelArtifacts;
}

const artifactsCache = new Map<NsfwjsModelName, Promise<ModelArtifacts>>();

/** Cached per process: decoding the base64 shards is the slow part of loading. */
export function nsfwjsArtifacts(name: NsfwjsModelName): Promise<ModelArtifacts> {
  let p = artifactsCache.get(name);
  if (!p) {
    p = readNsfwjsArtifacts(name);
    artifactsCache.set(name, p);
    p.catch(() => artifactsCache.delete(name));
  }
  return p;
}

/** Load one nsfwjs model as a tfjs LayersModel with float32 (dequantized) weights. */
export async function loadNsfwjsModel(name: NsfwjsModelName): Promise<LayersModel> {
  const artifacts = await nsfwjsArtifacts(name);
  let model: LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new ConvlabError(`cannot build nsfwjs ${name} from its files: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'the files are corrupt or from an unsupported nsfwjs version; reinstall with npm ci',
    });
  }
  for (const w of model.weights) {
    if (w.dtype !== 'float32') {
      throw new ConvlabError(`nsfwjs ${name}: weight ${w.name} loaded as ${w.dtype}, expected float32`);
    }
  }
  return model;
}

export function nsfwjsWeightsInfo(name: NsfwjsModelName): WeightsInfo {
  const dir = findNsfwjsDir();
  return {
    source: dir ? join(dir, 'dist', 'models', name) : `nsfwjs/dist/models/${name}`,
    description: DESCRIPTIONS[name],
    quantized: true,
  };
}
