/**
 * Checks that need the loaded model, run by every library call before it reads an image: the input
 * size against the model's minimum, the target against the layer (unit < channels, position inside
 * the map, class in the head), --units against the layer, the occluder against the input, and the
 * memory estimate. Messages name the flag (`--unit 500 is out of range: block_1_expand_relu has 96 channels`).
 */
import { ConvlabError, checkNumber, engineInfo } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { checkRunMemory, type MemoryPlan } from './memory-estimate.js';
import { MAX_SIZE, sizeOf, type UnitSelection } from './options.js';
import { checkHeadSize, resolveClassIndex, type Target } from './target.js';
import type { MethodName } from './attribution.js';

/** Noisy copies per SmoothGrad gradient call (SmoothGrad's default batchSize). */
export const SMOOTHGRAD_BATCH = 5;

/** The input size against the loaded model: every side at least its minimum. */
export function checkSizeForModel(model: ConvNet, size: [number, number] | number[] | undefined): [number, number] {
  const s = sizeOf(size) ?? model.inputSize;
  for (const side of s) checkNumber(side, '--size', { integer: true, min: model.minInputSize, max: MAX_SIZE, example: model.inputSize[0] });
  if (size && !model.anySize && (s[0] !== model.inputSize[0] || s[1] !== model.inputSize[1])) {
    throw new ConvlabError(`--size ${s.join(',')}: ${model.name} only takes its native input size ${model.inputSize.join(',')}`, { hint: 'leave out --size' });
  }
  return s;
}

/** Channels of a layer at an input size. */
export function layerChannels(model: ConvNet, layer: string, size: [number, number]): number {
  const shape = model.outputShapeFor(layer, size);
  return shape.at(-1) as number;
}

/** --units against a layer: explicit ids inside it, strongest:N / spread:N no more than its channels. */
export function checkUnitSelection(selection: UnitSelection, channels: number, layer: string): void {
  if (Array.isArray(selection)) {
    const bad = selection.filter((u) => !Number.isInteger(u) || u < 0 || u >= channels);
    if (bad.length) {
      throw new ConvlabError(`--units ${bad.join(',')} is out of range: ${layer} has ${channels} channels`, {
        hint: `use units 0..${channels - 1}`,
      });
    }
    return;
  }
  const [kind, n] = 'strongest' in selection ? ['strongest', selection.strongest] : ['spread', selection.spread];
  if (n > channels) {
    throw new ConvlabError(`--units ${kind}:${n} asks for more units than ${layer} has (${channels} channels)`, {
      hint: `use --units ${kind}:${channels} or fewer`,
    });
  }
}

/**
 * Everything about a target that the model decides, checked once before any image is read: the
 * layer exists, the unit is one of its channels, the position is inside its map, the class is one
 * of the head's and the input size fits the head, the Grad-CAM layer exists. Returns the target with
 * its layer resolved to the canonical name (roles such as @late included).
 */
export function checkTargetForModel(model: ConvNet, target: Target, size: [number, number], camLayer?: string): Target {
  if (camLayer !== undefined) model.resolveLayer(camLayer);
  if (target.classIndex !== undefined) {
    let classIndex: number;
    try {
      // An index or a name (ImageNet's table for a 1000-way ImageNet head, else the model's class names).
      classIndex = resolveClassIndex(model, target.classIndex);
    } catch (err) {
      const classes = model.classNames?.length;
      if (!(err instanceof ConvlabError) || !/out of range/.test(err.message)) throw err;
      throw new ConvlabError(`--class ${target.classIndex} is out of range: ${model.name}'s head has ${classes ?? 'fewer'} classes`, { hint: err.hint, cause: err });
    }
    checkHeadSize(model, size[0], size[1]);
    return { ...target, classIndex };
  }
  if (target.layer === undefined) return target;
  const layer = model.resolveLayer(target.layer);
  let shape: number[];
  try {
    shape = model.outputShapeFor(layer, size);
  } catch (err) {
    if (err instanceof ConvlabError) throw err;
    throw new ConvlabError(`layer ${layer} cannot be computed at --size ${size.join(',')}: ${(err as Error).message}`, { hint: 'pick a trunk layer, or leave out --size', cause: err });
  }
  const channels = shape.at(-1) as number;
  if (typeof target.unit === 'number' && target.unit >= channels) {
    throw new ConvlabError(`--unit ${target.unit} is out of range: ${layer} has ${channels} channels`, {
      hint: `use --unit 0..${channels - 1}, or --unit strongest`,
    });
  }
  if (Array.isArray(target.position)) {
    if (shape.length !== 3) throw new ConvlabError(`layer ${layer} has no spatial map, so --position cannot be given`, { hint: 'leave out --position' });
    const [h, w] = shape;
    const [y, x] = target.position;
    if (y >= h || x >= w) {
      throw new ConvlabError(`--position ${y},${x} is outside ${layer}'s ${h}x${w} map`, { hint: `use y in 0..${h - 1}, x in 0..${w - 1}` });
    }
  }
  return { ...target, layer };
}

/** --square / --stride against the input: no larger than its shorter side. */
export function checkOcclusionFlags(size: [number, number], square: number | undefined, stride: number | undefined): void {
  const side = Math.min(...size);
  if (square !== undefined) checkNumber(square, '--square', { integer: true, min: 1, max: side, example: Math.round(side / 7) });
  if (stride !== undefined) checkNumber(stride, '--stride', { integer: true, min: 1, max: side, example: Math.max(1, Math.round(side / 28)) });
}

/** What a call computes at most, for the memory estimate. */
export type MemoryCall = 'attribute' | 'sanity' | 'project' | 'occlusion' | 'report' | 'features' | 'top9';

export function memoryPlan(
  call: MemoryCall,
  o: { layer?: string; size: [number, number]; methods?: MethodName[]; smoothgradSamples?: number; batch?: number; k?: number },
): MemoryPlan {
  // SmoothGrad, VarGrad and integrated gradients run gradients in batches of SMOOTHGRAD_BATCH.
  const batched = (o.methods ?? []).filter((m) => m === 'smoothgrad' || m === 'vargrad' || m === 'integrated-gradients');
  const sg = batched.length > 0;
  const gradientBatch = sg ? (batched.includes('integrated-gradients') ? SMOOTHGRAD_BATCH : Math.min(SMOOTHGRAD_BATCH, o.smoothgradSamples ?? 25)) : 1;
  const sgHint = sg ? `leave ${batched.join(', ')} out of --methods` : undefined;
  // Score-CAM and the occlusion method score masked copies in forward batches of 16.
  const perturbBatch = (o.methods ?? []).some((m) => m === 'scorecam' || m === 'occlusion') ? 16 : 0;
  const { layer, size } = o;
  switch (call) {
    case 'attribute':
    case 'sanity':
      return { layer, size, gradientBatch, forwardBatch: perturbBatch, alternative: sgHint };
    case 'project':
      return { layer, size, gradientBatch: 1, forwardBatch: 0 };
    case 'occlusion':
      return { layer, size, gradientBatch: 0, forwardBatch: o.batch ?? 16, alternative: 'a smaller --batch' };
    case 'report':
      return { layer, size, gradientBatch, forwardBatch: o.batch ?? 16, alternative: sgHint ?? 'a smaller --batch' };
    case 'features':
      return { layer, size, gradientBatch: 0, forwardBatch: 1 };
    case 'top9':
      // The scan runs forward batches of --batch; the figure projects each unit's k images in one gradient pass.
      return { layer, size, gradientBatch: o.k ?? 9, forwardBatch: o.batch ?? 8, alternative: 'a smaller --k' };
  }
}

/** The memory estimate of a call on the current backend (refused naming --size and a size that fits). */
export function checkCallMemory(model: ConvNet, call: MemoryCall, o: Parameters<typeof memoryPlan>[1]): void {
  checkRunMemory(model, memoryPlan(call, o), engineInfo()?.backend, call);
}
