/**
 * VGG16 / VGG19 as registry entries: architecture from vgg-arch.ts, weights, caffe preprocessing.
 *
 * Weights, in order: `options.weights` (a Keras .h5 file or a tfjs layers folder/model.json), the
 * cache (`$CONVLAB_HOME/models/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, see `pull`),
 * or 'random' (seeded He-normal kernels, zero biases, see random-init.ts) when asked for.
 */
import { stat } from 'node:fs/promises';
import { ConvlabError } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { createConvNet } from './convnet.js';
import { assignLayerWeights, loadKerasWeightsH5 } from './keras-h5.js';
import { readTfjsLayerWeights } from './custom-tfjs-io.js';
import { randomizeWeights } from './random-init.js';
import type { ConvNet, LoadModelOptions, ModelEntry, WeightsInfo } from './types.js';
import { buildVgg, VGG_MEAN_RGB, VGG_MIN_INPUT, vggAliases, vggLayerNames, type VggDepth } from './vgg-arch.js';
import { cachedWeightsPath, fileExists, knownWeights, missingWeightsError, readCacheRecord } from './weights-cache.js';

export * from './vgg-arch.js';

type WeightsChoice = { kind: 'random' } | { kind: 'h5' | 'tfjs'; path: string; fromCache: boolean };

async function chooseWeights(depth: VggDepth, weights: string | undefined): Promise<WeightsChoice> {
  if (weights === 'random') return { kind: 'random' };
  if (weights === undefined || weights === 'default') {
    const path = cachedWeightsPath(`vgg${depth}`);
    if (await fileExists(path)) return { kind: 'h5', path, fromCache: true };
    throw missingWeightsError(`vgg${depth}`);
  }
  let info;
  try {
    info = await stat(weights);
  } catch {
    throw new ConvlabError(`VGG${depth} weights not found: ${weights}`, {
      hint: `pass a Keras .h5 file (${knownWeights(`vgg${depth}`).file}) or a tfjs layers folder, 'default' or 'random'`,
    });
  }
  if (info.isDirectory() || weights.endsWith('.json')) return { kind: 'tfjs', path: weights, fromCache: false };
  return { kind: 'h5', path: weights, fromCache: false };
}

/** Build VGG16/19 and set its weights; the returned model is the bare tfjs model plus what was loaded. */
export async function loadVggModel(depth: VggDepth, options: LoadModelOptions = {}): Promise<{ model: LayersModel; weights: WeightsInfo }> {
  const choice = await chooseWeights(depth, options.weights);
  const name = `vgg${depth}`;
  if (choice.kind === 'random') {
    // The same seeded init as every other registry entry (He-normal kernels, zero biases): deep ReLU
    // stacks keep their activation scale, which random-feature style transfer relies on.
    const seed = options.seed ?? 0;
    const model = buildVgg(depth, { upTo: options.upTo, init: 'zeros' });
    randomizeWeights(model, seed);
    return { model, weights: { source: 'random', description: `random He-normal init, seed ${seed}`, quantized: false } };
  }
  const model = buildVgg(depth, { upTo: options.upTo, init: 'zeros' });
  const built = new Set(model.layers.map((l) => l.name));
  const skipLayers = vggLayerNames(depth).filter((l) => !built.has(l));
  try {
    if (choice.kind === 'h5') {
      await loadKerasWeightsH5(model, choice.path, { skipLayers });
    } else {
      const { weights, jsonPath } = await readTfjsLayerWeights(choice.path);
      assignLayerWeights(model, weights, { source: jsonPath, skipLayers });
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  const known = knownWeights(name);
  const record = choice.fromCache ? await readCacheRecord(choice.path) : undefined;
  const isKerasFile = choice.path.endsWith(known.file);
  return {
    model,
    weights: {
      source: choice.path,
      description: isKerasFile ? known.description : `VGG${depth} weights from ${choice.path}`,
      quantized: false,
      ...(record?.sha256 ? { sha256: record.sha256 } : {}),
    },
  };
}

/** VGG16/19 as a ConvNet (preprocessing: RGB -> BGR, minus the ImageNet mean; no scaling). */
export async function loadVgg(depth: VggDepth, options: LoadModelOptions = {}): Promise<ConvNet> {
  const { model, weights } = await loadVggModel(depth, options);
  const built = new Set(model.layers.map((l) => l.name));
  // With upTo, only the aliases of layers that exist.
  const aliases = Object.fromEntries(Object.entries(vggAliases(depth)).filter(([, target]) => built.has(target)));
  return createConvNet({
    name: `vgg${depth}`,
    family: 'vgg',
    model,
    inputSize: [224, 224],
    preprocessing: { kind: 'caffe', meanRgb: VGG_MEAN_RGB },
    weights,
    aliases,
    minInputSize: VGG_MIN_INPUT,
  }, options.executor);
}

export function vggEntry(depth: VggDepth): ModelEntry {
  const name = `vgg${depth}`;
  return {
    name,
    family: 'vgg',
    description: `VGG${depth} convolutional trunk (Simonyan & Zisserman 2014), Keras applications layer names; ImageNet weights via \`convlab-models pull ${name}\``,
    inputSize: [224, 224],
    async weightsAvailable() {
      const where = cachedWeightsPath(name);
      return { available: await fileExists(where), where };
    },
    load: (options) => loadVgg(depth, options),
  };
}
