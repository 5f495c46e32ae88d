/** Registry entries for the offline default models: nsfwjs's MobileNetV2 and InceptionV3. */
import { ConvlabError, tf } from '@convlab/core';
import { createConvNet, type Preprocessing } from './convnet.js';
import { NSFWJS_CLASSES, loadNsfwjsModel, nsfwjsWeightsAvailable, nsfwjsWeightsInfo, type NsfwjsModelName } from './nsfwjs.js';
import { randomizeWeights } from './random-init.js';
import { cachedImagenetFile, kerasAppSpec, kerasAppTransforms, loadKerasApp } from './keras-apps.js';
import type { ConvNet, InputTransforms, LoadModelOptions, ModelEntry, ModelFamily, WeightsInfo } from './types.js';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

interface NsfwjsModelSpec {
  name: NsfwjsModelName;
  family: ModelFamily;
  description: string;
  inputSize: [number, number];
  minInputSize: number;
  /** Last layer of the convolutional trunk (before the nsfwjs head). */
  trunkEnd: string;
  headLayer: string;
  aliases: Record<string, string>;
  /** Layer names to suggest in messages. */
  examples: string[];
}

/**
 * Keras MobileNetV2 / InceptionV3 were trained on ImageNet with inputs in [-1, 1], but nsfwjs feeds its
 * models x / 255 and the batch-norm statistics in these files were re-estimated for that: on the sample
 * photos, the per-channel input means of InceptionV3's first batch norm sit 0.18 standard deviations
 * (moving variance) from its moving means with x / 255 and 1.08 with [-1, 1] (MobileNetV2's
 * block_1_project_BN: 0.43 vs 0.87; averaged over all batch norms 0.23 vs 0.34 for InceptionV3).
 * So the weights expect [0, 1] inputs.
 */
const PREPROCESSING: Preprocessing = { kind: 'unit' };

/** The model cut after `last`; the weights of the layers cut off are freed. */
function cutAfter(model: LayersModel, last: string): LayersModel {
  const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer(last).output, name: `${model.name}_to_${last}` });
  const kept = new Set(cut.layers);
  for (const layer of model.layers) if (!kept.has(layer)) layer.dispose();
  return cut;
}

/**
 * 'default' and 'random' use the nsfwjs topology (x / 255 inputs, 5-class head); 'imagenet' and a path to
 * a Keras .h5 file use the architecture in code with the Keras-applications weights (keras-apps.ts:
 * [-1, 1] inputs, ImageNet classifier).
 */
function usesKerasWeights(weights: string | undefined): boolean {
  return weights !== undefined && weights !== 'default' && weights !== 'random';
}

function nsfwjsEntry(spec: NsfwjsModelSpec): ModelEntry {
  const keras = kerasAppSpec(spec.name);
  return {
    name: spec.name,
    family: spec.family,
    description: spec.description,
    inputSize: spec.inputSize,
    tapLayers: keras.tapLayers,
    transforms(weights?: string): InputTransforms {
      if (usesKerasWeights(weights)) return kerasAppTransforms(keras);
      return { preprocessing: PREPROCESSING, inputSize: spec.inputSize, minInputSize: spec.minInputSize, anySize: true, headAnySize: true };
    },
    async weightsAvailable() {
      const bundled = await nsfwjsWeightsAvailable(spec.name);
      const imagenet = await cachedImagenetFile(spec.name);
      return imagenet ? { available: bundled.available, where: `${bundled.where}; ImageNet: ${imagenet.path}` } : bundled;
    },
    async load(options: LoadModelOptions = {}): Promise<ConvNet> {
      const weights = options.weights ?? 'default';
      if (usesKerasWeights(weights)) return loadKerasApp(spec.name, options);
      const full = await loadNsfwjsModel(spec.name);
      let upTo: string | undefined;
      if (options.upTo !== undefined) {
        upTo = spec.aliases[options.upTo] ?? options.upTo;
        if (!full.layers.some((l) => l.name === upTo)) {
          full.dispose();
          throw new ConvlabError(`upTo: unknown layer "${options.upTo}" in ${spec.name}`, {
            hint: `use a layer name such as ${spec.examples.join(', ')} (convlab-models info ${spec.name} lists them all)`,
          });
        }
      }
      const includeHead = (options.includeHead ?? true) && upTo === undefined;
      const model = upTo ? cutAfter(full, upTo) : includeHead ? full : cutAfter(full, spec.trunkEnd);
      let info: WeightsInfo = { ...nsfwjsWeightsInfo(spec.name), kind: 'nsfwjs' };
      if (weights === 'random') {
        const seed = options.seed ?? 0;
        randomizeWeights(model, seed);
        info = { source: 'random', description: `random He-normal weights (seed ${seed}) in the ${spec.name} architecture`, quantized: false, kind: 'random' };
      }
      const aliases = { ...spec.aliases };
      const present = new Set(model.layers.map((l) => l.name));
      for (const [k, v] of Object.entries(aliases)) if (!present.has(v)) delete aliases[k];
      return createConvNet({
        name: spec.name,
        family: spec.family,
        model,
        inputSize: spec.inputSize,
        preprocessing: PREPROCESSING,
        weights: info,
        aliases,
        classNames: includeHead && weights === 'default' ? [...NSFWJS_CLASSES] : undefined,
        headLayer: includeHead ? spec.headLayer : undefined,
        minInputSize: spec.minInputSize,
      }, options.executor);
    },
  };
}

export const mobilenetV2Entry = nsfwjsEntry({
  name: 'mobilenet_v2',
  family: 'mobilenet',
  description: "MobileNetV2 1.0 (224), offline weights from nsfwjs (ImageNet trunk fine-tuned for a 5-class filter); weights: 'imagenet' for Keras's ImageNet classifier (`convlab-models pull mobilenet_v2`)",
  inputSize: [224, 224],
  minInputSize: 32,
  trunkEnd: 'out_relu',
  headLayer: 'dense_3',
  aliases: { features: 'out_relu', head: 'dense_3' },
  examples: ['Conv1_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu', 'out_relu'],
});

export const inceptionV3Entry = nsfwjsEntry({
  name: 'inception_v3',
  family: 'inception',
  description: "InceptionV3 (299), offline weights from nsfwjs (ImageNet trunk fine-tuned for a 5-class filter); weights: 'imagenet' for Keras's ImageNet classifier (`convlab-models pull inception_v3`)",
  inputSize: [299, 299],
  minInputSize: 75,
  trunkEnd: 'mixed10',
  headLayer: 'dense_3',
  aliases: { features: 'mixed10', head: 'dense_3' },
  examples: ['activation_1', 'mixed0', 'mixed4', 'mixed7', 'mixed10'],
});
