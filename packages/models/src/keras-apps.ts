/**
 * The Keras-applications ImageNet models as registry entries: architecture in code (resnet.ts,
 * inception-v3.ts, mobilenet-v2.ts, inception-resnet-v2.ts), weights from the Keras files (pulled into
 * the cache or given by path; loaded by layer name, keras-h5.ts), and the preprocessing and input-size
 * rules the weights were trained with (keras/applications/*.py preprocess_input).
 *
 * Weights: 'imagenet' (for resnet* and inception_resnet_v2 also 'default'): the cached classifier file
 * if pulled (`convlab-models pull NAME`), else the cached notop file (trunk only); a path to either
 * file; or 'random'. The head is kept when the file has one, unless `includeHead: false` or `upTo`.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConvlabError, tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { createConvNet, type Preprocessing } from './convnet.js';
import { imagenetClassNames } from './imagenet-classes.js';
import { buildInceptionResNetV2 } from './inception-resnet-v2.js';
import { buildInceptionV3 } from './inception-v3.js';
import { assignLayerWeights, readKerasH5 } from './keras-h5.js';
import { buildMobileNetV2 } from './mobilenet-v2.js';
import { randomizeWeights } from './random-init.js';
import { buildResNet, RESNET_STAGES, resnetTrunkEnd, type ResNetDepth } from './resnet.js';
import type { ConvNet, InputTransforms, LoadModelOptions, ModelEntry, ModelFamily, WeightsInfo } from './types.js';
import { cachedWeightsPath, fileExists, KNOWN_WEIGHTS, missingImagenetError, readCacheRecord } from './weights-cache.js';

export interface KerasAppSpec {
  name: string;
  family: ModelFamily;
  description: string;
  inputSize: [number, number];
  minInputSize: number;
  preprocessing: Preprocessing;
  build(includeTop: boolean): LayersModel;
  /** The classifier's Dense layer (softmax over 1000 ImageNet classes). */
  headLayer: string;
  /** The last layer of the trunk (before global pooling). */
  trunkEnd: string;
  aliases: Record<string, string>;
  /** Layers a user would tap, shallow to deep. */
  tapLayers: string[];
}

const TF: Preprocessing = { kind: 'tf' };
/** Keras 'caffe' mode: RGB -> BGR, minus the ImageNet mean (BGR 103.939, 116.779, 123.68), no scaling. */
export const CAFFE: Preprocessing = { kind: 'caffe', meanRgb: [123.68, 116.779, 103.939] };

function resnetSpec(depth: ResNetDepth): KerasAppSpec {
  const stages = RESNET_STAGES[depth];
  const stageEnds = stages.map((n, s) => `conv${s + 2}_block${n}_out`);
  return {
    name: `resnet${depth}`,
    family: 'resnet',
    description: `ResNet-${depth} v1 (He et al. 2015), Keras applications; ImageNet weights via \`convlab-models pull resnet${depth}\``,
    inputSize: [224, 224],
    minInputSize: 32,
    preprocessing: CAFFE,
    build: (top) => buildResNet(depth, { includeTop: top }),
    headLayer: 'predictions',
    trunkEnd: resnetTrunkEnd(depth),
    // torchvision's names for the stage outputs.
    aliases: { features: resnetTrunkEnd(depth), head: 'predictions', stem: 'conv1_relu', layer1: stageEnds[0], layer2: stageEnds[1], layer3: stageEnds[2], layer4: stageEnds[3] },
    tapLayers: ['conv1_relu', ...stageEnds, 'avg_pool', 'predictions'],
  };
}

export const KERAS_APP_SPECS: Record<string, KerasAppSpec> = {
  resnet50: resnetSpec(50),
  resnet101: resnetSpec(101),
  resnet152: resnetSpec(152),
  inception_v3: {
    name: 'inception_v3',
    family: 'inception',
    description: 'InceptionV3 (Szegedy et al. 2016)',
    inputSize: [299, 299],
    minInputSize: 75,
    preprocessing: TF,
    build: (top) => buildInceptionV3({ includeTop: top }),
    headLayer: 'predictions',
    trunkEnd: 'mixed10',
    aliases: { features: 'mixed10', head: 'predictions' },
    tapLayers: ['activation_3', 'activation_5', 'mixed0', 'mixed2', 'mixed4', 'mixed7', 'mixed10', 'predictions'],
  },
  mobilenet_v2: {
    name: 'mobilenet_v2',
    family: 'mobilenet',
    description: 'MobileNetV2 1.0 (Sandler et al. 2018)',
    inputSize: [224, 224],
    minInputSize: 32,
    preprocessing: TF,
    build: (top) => buildMobileNetV2({ includeTop: top }),
    headLayer: 'Logits',
    trunkEnd: 'out_relu',
    aliases: { features: 'out_relu', head: 'Logits' },
    tapLayers: ['Conv1_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu', 'out_relu', 'Logits'],
  },
  inception_resnet_v2: {
    name: 'inception_resnet_v2',
    family: 'inception_resnet',
    description: 'Inception-ResNet-v2 (Szegedy et al. 2016), Keras applications; ImageNet weights via `convlab-models pull inception_resnet_v2`',
    inputSize: [299, 299],
    minInputSize: 75,
    preprocessing: TF,
    build: (top) => buildInceptionResNetV2({ includeTop: top }),
    headLayer: 'predictions',
    trunkEnd: 'conv_7b_ac',
    aliases: { features: 'conv_7b_ac', head: 'predictions' },
    tapLayers: ['activation_3', 'mixed_5b', 'block35_10_ac', 'mixed_6a', 'block17_20_ac', 'mixed_7a', 'block8_10', 'conv_7b_ac', 'predictions'],
  },
};

export function kerasAppSpec(name: string): KerasAppSpec {
  const spec = KERAS_APP_SPECS[name];
  if (!spec) throw new ConvlabError(`no Keras-applications architecture '${name}'`, { hint: `one of: ${Object.keys(KERAS_APP_SPECS).join(', ')}` });
  return spec;
}

/** Preprocessing and size rules of a spec's ImageNet weights. */
export function kerasAppTransforms(spec: KerasAppSpec): InputTransforms {
  return { preprocessing: spec.preprocessing, inputSize: spec.inputSize, minInputSize: spec.minInputSize, anySize: true, headAnySize: true };
}

/** The cached ImageNet file of a model (classifier first, then notop), if any. */
export async function cachedImagenetFile(model: string): Promise<{ path: string; variant: 'top' | 'notop' } | undefined> {
  for (const variant of ['top', 'notop'] as const) {
    const path = cachedWeightsPath(`${model}:${variant}`);
    if (await fileExists(path)) return { path, variant };
  }
  return undefined;
}

function cutAfter(model: LayersModel, last: string): LayersModel {
  const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer(last).output, name: model.name });
  const kept = new Set(cut.layers);
  for (const layer of model.layers) if (!kept.has(layer)) layer.dispose();
  return cut;
}

async function weightsPath(spec: KerasAppSpec, weights: string): Promise<{ path: string; fromCache: boolean }> {
  if (weights === 'imagenet' || weights === 'default') {
    const cached = await cachedImagenetFile(spec.name);
    if (!cached) throw missingImagenetError(spec.name);
    return { path: cached.path, fromCache: true };
  }
  let info;
  try {
    info = await stat(weights);
  } catch {
    throw new ConvlabError(`${spec.name} weights not found: ${weights}`, {
      hint: `pass a Keras .h5 file (${KNOWN_WEIGHTS[`${spec.name}:top`].file} or its _notop variant), 'imagenet' or 'random'`,
    });
  }
  if (!info.isFile()) throw new ConvlabError(`${spec.name} weights must be a Keras .h5 file, ${weights} is a folder`, { hint: "use the 'custom' model for a tfjs layers folder" });
  return { path: weights, fromCache: false };
}

/** Build a Keras-applications model and load its weights (see the file header for the choices). */
export async function loadKerasApp(name: string, options: LoadModelOptions = {}): Promise<ConvNet> {
  const spec = kerasAppSpec(name);
  const weights = options.weights ?? 'default';
  let model: LayersModel;
  let info: WeightsInfo;
  if (weights === 'random') {
    const seed = options.seed ?? 0;
    model = spec.build((options.includeHead ?? true) && !options.upTo);
    randomizeWeights(model, seed);
    info = { source: 'random', description: `random He-normal weights (seed ${seed}) in the ${spec.name} architecture`, quantized: false, kind: 'random' };
  } else {
    const { path, fromCache } = await weightsPath(spec, weights);
    const contents = await readKerasH5(path);
    const fileTop = contents.weights.has(spec.headLayer);
    const top = fileTop && (options.includeHead ?? true) && !options.upTo;
    model = spec.build(top);
    try {
      assignLayerWeights(model, contents.weights, { source: path, skipLayers: fileTop && !top ? [spec.headLayer] : [] });
    } catch (err) {
      model.dispose();
      throw err;
    }
    const known = Object.values(KNOWN_WEIGHTS).find((k) => k.model === spec.name && k.file === basename(path));
    const record = fromCache ? await readCacheRecord(path) : undefined;
    info = {
      source: path,
      description: known
        ? `${known.description}${known.variant === 'top' && !top ? ' (loaded without its classifier)' : ''}`
        : `${spec.name} weights from ${path}${fileTop ? ' (with classifier)' : ''}`,
      quantized: false,
      kind: known ? 'imagenet' : 'file',
      ...(known ? { variant: known.variant } : {}),
      ...(record?.sha256 ? { sha256: record.sha256 } : {}),
    };
  }
  if (options.upTo !== undefined) {
    const target = spec.aliases[options.upTo] ?? options.upTo;
    if (!model.layers.some((l) => l.name === target)) {
      model.dispose();
      throw new ConvlabError(`upTo: unknown layer "${options.upTo}" in ${spec.name}`, {
        hint: `use a layer name such as ${spec.tapLayers.slice(0, 5).join(', ')} (convlab-models info ${spec.name} lists them all)`,
      });
    }
    model = cutAfter(model, target);
  }
  const present = new Set(model.layers.map((l) => l.name));
  const head = present.has(spec.headLayer);
  const units = head ? (model.getLayer(spec.headLayer).getConfig().units as number) : 0;
  const aliases = Object.fromEntries(Object.entries(spec.aliases).filter(([, v]) => present.has(v)));
  return createConvNet(
    {
      name: spec.name,
      family: spec.family,
      model,
      inputSize: spec.inputSize,
      preprocessing: spec.preprocessing,
      weights: info,
      aliases,
      minInputSize: spec.minInputSize,
      ...(head ? { headLayer: spec.headLayer, classNames: units === 1000 ? imagenetClassNames() : undefined } : {}),
    },
    options.executor,
  );
}

/** Registry entry of a model that exists only with Keras-applications weights (resnet*, inception_resnet_v2). */
export function kerasAppEntry(name: string): ModelEntry {
  const spec = kerasAppSpec(name);
  return {
    name: spec.name,
    family: spec.family,
    description: spec.description,
    inputSize: spec.inputSize,
    transforms: () => kerasAppTransforms(spec),
    tapLayers: spec.tapLayers,
    async weightsAvailable() {
      const cached = await cachedImagenetFile(spec.name);
      return cached ? { available: true, where: cached.path } : { available: false, where: cachedWeightsPath(`${spec.name}:top`) };
    },
    load: (options) => loadKerasApp(spec.name, options),
  };
}

export const resnet50Entry = kerasAppEntry('resnet50');
export const resnet101Entry = kerasAppEntry('resnet101');
export const resnet152Entry = kerasAppEntry('resnet152');
export const inceptionResNetV2Entry = kerasAppEntry('inception_resnet_v2');
