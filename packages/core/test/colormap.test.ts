import test from 'ava';
import { applyColormap, colormapColor, colormapHex, colormapLut, COLORMAP_NAMES, resolveRange } from '../src/draw/colormap.js';

const hex = (rgb: ArrayLike<number>): string => '#' + Array.from(rgb, (v) => v.toString(16).padStart(2, '0')).join('');
function within1(t: import('ava').ExecutionContext, actual: [number, number, number], expected: string): void {
  const e = [1, 3, 5].map((o) => parseInt(expected.slice(o, o + 2), 16));
  t.true(actual.every((v, i) => Math.abs(v - e[i]) <= 1), `${hex(actual)} vs ${expected}`);
}

test('viridis matches matplotlib at 0, 0.5 and 1', (t) => {
  within1(t, colormapColor('viridis', 0), '#440154');
  within1(t, colormapColor('viridis', 0.5), '#21918c');
  within1(t, colormapColor('viridis', 1), '#fde725');
});

test('magma and inferno endpoints match matplotlib', (t) => {
  within1(t, colormapColor('magma', 0), '#000004');
  within1(t, colormapColor('magma', 1), '#fcfdbf');
  within1(t, colormapColor('inferno', 0), '#000004');
  within1(t, colormapColor('inferno', 1), '#fcffa4');
});

test('every table has 256 distinct-ish entries and viridis is perceptually monotone in lightness', (t) => {
  for (const name of COLORMAP_NAMES) {
    const lut = colormapLut(name);
    t.is(lut.length, 768, name);
    const distinct = new Set(Array.from({ length: 256 }, (_, i) => hex(lut.subarray(i * 3, i * 3 + 3))));
    t.true(distinct.size > 100, `${name} has ${distinct.size} distinct colours`);
  }
  // Luma (Rec. 709) rises along viridis: the property that makes it readable in grayscale.
  const lut = colormapLut('viridis');
  const luma = (i: number): number => 0.2126 * lut[i * 3] + 0.7152 * lut[i * 3 + 1] + 0.0722 * lut[i * 3 + 2];
  for (let i = 8; i < 256; i += 8) t.true(luma(i) > luma(i - 8), `luma at ${i}`);
});

test('rdbu_r is blue for negative, near white at 0, red for positive', (t) => {
  const [lo, mid, hi] = [colormapColor('rdbu_r', 0), colormapColor('rdbu_r', 0.5), colormapColor('rdbu_r', 1)];
  t.true(lo[2] > lo[0] + 50);
  t.true(hi[0] > hi[2] + 50);
  t.true(mid.every((v) => v > 230));
  t.is(colormapHex('rdbu', 0), '#67001f');
  t.is(colormapHex('rdbu', 1), '#053061');
  t.is(colormapHex('gray', 1), '#ffffff');
});

test('applyColormap normalises by range, clips, and handles constant and non-finite maps', (t) => {
  const img = applyColormap([0, 5, 10, 20, -3, Number.NaN], 3, 2, { colormap: 'gray', range: [0, 10] });
  t.is(img.width, 3);
  t.is(img.height, 2);
  t.deepEqual(Array.from(img.data.subarray(0, 3)), [0, 0, 0]);
  t.is(img.data[3], 128); // 0.5 -> entry floor(0.5 * 256) = 128
  t.is(img.data[6], 255);
  t.is(img.data[9], 255); // clipped above
  t.is(img.data[12], 0); // clipped below
  t.is(img.data[15], 0); // NaN -> first colour
  const flat = applyColormap([2, 2, 2, 2], 2, 2, { colormap: 'viridis' });
  t.deepEqual(Array.from(flat.data.subarray(0, 3)), colormapColor('viridis', 0.5));
  t.deepEqual(resolveRange([-1, 3], 'rdbu_r'), [-3, 3]);
  t.deepEqual(resolveRange([-1, 3], 'viridis'), [-1, 3]);
  t.throws(() => applyColormap([1, 2], 2, 2));
  t.throws(() => colormapLut('jet' as never), { message: /unknown colormap/ });
});
