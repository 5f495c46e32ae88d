/**
 * Flag parsing for convlab-deconv (kept apart from the CLI so it can be tested). Every numeric flag
 * has a range and is refused with @convlab/core's message naming it ("--k 0 is out of range: it must
 * be an integer >= 1"); checks that need the model (layer shapes, channel counts, the model's minimum
 * input size) are in checkAgainstModel.
 */
import { ConvlabError, checkNumber, choiceFlag, numberFlag, type NumberRange } from '@convlab/core';
import type { ConvNet, ReluBackward } from '@convlab/models';
import { METHOD_NAMES, type MethodName } from './attribution.js';
import { parseMethodName } from './methods/index.js';
import { checkClass, checkHeadSize, type Target } from './target.js';
import type { UnitSelection } from './top9/run.js';
import { NORMALIZATIONS, type ProjectionNormalization } from './render.js';

/** Largest --size side accepted before the memory estimate (which usually refuses far earlier). */
export const MAX_SIZE = 8192;
/** Largest seed: opSeed and the sanity check's re-initialisation take 32-bit seeds. */
export const MAX_SEED = 2 ** 32 - 1;

/** The ranges of convlab-deconv's numeric flags (one table, so --help, the parser and the tests agree). */
export const FLAG_RANGES = {
  '--k': { integer: true, min: 1, max: 100, example: 9 },
  '--limit': { integer: true, min: 1, example: 1000 },
  '--batch': { integer: true, min: 1, max: 256, example: 8 },
  '--square': { integer: true, min: 1, max: MAX_SIZE, example: 32 },
  '--stride': { integer: true, min: 1, max: MAX_SIZE, example: 8 },
  '--steps': { integer: true, min: 1, max: 1000, example: 8 },
  '--seed': { integer: true, min: 0, max: MAX_SEED, example: 0 },
  '--max-channels': { integer: true, min: 1, max: 4096, example: 64 },
  '--smoothgrad-samples': { integer: true, min: 1, max: 10000, example: 25 },
  '--smoothgrad-sigma': { gt: 0, max: 5, example: 0.15 },
  '--sanity-steps': { integer: true, min: 1, max: 1000, example: 8 },
  '--size': { integer: true, min: 1, max: MAX_SIZE, example: 224 },
  '--unit': { integer: true, min: 0, example: 0 },
  '--units': { integer: true, min: 0, example: '3,17,42' },
  '--class': { integer: true, min: 0, example: 0 },
  '--position': { integer: true, min: 0, example: '3,5' },
} as const satisfies Record<string, NumberRange>;

export type RangedFlag = keyof typeof FLAG_RANGES;

/**
 * node:util parseArgs reads "--lr -1" as a flag without its value followed by an option "-1"; join
 * such pairs ("--lr=-1") for flags that take a value, so a negative number reaches the range check
 * and gets its message ("--lr -1 is out of range: ...").
 */
export function joinNegativeValues(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      out.push(`${a}=${next}`);
      i += 1;
    } else out.push(a);
  }
  return out;
}

/** An integer flag in its range from FLAG_RANGES (or `range` when given); `fallback` when absent. */
export function parseIntFlag(value: string | undefined, flag: string, fallback: number, min = 0): number {
  const range: NumberRange = (FLAG_RANGES as Record<string, NumberRange>)[flag] ?? { integer: true, min };
  return numberFlag(value, flag, fallback, { ...range, integer: true });
}

/** A number flag in its range from FLAG_RANGES; `fallback` when absent. */
export function parseNumberFlag(value: string | undefined, flag: string, fallback: number): number {
  return numberFlag(value, flag, fallback, (FLAG_RANGES as Record<string, NumberRange>)[flag] ?? {});
}

/** An optional ranged flag: undefined when absent. */
export function optionalInt(value: string | undefined, flag: RangedFlag): number | undefined {
  return value === undefined ? undefined : parseIntFlag(value, flag, 0);
}

function int(value: string, flag: RangedFlag): number {
  return numberFlag(value, flag, 0, FLAG_RANGES[flag]);
}

/** "3,17,42" | "strongest:16" | "spread:16" | "16" (= spread:16 is ambiguous, so a bare number is one unit). */
export function parseUnits(value: string | undefined, fallback: UnitSelection = { spread: 16 }): UnitSelection {
  if (value === undefined || value.trim() === '') return fallback;
  const v = value.trim();
  const m = /^(strongest|spread|top)\s*:\s*(.*)$/i.exec(v);
  if (m) {
    const kind = m[1].toLowerCase() === 'spread' ? 'spread' : 'strongest';
    const n = Number(m[2].trim());
    if (m[2].trim() === '' || !Number.isInteger(n) || n < 1) {
      throw new ConvlabError(`--units ${v} is out of range: N in ${kind}:N must be an integer >= 1`, { hint: `e.g. --units ${kind}:16` });
    }
    return kind === 'spread' ? { spread: n } : { strongest: n };
  }
  return v.split(',').map((s) => int(s.trim(), '--units'));
}

/** "y,x" | "argmax" | "all". */
export function parsePosition(value: string | undefined): Target['position'] {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'argmax' || v === 'max') return 'argmax';
  if (v === 'all' || v === 'sum') return 'all';
  const parts = v.split(/[,x ]+/).filter(Boolean);
  if (parts.length !== 2) throw new ConvlabError(`--position "${value}" should be "y,x", "argmax" or "all"`, { hint: 'e.g. --position 3,5' });
  return [int(parts[0], '--position'), int(parts[1], '--position')];
}

/** A target from --class or --layer/--unit/--position. */
export function parseTarget(values: { class?: string; layer?: string; unit?: string; position?: string }): Target {
  if (values.class !== undefined) {
    if (values.unit !== undefined) throw new ConvlabError('give either --class or --unit, not both', { hint: 'a class of the head (--class K) or a unit of a layer (--layer NAME --unit N)' });
    return { classIndex: int(values.class.trim(), '--class') };
  }
  if (values.layer === undefined || values.unit === undefined) {
    throw new ConvlabError('no target: give --layer NAME --unit N (optionally --position y,x), or --class K', {
      hint: 'list layers with: convlab-deconv layers --model NAME',
    });
  }
  const unit = values.unit.trim().toLowerCase() === 'strongest' ? 'strongest' : int(values.unit.trim(), '--unit');
  return { layer: values.layer, unit, position: parsePosition(values.position) };
}

export function parseMethods(value: string | undefined, fallback: readonly MethodName[] = METHOD_NAMES): MethodName[] {
  if (value === undefined || value.trim() === '' || value.trim() === 'all') return [...fallback];
  return [...new Set(value.split(',').map((s) => parseMethodName(s)))];
}

export function parseRelus(value: string | undefined, fallback: ReluBackward[]): ReluBackward[] {
  if (value === undefined) return fallback;
  return value.split(',').map((s) => {
    const v = s.trim().toLowerCase();
    if (v === 'deconvnet' || v === 'guided') return v;
    if (v === 'gradient' || v === 'normal' || v === 'saliency') return 'normal';
    throw new ConvlabError(`--rules "${s}" is not a projection rule`, { hint: 'use deconvnet, guided or gradient' });
  });
}

export function parseNormalization(value: string | undefined): ProjectionNormalization | undefined {
  if (value === undefined) return undefined;
  return choiceFlag(value, '--normalize', NORMALIZATIONS, NORMALIZATIONS[0]);
}

/** "224" or "256,320" (h,w); each side an integer in 1..MAX_SIZE (the model's minimum is checked after loading it). */
export function parseSize(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(/[,x]/).map((s) => int(s.trim(), '--size'));
  if (parts.length === 1) return [parts[0], parts[0]];
  if (parts.length === 2) return [parts[0], parts[1]];
  throw new ConvlabError(`--size "${value}" should be N or H,W`, { hint: 'e.g. --size 224 or --size 224,320' });
}

/** The input size against the loaded model: every side at least its minimum. */
export function checkSizeForModel(model: ConvNet, size: [number, number] | undefined): [number, number] {
  const s = size ?? model.inputSize;
  for (const side of s) checkNumber(side, '--size', { ...FLAG_RANGES['--size'], min: model.minInputSize, example: model.inputSize[0] });
  if (size && !model.anySize && (size[0] !== model.inputSize[0] || size[1] !== model.inputSize[1])) {
    throw new ConvlabError(`--size ${size.join(',')}: ${model.name} only takes its native input size ${model.inputSize.join(',')}`, { hint: 'leave out --size' });
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
 * of the head's and the input size fits the head, the Grad-CAM layer exists.
 */
export function checkTargetForModel(model: ConvNet, target: Target, size: [number, number], camLayer?: string): void {
  if (camLayer !== undefined) model.resolveLayer(camLayer);
  if (target.classIndex !== undefined) {
    try {
      checkClass(model, target.classIndex);
    } catch (err) {
      const classes = model.classNames?.length;
      if (!(err instanceof ConvlabError) || !/out of range/.test(err.message)) throw err;
      throw new ConvlabError(`--class ${target.classIndex} is out of range: ${model.name}'s head has ${classes ?? 'fewer'} classes`, { hint: err.hint, cause: err });
    }
    checkHeadSize(model, size[0], size[1]);
    return;
  }
  if (target.layer === undefined) return;
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
}

/** --square / --stride against the input: no larger than its shorter side. */
export function checkOcclusionFlags(size: [number, number], square: number | undefined, stride: number | undefined): void {
  const side = Math.min(...size);
  if (square !== undefined) checkNumber(square, '--square', { integer: true, min: 1, max: side, example: Math.round(side / 7) });
  if (stride !== undefined) checkNumber(stride, '--stride', { integer: true, min: 1, max: side, example: Math.max(1, Math.round(side / 28)) });
}
