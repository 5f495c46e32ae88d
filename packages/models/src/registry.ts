/**
 * The model registry. To add a model, import its ModelEntry and put it in ENTRIES; nothing else changes.
 */
import { ConvlabError } from '@convlab/core';
import { customEntry } from './custom.js';
import { inceptionV3Entry, mobilenetV2Entry } from './nsfwjs-entries.js';
import { vggEntry } from './vgg.js';
import { inceptionResNetV2Entry, resnet101Entry, resnet152Entry, resnet50Entry } from './keras-apps.js';
import type { ConvNet, InputTransforms, LoadModelOptions, ModelEntry } from './types.js';

const ENTRIES: ModelEntry[] = [
  mobilenetV2Entry,
  inceptionV3Entry,
  vggEntry(16),
  vggEntry(19),
  resnet50Entry,
  resnet101Entry,
  resnet152Entry,
  inceptionResNetV2Entry,
  customEntry,
];

/** Every registered model, in display order. */
export function listModels(): ModelEntry[] {
  return [...ENTRIES];
}

/** The entry for a model name; throws a ConvlabError listing the names if unknown. */
export function getModelEntry(name: string): ModelEntry {
  const entry = ENTRIES.find((e) => e.name === name);
  if (!entry) {
    throw new ConvlabError(`unknown model "${name}"`, { hint: `choose one of: ${ENTRIES.map((e) => e.name).join(', ')}` });
  }
  return entry;
}

/** Load a model by registry name. */
export async function loadModel(name: string, options: LoadModelOptions = {}): Promise<ConvNet> {
  return getModelEntry(name).load(options);
}

/**
 * Preprocessing and input-size rules of a model for a weights choice (torchvision's
 * `weights.transforms()`): what the pipelines apply before a forward pass and print in run records.
 */
export function modelTransforms(name: string, weights?: string): InputTransforms {
  const entry = getModelEntry(name);
  if (!entry.transforms) {
    throw new ConvlabError(`model '${name}' has no fixed preprocessing`, { hint: 'a custom model takes it from its preprocessing option' });
  }
  return entry.transforms(weights);
}
