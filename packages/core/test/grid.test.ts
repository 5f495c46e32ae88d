import test from 'ava';
import type { RgbImage } from '../src/image.js';
import { drawGrid } from '../src/draw/grid.js';

/** A w x h image with a distinct colour per pixel. */
function pattern(w: number, h: number, seed: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[i * 3] = (i * 7 + seed * 40) & 255;
    data[i * 3 + 1] = (i * 13 + seed) & 255;
    data[i * 3 + 2] = (seed * 97 + (i >> 3)) & 255;
  }
  return { width: w, height: h, data };
}

/** Find where `needle` sits inside `hay` (exact match). */
function locate(hay: RgbImage, needle: RgbImage): { x: number; y: number } | undefined {
  for (let y = 0; y + needle.height <= hay.height; y++) {
    for (let x = 0; x + needle.width <= hay.width; x++) {
      let ok = true;
      for (let r = 0; r < needle.height && ok; r++) {
        const a = ((y + r) * hay.width + x) * 3;
        const b = r * needle.width * 3;
        for (let k = 0; k < needle.width * 3; k++) {
          if (hay.data[a + k] !== needle.data[b + k]) {
            ok = false;
            break;
          }
        }
      }
      if (ok) return { x, y };
    }
  }
  return undefined;
}

test('cells are copied pixel-exactly, in row-major order, and the size follows the layout', (t) => {
  const cells = Array.from({ length: 9 }, (_, i) => ({ image: pattern(20, 20, i) }));
  const grid = drawGrid(cells, { columns: 3, gap: 5, margin: 7 });
  t.is(grid.width, 7 * 2 + 3 * 20 + 2 * 5);
  t.is(grid.height, 7 * 2 + 3 * 20 + 2 * 5);
  t.is(grid.data.length, grid.width * grid.height * 3);
  for (let i = 0; i < 9; i++) {
    const at = locate(grid, cells[i].image);
    t.deepEqual(at, { x: 7 + (i % 3) * 25, y: 7 + Math.floor(i / 3) * 25 }, `cell ${i}`);
  }
  // The margin is the background colour (white).
  t.deepEqual(Array.from(grid.data.subarray(0, 3)), [255, 255, 255]);
});

test('labels and a title add text (dark pixels) below and above the images', (t) => {
  const cells = Array.from({ length: 4 }, (_, i) => ({ image: pattern(64, 64, i), label: `filter ${i}`, sublabel: `act ${i * 1.5}` }));
  const plain = drawGrid(cells.map((c) => ({ image: c.image })), { columns: 2 });
  const labelled = drawGrid(cells, { columns: 2, title: 'conv1 top activations' });
  t.true(labelled.height > plain.height + 30);
  // Count dark pixels in the label strip under the first image.
  const at = locate(labelled, cells[0].image)!;
  let dark = 0;
  for (let y = at.y + 64 + 2; y < at.y + 64 + 34; y++) {
    for (let x = at.x; x < at.x + 64; x++) if (labelled.data[(y * labelled.width + x) * 3] < 128) dark++;
  }
  t.true(dark > 30, `${dark} dark label pixels`);
  // Title: dark pixels in the top band, above the first image.
  let titleDark = 0;
  for (let y = 0; y < at.y; y++) for (let x = 0; x < labelled.width; x++) if (labelled.data[(y * labelled.width + x) * 3] < 128) titleDark++;
  t.true(titleDark > 50, `${titleDark} dark title pixels`);
});

test('letterboxing: mixed sizes scale into cellSize boxes; small maps enlarge with nearest neighbour', (t) => {
  const wide = pattern(40, 20, 1);
  const small = { width: 2, height: 2, data: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]) };
  const grid = drawGrid([{ image: wide }, { image: small }], { columns: 2, cellSize: 40, gap: 0, margin: 0 });
  t.is(grid.width, 80);
  t.is(grid.height, 40); // the row is as tall as its tallest scaled image (the 40x40 map)
  // Nearest-neighbour enlargement: the top-left 20x20 block of the second cell is pure red.
  const px = (x: number, y: number): number[] => Array.from(grid.data.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3));
  t.deepEqual(px(40, 0), [255, 0, 0]);
  t.deepEqual(px(59, 19), [255, 0, 0]);
  t.deepEqual(px(60, 0), [0, 255, 0]);
  t.deepEqual(px(79, 39), [255, 255, 0]);
});

test('a border frames the cell outside its pixels; column and row labels fit', (t) => {
  const img = pattern(30, 30, 3);
  const grid = drawGrid([{ image: img, border: '#ff0000' }, { image: pattern(30, 30, 4) }], {
    columns: 2,
    columnLabels: ['input', 'deconvnet'],
    rowLabels: ['conv5_3'],
  });
  const at = locate(grid, img)!;
  t.truthy(at);
  const p = ((at.y - 2) * grid.width + at.x + 10) * 3;
  t.deepEqual(Array.from(grid.data.subarray(p, p + 3)), [255, 0, 0]);
});

test('64 feature maps make an 8x8 mosaic; an empty grid is an error', (t) => {
  const cells = Array.from({ length: 64 }, (_, i) => ({ image: pattern(14, 14, i), label: `#${i}` }));
  const grid = drawGrid(cells, { columns: 8, cellSize: 48 });
  t.true(grid.width >= 8 * 48 && grid.width < 8 * 48 + 100);
  t.throws(() => drawGrid([]), { message: /no cells/ });
  t.throws(() => drawGrid([{ image: { width: 2, height: 2, data: new Uint8Array(3) } }]), { message: /expected 12/ });
});
