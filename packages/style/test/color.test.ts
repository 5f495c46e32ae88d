import test from 'ava';
import type { RgbImage } from '@convlab/core';
import { combineLuminance, luminanceImage, matchColorHistogram, planesToRgb, rgbToPlanes, symmetricEigen3 } from '../src/color-preservation.js';

function randomImage(w: number, h: number, seed: number, tint: [number, number, number] = [1, 1, 1]): RgbImage {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round(255 * Math.min(1, rnd() * tint[c]));
  return { width: w, height: h, data };
}

for (const space of ['yiq', 'yuv'] as const) {
  test(`${space}: RGB -> planes -> RGB round trip is exact after rounding`, (t) => {
    const img = randomImage(16, 8, 1);
    const [y, u, v] = rgbToPlanes(img, space);
    t.deepEqual(planesToRgb(y, u, v, 16, 8, space).data, img.data);
  });

  test(`${space}: combineLuminance keeps the content chroma and the stylized luminance`, (t) => {
    const content = randomImage(16, 8, 2, [0.6, 0.5, 0.4]);
    const stylized = luminanceImage(randomImage(16, 8, 3), space);
    const out = combineLuminance(stylized, content, space);
    const [yo, uo, vo] = rgbToPlanes(out, space);
    const [, uc, vc] = rgbToPlanes(content, space);
    const [ys] = rgbToPlanes(stylized, space);
    let du = 0;
    let dy = 0;
    for (let i = 0; i < uc.length; i++) {
      du += Math.abs(uo[i] - uc[i]) + Math.abs(vo[i] - vc[i]);
      dy += Math.abs(yo[i] - ys[i]);
    }
    // Only clipping to 0..255 and rounding move these.
    t.true(du / uc.length < 0.03, `chroma error ${du / uc.length}`);
    t.true(dy / uc.length < 0.05, `luma error ${dy / uc.length}`);
  });
}

test('luminanceImage matches the requested mean and std', (t) => {
  const img = randomImage(32, 32, 4);
  const out = luminanceImage(img, 'yiq', { mean: 0.3, std: 0.1 });
  const [y] = rgbToPlanes(out, 'yiq');
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const std = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length);
  t.true(Math.abs(mean - 0.3) < 0.01 && Math.abs(std - 0.1) < 0.01, `${mean} ${std}`);
});

test('symmetric 3x3 eigen-decomposition reconstructs the matrix', (t) => {
  const a = [
    [4, 1, 0.5],
    [1, 3, 0.2],
    [0.5, 0.2, 2],
  ];
  const { values, vectors } = symmetricEigen3(a);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += vectors[i][k] * values[k] * vectors[j][k];
      t.true(Math.abs(s - a[i][j]) < 1e-9);
    }
});

test('colour histogram matching gives the style the content mean and covariance', (t) => {
  const content = randomImage(64, 64, 5, [0.9, 0.5, 0.3]);
  const style = randomImage(48, 40, 6, [0.3, 0.6, 1]);
  const out = matchColorHistogram(style, content);
  const stats = (img: RgbImage) => {
    const n = img.width * img.height;
    const m = [0, 0, 0];
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) m[c] += img.data[3 * p + c] / n;
    const cov = [0, 1, 2].map((i) => [0, 1, 2].map((j) => {
      let s = 0;
      for (let p = 0; p < n; p++) s += (img.data[3 * p + i] - m[i]) * (img.data[3 * p + j] - m[j]);
      return s / n;
    }));
    return { m, cov };
  };
  const a = stats(out);
  const b = stats(content);
  for (let c = 0; c < 3; c++) t.true(Math.abs(a.m[c] - b.m[c]) < 2.5, `mean ${a.m[c]} vs ${b.m[c]}`);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t.true(Math.abs(a.cov[i][j] - b.cov[i][j]) < 0.08 * b.cov[i][i] + 10, `cov ${i}${j} ${a.cov[i][j]} vs ${b.cov[i][j]}`);
});
