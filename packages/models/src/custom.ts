/**
 * The 'custom' registry entry: any Keras-style LayersModel from disk.
 * - a TensorFlow.js layers model folder or its model.json (tensorflowjs_converter output, model.save());
 * - a full-model Keras 2 .h5 file (`model.save('x.h5')`): the architecture comes from its `model_config`
 *   attribute, the weights are then mapped by layer name.
 * A weights-only .h5 has no architecture; it can only be loaded into a model built in code (VGG).
 */
import { stat } from 'node:fs/promises';
import { ConvlabError, tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { createConvNet, type Preprocessing } from './convnet.js';
import { fileIOHandler } from './custom-tfjs-io.js';
import { assignLayerWeights, readKerasH5 } from './keras-h5.js';
import type { ConvNet, LoadModelOptions, ModelEntry } from './types.js';
import { VGG_MEAN_RGB } from './vgg-arch.js';

export type PreprocessingName = 'caffe' | 'tf' | 'torch' | 'unit' | 'none';
export const PREPROCESSING_NAMES: readonly PreprocessingName[] = ['caffe', 'tf', 'torch', 'unit', 'none'];

export interface CustomLoadOptions extends LoadModelOptions {
  /**
   * How images become network input. 'tf' (default): scale to [-1, 1]; 'torch': /255 then ImageNet
   * mean/std; 'caffe': RGB -> BGR minus the ImageNet mean (VGG, ResNet50 from Keras); 'unit': /255;
   * 'none': raw 0..255.
   */
  preprocessing?: PreprocessingName | Preprocessing;
  /** Default input size [h, w] when the model's input accepts any size (default 224x224). */
  inputSize?: [number, number];
}

export function parsePreprocessing(value: PreprocessingName | Preprocessing | undefined): Preprocessing {
  if (value === undefined) return { kind: 'tf' };
  if (typeof value === 'object') return value;
  switch (value) {
    case 'caffe':
      return { kind: 'caffe', meanRgb: VGG_MEAN_RGB };
    case 'tf':
    case 'torch':
    case 'unit':
    case 'none':
      return { kind: value };
    default:
      throw new ConvlabError(`unknown preprocessing '${String(value)}'`, { hint: `use one of ${PREPROCESSING_NAMES.join(', ')}` });
  }
}

async function loadFullModelH5(path: string): Promise<LayersModel> {
  const contents = await readKerasH5(path);
  if (!contents.modelConfig) {
    throw new ConvlabError(`${path} holds weights only (no model_config attribute), so the architecture is unknown`, {
      hint: "save the model with model.save('model.h5') (architecture + weights) or convert it to a tfjs layers folder",
    });
  }
  let model: LayersModel;
  try {
    const config = JSON.parse(contents.modelConfig) as Parameters<typeof tf.models.modelFromJSON>[0];
    model = (await tf.models.modelFromJSON(config)) as LayersModel;
  } catch (err) {
    throw new ConvlabError(`cannot build the architecture stored in ${path}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'TensorFlow.js supports most Keras 2 layers; convert the model with tensorflowjs_converter to see what is missing',
    });
  }
  try {
    assignLayerWeights(model, contents.weights, { source: path });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

async function loadTfjsFolder(path: string): Promise<LayersModel> {
  try {
    return await tf.loadLayersModel(fileIOHandler(path));
  } catch (err) {
    if (err instanceof ConvlabError) throw err;
    throw new ConvlabError(`cannot load the tfjs layers model at ${path}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'pass a layers model (graph models from tf.saved_model conversions are not supported)',
    });
  }
}

/** Load a LayersModel from a tfjs folder/model.json or a full-model Keras .h5. */
export async function loadLayersModelFromPath(path: string): Promise<LayersModel> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ConvlabError(`custom model not found: ${path}`, { hint: 'pass a tfjs layers model folder, its model.json, or a full-model Keras .h5 file' });
  }
  if (info.isDirectory() || path.endsWith('.json')) return loadTfjsFolder(path);
  return loadFullModelH5(path);
}

function defaultInputSize(model: LayersModel, fallback: [number, number]): [number, number] {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4) {
    throw new ConvlabError(`custom model '${model.name}' takes input of shape [${shape}], not images [n, h, w, c]`);
  }
  const [, h, w] = shape;
  return typeof h === 'number' && typeof w === 'number' ? [h, w] : fallback;
}

/** `loadModel('custom', {weights: path, preprocessing})`. */
export async function loadCustomModel(options: CustomLoadOptions): Promise<ConvNet> {
  const path = options.weights;
  if (!path || path === 'default' || path === 'random') {
    throw new ConvlabError("the 'custom' model needs weights: '<path>'", {
      hint: 'pass a tfjs layers model folder, its model.json, or a full-model Keras .h5 file',
    });
  }
  const preprocessing = parsePreprocessing(options.preprocessing);
  const model = await loadLayersModelFromPath(path);
  const last = model.layers[model.layers.length - 1];
  const headLayer = last.getClassName() === 'Dense' ? last.name : undefined;
  return createConvNet({
    name: 'custom',
    family: 'custom',
    model,
    inputSize: defaultInputSize(model, options.inputSize ?? [224, 224]),
    preprocessing,
    weights: { source: path, description: `custom model '${model.name}' from ${path}`, quantized: false },
    ...(headLayer ? { headLayer } : {}),
  }, options.executor);
}

export const customEntry: ModelEntry = {
  name: 'custom',
  family: 'custom',
  description: "any Keras-style model from disk: weights: '<tfjs layers folder | model.json | full-model Keras .h5>'",
  inputSize: [224, 224],
  async weightsAvailable() {
    return { available: false, where: "pass weights: '<path>'" };
  },
  load: (options) => loadCustomModel(options as CustomLoadOptions),
};
