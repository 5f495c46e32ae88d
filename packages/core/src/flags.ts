/**
 * Number ranges and memory budgets: one message that names the flag, the allowed range and an
 * example, raised before any heavy work. Flag text is parsed by the option schemas (options.ts), which
 * describe their ranges with describeRange; checkNumber serves checks that need a loaded model.
 */
import { totalmem } from 'node:os';
import { ConvlabError } from './errors.js';

export interface NumberRange {
  /** Whole numbers only. */
  integer?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound (e.g. a learning rate > 0). */
  gt?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Shown in the hint, e.g. the default. */
  example?: number | string;
}

/** "an integer >= 1", "a number > 0 and <= 1". */
export function describeRange(r: NumberRange): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return `${r.integer ? 'an integer' : 'a number'}${parts.length ? ' ' + parts.join(' and ') : ''}`;
}

/** Check a number against a range; throws a ConvlabError naming the flag. */
export function checkNumber(value: number, flag: string, range: NumberRange): number {
  const ok =
    Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) &&
    (range.gt === undefined || value > range.gt) &&
    (range.max === undefined || value <= range.max);
  if (!ok) {
    throw new ConvlabError(`${flag} ${value} is out of range: it must be ${describeRange(range)}`, {
      hint: range.example !== undefined ? `e.g. ${flag} ${range.example}` : `fix ${flag}`,
    });
  }
  return value;
}

/** Bytes as "1.2 GB" for memory estimates. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

/**
 * Refuse work whose estimated peak memory is above a budget (default: 80% of the machine's total
 * memory, or CONVLAB_MAX_MEMORY_GB), naming the flag to lower; `--force`-style overrides are the
 * caller's to offer.
 */
export function checkMemoryEstimate(bytes: number, what: string, flag: string, budgetBytes?: number): void {
  const env = Number(process.env.CONVLAB_MAX_MEMORY_GB);
  const total = budgetBytes ?? (Number.isFinite(env) && env > 0 ? env * 1e9 : 0.8 * availableMemoryBytes());
  if (bytes > total) {
    throw new ConvlabError(`${what} needs about ${formatBytes(bytes)} of memory, more than the ${formatBytes(total)} available`, {
      hint: `lower ${flag} (or set CONVLAB_MAX_MEMORY_GB if the estimate is wrong for this machine)`,
    });
  }
}

/** The machine's memory, or the cgroup limit when a container sets a lower one. */
export function availableMemoryBytes(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : totalmem();
}
