/**
 * Similarity measures between attribution maps, as Adebayo et al. (2018) use them: Spearman rank
 * correlation of absolute values and SSIM of maps normalised to [0, 1].
 *
 * Spearman's rho comes from simple-statistics (sampleRankCorrelation averages the ranks of ties, as
 * scipy.stats.spearmanr does: checked equal on maps full of exact zeros). SSIM stays here: ssim.js
 * takes RGBA image data, rounds it to 8-bit grey and has no window for maps under 11 px, so it cannot
 * reproduce SSIM of float maps in [0, 1].
 */
import { sampleRankCorrelation } from 'simple-statistics';

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`pearson: lengths differ (${n} vs ${b.length})`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // A constant map carries no ranking: correlation with it is 0, not NaN.
  if (saa === 0 || sbb === 0) return saa === 0 && sbb === 0 ? 1 : 0;
  return sab / Math.sqrt(saa * sbb);
}

const isConstant = (v: ArrayLike<number>) => Array.prototype.every.call(v, (x: number) => x === v[0]);

/** Spearman rank correlation (ties averaged). A constant map carries no ranking: 0, or 1 if both are. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths differ (${a.length} vs ${b.length})`);
  const ca = isConstant(a);
  const cb = isConstant(b);
  if (ca || cb) return ca && cb ? 1 : 0;
  return sampleRankCorrelation(Array.from(a), Array.from(b));
}

/** Spearman rank correlation of absolute values (the sanity-check paper's main measure). */
export function spearmanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return spearman(Float64Array.from(a, Math.abs), Float64Array.from(b, Math.abs));
}

/** Scale to [0, 1] by min and max (a constant map becomes all zeros). */
export function normalize01(values: ArrayLike<number>): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const span = hi - lo;
  const out = new Float32Array(values.length);
  if (span > 0) for (let i = 0; i < values.length; i++) out[i] = (values[i] - lo) / span;
  return out;
}

function gaussianKernel(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/** Separable 'valid' Gaussian blur of a [h, w] map. */
function blurValid(x: Float64Array, w: number, h: number, k: Float64Array): { data: Float64Array; w: number; h: number } {
  const s = k.length;
  const w1 = w - s + 1;
  const h1 = h - s + 1;
  const tmp = new Float64Array(h * w1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w1; x++) {
      let acc = 0;
      for (let i = 0; i < s; i++) acc += k[i] * x_at(x + i, y);
      tmp[y * w1 + x] = acc;
    }
  }
  function x_at(xx: number, yy: number): number {
    return x[yy * w + xx];
  }
  const out = new Float64Array(h1 * w1);
  for (let y = 0; y < h1; y++) {
    for (let xx = 0; xx < w1; xx++) {
      let acc = 0;
      for (let i = 0; i < s; i++) acc += k[i] * tmp[(y + i) * w1 + xx];
      out[y * w1 + xx] = acc;
    }
  }
  return { data: out, w: w1, h: h1 };
}

/**
 * Structural similarity (Wang et al. 2004) of two [h, w] maps with values in [0, dataRange]:
 * Gaussian window 11 (sigma 1.5; shrunk for small maps), K1 = 0.01, K2 = 0.03, mean over the map.
 * Matches skimage.metrics.structural_similarity(gaussian_weights=True, use_sample_covariance=False).
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, dataRange = 1): number {
  if (a.length !== width * height || b.length !== width * height) throw new Error('ssim: map sizes do not match width x height');
  let size = 11;
  while (size > Math.min(width, height)) size -= 2;
  if (size < 1) size = 1;
  const k = gaussianKernel(size, size === 11 ? 1.5 : (1.5 * size) / 11);
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  const AA = A.map((v) => v * v);
  const BB = B.map((v) => v * v);
  const AB = A.map((v, i) => v * B[i]);
  const mA = blurValid(A, width, height, k);
  const mB = blurValid(B, width, height, k).data;
  const sAA = blurValid(AA, width, height, k).data;
  const sBB = blurValid(BB, width, height, k).data;
  const sAB = blurValid(AB, width, height, k).data;
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  let total = 0;
  const n = mA.data.length;
  for (let i = 0; i < n; i++) {
    const ua = mA.data[i];
    const ub = mB[i];
    const va = sAA[i] - ua * ua;
    const vb = sBB[i] - ub * ub;
    const cov = sAB[i] - ua * ub;
    total += ((2 * ua * ub + c1) * (2 * cov + c2)) / ((ua * ua + ub * ub + c1) * (va + vb + c2));
  }
  return total / n;
}

/** The q-quantile (0..1) of |values|, by sorting a copy. */
export function absQuantile(values: ArrayLike<number>, q: number): number {
  const abs = Float32Array.from(values, Math.abs).sort();
  if (abs.length === 0) return 0;
  const idx = Math.min(abs.length - 1, Math.max(0, Math.round(q * (abs.length - 1))));
  return abs[idx];
}
