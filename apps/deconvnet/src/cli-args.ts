/** Flag parsing for convlab-deconv (kept apart from the CLI so it can be tested). */
import { ConvlabError } from '@convlab/core';
import type { ReluBackward } from '@convlab/models';
import { METHOD_NAMES, type MethodName } from './attribution.js';
import { parseMethodName } from './methods/index.js';
import type { Target } from './target.js';
import type { UnitSelection } from './top9/run.js';
import { NORMALIZATIONS, type ProjectionNormalization } from './render.js';

function int(value: string, flag: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConvlabError(`${flag} "${value}" is not an integer >= ${min}`);
  return n;
}

export function parseIntFlag(value: string | undefined, flag: string, fallback: number, min = 0): number {
  return value === undefined ? fallback : int(value.trim(), flag, min);
}

export function parseNumberFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConvlabError(`${flag} "${value}" is not a number`);
  return n;
}

/** "3,17,42" | "strongest:16" | "spread:16" | "16" (= spread:16 is ambiguous, so a bare number is one unit). */
export function parseUnits(value: string | undefined, fallback: UnitSelection = { spread: 16 }): UnitSelection {
  if (value === undefined || value.trim() === '') return fallback;
  const v = value.trim();
  const m = /^(strongest|spread|top)\s*:\s*(\d+)$/i.exec(v);
  if (m) {
    const n = int(m[2], '--units', 1);
    return m[1].toLowerCase() === 'spread' ? { spread: n } : { strongest: n };
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
  if (parts.length !== 2) throw new ConvlabError(`--position "${value}" should be "y,x", "argmax" or "all"`);
  return [int(parts[0], '--position'), int(parts[1], '--position')];
}

/** A target from --class or --layer/--unit/--position. */
export function parseTarget(values: { class?: string; layer?: string; unit?: string; position?: string }): Target {
  if (values.class !== undefined) {
    if (values.unit !== undefined) throw new ConvlabError('give either --class or --unit, not both');
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
  if ((NORMALIZATIONS as readonly string[]).includes(value)) return value as ProjectionNormalization;
  throw new ConvlabError(`--normalize "${value}" is unknown`, { hint: `use one of: ${NORMALIZATIONS.join(', ')}` });
}

/** "224" or "256,320" (h,w). */
export function parseSize(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(/[,x]/).map((s) => int(s.trim(), '--size', 8));
  if (parts.length === 1) return [parts[0], parts[0]];
  if (parts.length === 2) return [parts[0], parts[1]];
  throw new ConvlabError(`--size "${value}" should be N or H,W`);
}
