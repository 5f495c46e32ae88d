/** Axis ticks: "nice" steps of 1, 2, 2.5 or 5 times a power of ten, and compact labels. */

/** About `target` evenly spaced round values covering [lo, hi] (only those inside it). */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const step = niceStep((hi - lo) / Math.max(1, target));
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(cleanFloat(k * step));
  return ticks;
}

/** Like niceTicks for integer data (iterations, epochs, layer indices): steps of 1, 2, 5 x 10^k, never 0.5 or 2.5. */
export function integerTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  let step = Math.max(1, niceStep((hi - lo || 1) / Math.max(1, target)));
  const p = 10 ** Math.floor(Math.log10(step));
  if (Math.abs(step / p - 2.5) < 1e-9) step = 2 * p;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k++) ticks.push(k * step + 0);
  return ticks;
}

export function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return m * p;
}

/** Remove binary noise such as 0.30000000000000004. */
function cleanFloat(v: number): number {
  return v === 0 ? 0 : Number.parseFloat(v.toPrecision(12));
}

/** Widen [lo, hi] outward to the nearest multiples of a nice step (for axis limits). */
export function niceBounds(lo: number, hi: number, target = 5): [number, number] {
  if (hi === lo) {
    const d = Math.abs(lo) * 0.1 || 1;
    return [lo - d, hi + d];
  }
  const step = niceStep((hi - lo) / target);
  return [cleanFloat(Math.floor(lo / step + 1e-9) * step), cleanFloat(Math.ceil(hi / step - 1e-9) * step)];
}

/** Powers of ten inside [lo, hi] (both > 0), thinned to at most ~8 labels. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.ceil(Math.log10(lo) - 1e-9);
  const b = Math.floor(Math.log10(hi) + 1e-9);
  const every = Math.max(1, Math.ceil((b - a + 1) / 8));
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) if ((e - a) % every === 0) ticks.push(10 ** e);
  return ticks;
}

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/** 10^e written as 10⁻³ (the bundled font has superscript digits); `plain` writes 1, 10, 100, 1000 as numbers. */
export function formatPowerOfTen(v: number, plain = false): string {
  const e = Math.round(Math.log10(v));
  if (plain && e >= 0 && e <= 3) return String(10 ** e);
  return '10' + String(e).replace(/[-0-9]/g, (ch) => SUPERSCRIPT[ch]);
}

/** Decimals needed to write `step` exactly (2.5 -> 1, 0.25 -> 2, 20 -> 0). */
function decimalsOf(step: number): number {
  const s = cleanFloat(step).toString();
  if (s.includes('e-')) return Math.min(8, Number(s.split('e-')[1]) + (s.split('e')[0].split('.')[1]?.length ?? 0));
  return s.split('.')[1]?.length ?? 0;
}

/** Short label for a tick value; `step` (the tick spacing) decides how many decimals are needed. */
export function formatTick(v: number, step = 0): string {
  let s: string;
  const a = Math.abs(v);
  if (step >= 1e-3 && a < 1e5) s = v.toFixed(Math.min(6, decimalsOf(step)));
  else if (v === 0) s = '0';
  else if (a >= 1e5 || a < 1e-3) s = v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
  else s = Number.parseFloat(v.toPrecision(a >= 100 ? 6 : 3)).toString();
  // A typographic minus, as in printed figures.
  return s.replace(/^-/, '\u2212');
}
