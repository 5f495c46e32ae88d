/** Registry entries for the offline default models: nsfwjs's MobileNetV2 and InceptionV3. */
import { ConvlabError, tf } from '@convlab/core';
import { createConvNet, type Preprocessing } from './convnet.js';
import { NSFWJS_CLASSES, loadNsfwjsModel, nsfwjsWeightsAvailable, nsfwjsWeightsInfo, type NsfwjsModelName } from './nsfwjs.js';
import { randomizeWeights } from './random-init.js';
import type { ConvNet, LoadModelOptions, ModelEntry, ModelFamily } from './types.js';

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

function nsfwjsEntry(spec: NsfwjsModelSpec): ModelEntry {
  return {
    name: spec.name,
    family: spec.family,
    description: spec.description,
    inputSize: spec.inputSize,
    weightsAvailable: () => nsfwjsWeightsAvailable(spec.name),
    async load(options: LoadModelOptions = {}): Promise<ConvNet> {
      const weights = options.weights ?? 'default';
      if (weights !== 'default' && weights !== 'random') {
        throw new ConvlabError(`model ${spec.name} only has its bundled weights ('default') or 'random', not "${weights}"`, {
          hint: `to run your own weights file use the 'custom' model with --weights ${weights}`,
        });
      }
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
      let info = nsfwjsWeightsInfo(spec.name);
      if (weights === 'random') {
        const seed = options.seed ?? 0;
        randomizeWeights(model, seed);
        info = { source: 'random', description: `random He-normal weights (seed ${seed}) in the ${spec.name} architecture`, quantized: false };
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
  description: 'MobileNetV2 1.0 (224), offline weights from nsfwjs (ImageNet trunk fine-tuned for a 5-class filter)',
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
  description: 'InceptionV3 (299), offline weights from nsfwjs (ImageNet trunk fine-tuned for a 5-class filter)',
  inputSize: [299, 299],
  minInputSize: 75,
  trunkEnd: 'mixed10',
  headLayer: 'dense_3',
  aliases: { features: 'mixed10', head: 'dense_3' },
  examples: ['activation_1', 'mixed0', 'mixed4', 'mixed7', 'mixed10'],
});
