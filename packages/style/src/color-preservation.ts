/**
 * Colour preservation: Gatys, Bethge, Hertzmann & Shechtman, "Preserving color in neural artistic style
 * transfer" (arXiv 2016). Two ways to keep the content photo's colours (`--preserve-color`):
 *
 * - luminance-only transfer (`luminance`): run style transfer on the luminance channel Y of YIQ (or YUV),
 *   Y = 0.299 R + 0.587 G + 0.114 B, after matching the style's luminance to the content's,
 *     L_s' = sigma_c / sigma_s (L_s - mu_s) + mu_c,
 *   then put the content's chroma (I, Q) back under the stylized Y;
 * - colour histogram matching (`histogram`): before transfer, transform every style pixel linearly,
 *     x_s' = A x_s + b,  A = Sigma_c^{1/2} Sigma_s^{-1/2},  b = mu_c - A mu_s,
 *   so the style's mean and covariance of RGB equal the content's (the image-analogies form of the
 *   transform the paper discusses; the 3x3 matrix square roots by eigen-decomposition).
 */
import type { RgbImage } from '@convlab/core';

export type ColorSpace = 'yiq' | 'yuv';

// Rows map RGB (0..1) to (Y, c1, c2).
const MATRICES: Record<ColorSpace, number[][]> = {
  yiq: [
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
  ],
  yuv: [
    [0.299, 0.587, 0.114],
    [-0.14713, -0.28886, 0.436],
    [0.615, -0.51499, -0.10001],
  ],
};

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

const INVERSES: Record<ColorSpace, number[][]> = { yiq: invert3(MATRICES.yiq), yuv: invert3(MATRICES.yuv) };

/** RGB bytes -> three float planes (Y, c1, c2), RGB scaled to 0..1. */
export function rgbToPlanes(image: RgbImage, space: ColorSpace): [Float32Array, Float32Array, Float32Array] {
  const n = image.width * image.height;
  const m = MATRICES[space];
  const y = new Float32Array(n);
  const u = new Float32Array(n);
  const v = new Float32Array(n);
  const d = image.data;
  for (let p = 0; p < n; p++) {
    const r = d[3 * p] / 255;
    const g = d[3 * p + 1] / 255;
    const b = d[3 * p + 2] / 255;
    y[p] = m[0][0] * r + m[0][1] * g + m[0][2] * b;
    u[p] = m[1][0] * r + m[1][1] * g + m[1][2] * b;
    v[p] = m[2][0] * r + m[2][1] * g + m[2][2] * b;
  }
  return [y, u, v];
}

/** Three planes -> RGB bytes (clipped, rounded). */
export function planesToRgb(y: Float32Array, u: Float32Array, v: Float32Array, width: number, height: number, space: ColorSpace): RgbImage {
  const m = INVERSES[space];
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const clip = (x: number) => Math.min(255, Math.max(0, Math.round(x * 255)));
  for (let p = 0; p < n; p++) {
    data[3 * p] = clip(m[0][0] * y[p] + m[0][1] * u[p] + m[0][2] * v[p]);
    data[3 * p + 1] = clip(m[1][0] * y[p] + m[1][1] * u[p] + m[1][2] * v[p]);
    data[3 * p + 2] = clip(m[2][0] * y[p] + m[2][1] * u[p] + m[2][2] * v[p]);
  }
  return { width, height, data };
}

/** The luminance of an image as a gray RGB image (Y replicated), optionally remapped to a target mean/std. */
export function luminanceImage(image: RgbImage, space: ColorSpace, match?: { mean: number; std: number }): RgbImage {
  const [y] = rgbToPlanes(image, space);
  if (match) {
    const { mean, std } = meanStd(y);
    const s = std > 1e-6 ? match.std / std : 1;
    for (let i = 0; i < y.length; i++) y[i] = (y[i] - mean) * s + match.mean;
  }
  const data = new Uint8Array(y.length * 3);
  for (let p = 0; p < y.length; p++) {
    const g = Math.min(255, Math.max(0, Math.round(y[p] * 255)));
    data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = g;
  }
  return { width: image.width, height: image.height, data };
}

export function meanStd(values: Float32Array): { mean: number; std: number } {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let s = 0;
  for (const v of values) s += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(s / values.length) };
}

/** Luminance statistics of an image (for matching the style's luminance to the content's, L_s' above). */
export function luminanceStats(image: RgbImage, space: ColorSpace): { mean: number; std: number } {
  return meanStd(rgbToPlanes(image, space)[0]);
}

/** Put the content's chroma under the stylized output's luminance. Both images must have the same size. */
export function combineLuminance(stylized: RgbImage, content: RgbImage, space: ColorSpace): RgbImage {
  if (stylized.width !== content.width || stylized.height !== content.height) {
    throw new Error(`combineLuminance: sizes differ (${stylized.width}x${stylized.height} vs ${content.width}x${content.height})`);
  }
  const [y] = rgbToPlanes(stylized, space);
  const [, u, v] = rgbToPlanes(content, space);
  return planesToRgb(y, u, v, content.width, content.height, space);
}

function meanCov(image: RgbImage): { mean: number[]; cov: number[][] } {
  const n = image.width * image.height;
  const d = image.data;
  const mean = [0, 0, 0];
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) mean[c] += d[3 * p + c];
  for (let c = 0; c < 3; c++) mean[c] /= n;
  const cov = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let p = 0; p < n; p++) {
    const x = [d[3 * p] - mean[0], d[3 * p + 1] - mean[1], d[3 * p + 2] - mean[2]];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) cov[i][j] += x[i] * x[j];
  }
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) cov[i][j] = cov[i][j] / n + (i === j ? 1e-3 : 0);
  return { mean, cov };
}

/** Eigen-decomposition of a symmetric 3x3 matrix (Jacobi rotations): values and column eigenvectors. */
export function symmetricEigen3(a: number[][]): { values: number[]; vectors: number[][] } {
  const m = a.map((r) => r.slice());
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = m[0][1] ** 2 + m[0][2] ** 2 + m[1][2] ** 2;
    if (off < 1e-20) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      if (Math.abs(m[p][q]) < 1e-30) continue;
      const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const mkp = m[k][p];
        const mkq = m[k][q];
        m[k][p] = c * mkp - s * mkq;
        m[k][q] = s * mkp + c * mkq;
      }
      for (let k = 0; k < 3; k++) {
        const mpk = m[p][k];
        const mqk = m[q][k];
        m[p][k] = c * mpk - s * mqk;
        m[q][k] = s * mpk + c * mqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [m[0][0], m[1][1], m[2][2]], vectors: v };
}

function matPow(a: number[][], power: number): number[][] {
  const { values, vectors } = symmetricEigen3(a);
  const out = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i][j] += vectors[i][k] * Math.pow(Math.max(values[k], 1e-9), power) * vectors[j][k];
  return out;
}

/**
 * Colour histogram matching: transform the style's pixels linearly, x' = A (x - mu_s)
 * + mu_c with A = Sigma_c^{1/2} Sigma_s^{-1/2}, so their mean and covariance equal the content's.
 */
export function matchColorHistogram(style: RgbImage, content: RgbImage): RgbImage {
  const s = meanCov(style);
  const c = meanCov(content);
  const a = mul3(matPow(c.cov, 0.5), matPow(s.cov, -0.5));
  const n = style.width * style.height;
  const out = new Uint8Array(n * 3);
  const d = style.data;
  for (let p = 0; p < n; p++) {
    const x = [d[3 * p] - s.mean[0], d[3 * p + 1] - s.mean[1], d[3 * p + 2] - s.mean[2]];
    for (let i = 0; i < 3; i++) {
      const y = a[i][0] * x[0] + a[i][1] * x[1] + a[i][2] * x[2] + c.mean[i];
      out[3 * p + i] = Math.min(255, Math.max(0, Math.round(y)));
    }
  }
  return { width: style.width, height: style.height, data: out };
}

function mul3(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
}
