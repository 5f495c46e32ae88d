/**
 * TensorFlow.js layers-model folders on the local disk (model.json + binary weight shards).
 * tfjs-core only ships file:// handlers in tfjs-node, which is an optional install here, so this is a
 * small IOHandler of our own: load reads model.json and its shards, save writes them atomically.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConvlabError, tf, writeFileAtomic, writeJsonAtomic } from '@convlab/core';
import type { io } from '@tensorflow/tfjs-core';
import type { LayerWeights, StoredWeight } from './keras-h5.js';

type IOHandler = io.IOHandler;
type ModelArtifacts = io.ModelArtifacts;
type ModelJSON = io.ModelJSON;
type WeightsManifestConfig = io.WeightsManifestConfig;
type WeightsManifestEntry = io.WeightsManifestEntry;

/** model.json for a folder or a .json path. */
export async function resolveModelJson(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ConvlabError(`model not found: ${path}`, { hint: 'pass a tfjs layers model folder, its model.json, or a Keras .h5 file' });
  }
  const json = info.isDirectory() ? join(path, 'model.json') : path;
  try {
    await stat(json);
  } catch {
    throw new ConvlabError(`no model.json in ${path}`, { hint: 'pass a folder written by tensorflowjs_converter or model.save()' });
  }
  return resolve(json);
}

async function readModelJson(jsonPath: string): Promise<ModelJSON> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (err) {
    throw new ConvlabError(`cannot parse ${jsonPath}: ${(err as Error).message.split('\n')[0]}`, { hint: 'the file is not valid JSON; re-export the model' });
  }
  const json = parsed as Partial<ModelJSON>;
  if (!json || typeof json !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw new ConvlabError(`${jsonPath} is not a tfjs model.json (no weightsManifest)`, { hint: 'pass a tfjs layers model folder' });
  }
  return json as ModelJSON;
}

async function readShards(jsonPath: string, manifest: WeightsManifestConfig): Promise<[WeightsManifestEntry[], ArrayBuffer]> {
  const dir = dirname(jsonPath);
  const specs: WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      try {
        buffers.push(await readFile(join(dir, p)));
      } catch {
        throw new ConvlabError(`weight shard ${join(dir, p)} listed in ${jsonPath} is missing`, { hint: 'copy the whole model folder' });
      }
    }
  }
  const all = Buffer.concat(buffers);
  const expected = specs.reduce((n, s) => n + byteSize(s), 0);
  if (all.length !== expected) {
    throw new ConvlabError(`weight shards of ${jsonPath} hold ${all.length} bytes, the manifest needs ${expected}`, {
      hint: 'the folder is truncated or mixes two exports; copy it again',
    });
  }
  return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
}

function byteSize(spec: WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization?.dtype;
  const bytes = q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : spec.dtype === 'bool' ? 1 : 4;
  if (spec.dtype === 'string') throw new ConvlabError(`string weight '${spec.name}' is not supported`);
  return n * bytes;
}

/** IOHandler reading (load) or writing (save) a tfjs layers model folder or model.json on disk. */
export function fileIOHandler(path: string): IOHandler {
  return {
    async load(): Promise<ModelArtifacts> {
      const jsonPath = await resolveModelJson(path);
      const json = await readModelJson(jsonPath);
      return tf.io.getModelArtifactsForJSON(json, (manifest) => readShards(jsonPath, manifest));
    },
    async save(artifacts: ModelArtifacts) {
      const dir = path.endsWith('.json') ? dirname(path) : path;
      const jsonPath = path.endsWith('.json') ? path : join(path, 'model.json');
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
      const data = tf.io.concatenateArrayBuffers(artifacts.weightData ?? new ArrayBuffer(0));
      await writeFileAtomic(join(dir, 'weights.bin'), new Uint8Array(data));
      const json: ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeJsonAtomic(jsonPath, json);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/**
 * Weights of a tfjs layers model folder grouped by layer, in manifest order (which is the layer's own
 * weight order). Quantized weights are dequantized to float32.
 * Weight 'block1_conv1/kernel' belongs to layer 'block1_conv1'; a scope prefix ('vgg19/block1_conv1/kernel')
 * is ignored.
 */
export async function readTfjsLayerWeights(path: string): Promise<{ weights: LayerWeights; jsonPath: string; quantized: boolean }> {
  const jsonPath = await resolveModelJson(path);
  const json = await readModelJson(jsonPath);
  const [specs, data] = await readShards(jsonPath, json.weightsManifest);
  const tensors = tf.io.decodeWeights(data, specs);
  const weights: LayerWeights = new Map();
  try {
    for (const spec of specs) {
      const parts = spec.name.split('/');
      const layer = parts.length >= 2 ? parts[parts.length - 2] : parts[0];
      const t = tensors[spec.name];
      const entry: StoredWeight = { name: spec.name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as ArrayLike<number>) };
      const list = weights.get(layer) ?? [];
      list.push(entry);
      weights.set(layer, list);
    }
  } finally {
    Object.values(tensors).forEach((t) => t.dispose());
  }
  return { weights, jsonPath, quantized: specs.some((s) => s.quantization) };
}
