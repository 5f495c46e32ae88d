/**
 * VGG16 / VGG19 as registry entries: architecture from vgg-arch.ts, weights, caffe preprocessing.
 *
 * Weights, in order: `options.weights` (a Keras .h5 file or a tfjs layers folder/model.json), the
 * cache (`$CONVLAB_HOME/models/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, see `pull`),
 * or 'random' (seeded He-normal kernels, zero biases, see random-init.ts) when asked for.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConvlabError } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { createConvNet } from './convnet.js';
import { assignLayerWeights, readKerasH5 } from './keras-h5.js';
import { imagenetClassNames } from './imagenet-classes.js';
import { readTfjsLayerWeights } from './custom-tfjs-io.js';
import { randomizeWeights } from './random-init.js';
import type { ConvNet, LoadModelOptions, ModelEntry, WeightsInfo } from './types.js';
import { buildVgg, VGG_MEAN_RGB, VGG_MIN_INPUT, vggAliases, vggLayerNames, type VggDepth } from './vgg-arch.js';
import { cachedWeightsPath, fileExists, KNOWN_WEIGHTS, knownWeights, missingImagenetError, missingWeightsError, readCacheRecord } from './weights-cache.js';

export * from './vgg-arch.js';

type WeightsChoice = { kind: 'random' } | { kind: 'h5' | 'tfjs'; path: string; fromCache: boolean; /** Keep the classifier if the file has one. */ head: boolean };

async function firstCached(keys: string[]): Promise<string | undefined> {
  for (const key of keys) {
    const path = cachedWeightsPath(key);
    if (await fileExists(path)) return path;
  }
  return undefined;
}

/**
 * 'default': the trunk (the notop file, else the classifier file without its head); 'imagenet': the
 * classifier file with its head (else the notop file, trunk only); a path: that file, head included if
 * it has one and `includeHead` is not false.
 */
async function chooseWeights(depth: VggDepth, weights: string | undefined, includeHead: boolean): Promise<WeightsChoice> {
  if (weights === 'random') return { kind: 'random' };
  if (weights === undefined || weights === 'default') {
    const path = await firstCached([`vgg${depth}:notop`, `vgg${depth}:top`]);
    if (path) return { kind: 'h5', path, fromCache: true, head: false };
    throw missingWeightsError(`vgg${depth}`);
  }
  if (weights === 'imagenet') {
    const path = await firstCached([`vgg${depth}:top`, `vgg${depth}:notop`]);
    if (path) return { kind: 'h5', path, fromCache: true, head: includeHead };
    throw missingImagenetError(`vgg${depth}`);
  }
  let info;
  try {
    info = await stat(weights);
  } catch {
    throw new ConvlabError(`VGG${depth} weights not found: ${weights}`, {
      hint: `pass a Keras .h5 file (${knownWeights(`vgg${depth}`).file}) or a tfjs layers folder, 'default' or 'random'`,
    });
  }
  if (info.isDirectory() || weights.endsWith('.json')) return { kind: 'tfjs', path: weights, fromCache: false, head: false };
  return { kind: 'h5', path: weights, fromCache: false, head: includeHead };
}

/** Build VGG16/19 and set its weights; the returned model is the bare tfjs model plus what was loaded. */
export async function loadVggModel(depth: VggDepth, options: LoadModelOptions = {}): Promise<{ model: LayersModel; weights: WeightsInfo }> {
  const choice = await chooseWeights(depth, options.weights, options.includeHead ?? true);
  const name = `vgg${depth}`;
  if (choice.kind === 'random') {
    // The same seeded init as every other registry entry (He-normal kernels, zero biases): deep ReLU
    // stacks keep their activation scale, which random-feature style transfer relies on.
    const seed = options.seed ?? 0;
    const model = buildVgg(depth, { upTo: options.upTo, init: 'zeros', includeTop: options.includeHead === true && !options.upTo });
    randomizeWeights(model, seed);
    return { model, weights: { source: 'random', description: `random He-normal init, seed ${seed}`, quantized: false } };
  }
  const contents = choice.kind === 'h5' ? await readKerasH5(choice.path) : undefined;
  const withTop = choice.head && !options.upTo && contents?.weights.has('fc1') === true;
  const model = buildVgg(depth, { upTo: options.upTo, init: 'zeros', includeTop: withTop });
  const built = new Set(model.layers.map((l) => l.name));
  const skipLayers = vggLayerNames(depth, true).filter((l) => !built.has(l));
  try {
    if (contents) {
      assignLayerWeights(model, contents.weights, { source: choice.path, skipLayers });
    } else {
      const { weights, jsonPath } = await readTfjsLayerWeights(choice.path);
      assignLayerWeights(model, weights, { source: jsonPath, skipLayers });
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  const known = Object.values(KNOWN_WEIGHTS).find((k) => k.model === name && k.file === basename(choice.path));
  const record = choice.fromCache ? await readCacheRecord(choice.path) : undefined;
  return {
    model,
    weights: {
      source: choice.path,
      description: known ? `${known.description}${known.variant === 'top' && !withTop ? ' (loaded without its classifier)' : ''}` : `VGG${depth} weights from ${choice.path}`,
      quantized: false,
      kind: known ? 'imagenet' : 'file',
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
  const head = built.has('predictions');
  const units = head ? (model.getLayer('predictions').getConfig().units as number) : 0;
  return createConvNet({
    name: `vgg${depth}`,
    family: 'vgg',
    model,
    inputSize: [224, 224],
    preprocessing: { kind: 'caffe', meanRgb: VGG_MEAN_RGB },
    weights,
    aliases: head ? { ...aliases, head: 'predictions', features: 'block5_pool' } : aliases,
    minInputSize: VGG_MIN_INPUT,
    ...(head ? { headLayer: 'predictions', classNames: units === 1000 && weights.source !== 'random' ? imagenetClassNames() : undefined } : {}),
  }, options.executor);
}

export function vggEntry(depth: VggDepth): ModelEntry {
  const name = `vgg${depth}`;
  return {
    name,
    family: 'vgg',
    description: `VGG${depth} (Simonyan & Zisserman 2014), Keras applications layer names; ImageNet weights via \`convlab-models pull ${name}\` (trunk) or \`--top\` (with the classifier, weights: 'imagenet')`,
    inputSize: [224, 224],
    transforms: () => ({ preprocessing: { kind: 'caffe', meanRgb: VGG_MEAN_RGB }, inputSize: [224, 224], minInputSize: VGG_MIN_INPUT, anySize: true, headAnySize: false }),
    tapLayers: [...vggLayerNames(depth).filter((l) => /conv\d$|_pool$/.test(l) && (/_pool$/.test(l) || l.endsWith(`conv${depth === 16 ? 3 : 4}`) || l.startsWith('block1') || l.startsWith('block2'))), 'fc2', 'predictions'],
    async weightsAvailable() {
      for (const key of [`${name}:notop`, `${name}:top`]) {
        const where = cachedWeightsPath(key);
        if (await fileExists(where)) return { available: true, where };
      }
      return { available: false, where: cachedWeightsPath(name) };
    },
    load: (options) => loadVgg(depth, options),
  };
}
