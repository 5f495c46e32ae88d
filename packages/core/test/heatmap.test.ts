import test from 'ava';
import type { RgbImage } from '../src/image.js';
import { overlayHeatmap, resizeMapBilinear } from '../src/draw/heatmap.js';
import { colormapColor } from '../src/draw/colormap.js';

function photo(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[i * 3] = (i * 3) & 255;
    data[i * 3 + 1] = 120;
    data[i * 3 + 2] = (i >> 4) & 255;
  }
  return { width: w, height: h, data };
}

const map3 = { width: 3, height: 3, values: [0, 0, 0, 0, 1, 0, 0, 0, 0] };

test('alpha 0 returns the image unchanged; alpha 1 shows only the colormap', async (t) => {
  const img = photo(48, 32);
  const same = await overlayHeatmap(img, map3, { alpha: 0 });
  t.deepEqual(same, img);
  const only = await overlayHeatmap(img, map3, { alpha: 1, colormap: 'viridis' });
  // Every pixel is the colour of the bilinearly upsampled value (range 0..1 from the map).
  const up = resizeMapBilinear(map3, 48, 32);
  for (const [x, y] of [[24, 16], [0, 0], [10, 20], [47, 31]]) {
    const c = (y * 48 + x) * 3;
    t.deepEqual(Array.from(only.data.subarray(c, c + 3)), colormapColor('viridis', up[y * 48 + x]), `pixel ${x},${y}`);
  }
  t.deepEqual(Array.from(only.data.subarray(0, 3)), colormapColor('viridis', 0));
  await t.throwsAsync(() => overlayHeatmap(img, map3, { alpha: 2 }), { message: /alpha/ });
});

test('bilinear upsampling is smooth, symmetric and keeps the range', (t) => {
  const up = resizeMapBilinear(map3, 30, 30);
  t.is(up.length, 900);
  const at = (x: number, y: number): number => up[y * 30 + x];
  t.true(at(15, 15) > 0.9);
  t.true(at(0, 0) < 1e-6);
  t.true(Math.abs(at(10, 15) - at(19, 15)) < 1e-6); // mirror symmetric
  t.true(at(12, 15) > at(8, 15) && at(8, 15) > at(4, 15)); // monotone towards the peak
  for (const v of up) t.true(v >= 0 && v <= 1);
  // Same size is the identity.
  t.deepEqual(Array.from(resizeMapBilinear(map3, 3, 3)), map3.values);
});

test('colorbar: a panel on the right with a column of varying colours and tick labels', async (t) => {
  const img = photo(120, 100);
  const out = await overlayHeatmap(img, map3, { alpha: 0.5, colorbar: true, colorbarLabel: 'attention' });
  t.is(out.height, 100);
  t.true(out.width > 120 + 30, `width ${out.width}`);
  // The left part is the blended image (untouched by the panel).
  const blended = await overlayHeatmap(img, map3, { alpha: 0.5 });
  for (let y = 0; y < 100; y += 7) {
    const a = (y * out.width) * 3;
    const b = (y * 120) * 3;
    t.deepEqual(Array.from(out.data.subarray(a, a + 360)), Array.from(blended.data.subarray(b, b + 360)));
  }
  // Find a column in the panel whose colours vary strongly from top to bottom (the bar).
  let best = 0;
  for (let x = 120; x < out.width; x++) {
    const colours = new Set<string>();
    for (let y = 10; y < 90; y++) {
      const p = (y * out.width + x) * 3;
      colours.add(`${out.data[p]},${out.data[p + 1]},${out.data[p + 2]}`);
    }
    best = Math.max(best, colours.size);
  }
  t.true(best > 40, `most colours in one panel column: ${best}`);
  // The top of the bar is the high end (yellow in viridis): red+green high, blue low.
  let topYellow = false;
  for (let x = 120; x < out.width; x++) {
    const p = (5 * out.width + x) * 3;
    if (out.data[p] > 200 && out.data[p + 1] > 200 && out.data[p + 2] < 100) topYellow = true;
  }
  t.true(topYellow);
});


test('alphaByValue leaves low-value pixels as the image and colours high ones', async (t) => {
  const img = photo(30, 30);
  const out = await overlayHeatmap(img, map3, { alpha: 0.8, alphaByValue: true });
  // Corner: value 0 -> image unchanged.
  t.deepEqual(Array.from(out.data.subarray(0, 3)), Array.from(img.data.subarray(0, 3)));
  // Centre: value ~1 -> mostly the top colour.
  const c = (15 * 30 + 15) * 3;
  const top = colormapColor('viridis', 1);
  t.true(Math.abs(out.data[c + 1] - (0.2 * img.data[c + 1] + 0.8 * top[1])) < 25);
});
