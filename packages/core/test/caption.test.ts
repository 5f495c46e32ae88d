import test from 'ava';
import type { RgbImage } from '../src/image.js';
import { captionImage } from '../src/draw/caption.js';

const gray = (w: number, h: number, v = 90): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });

function darkPixelsBelow(img: RgbImage, y0: number): number {
  let n = 0;
  for (let y = y0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (img.data[(y * img.width + x) * 3] < 128) n++;
  return n;
}

test('text renders in a strip below the image, which keeps its pixels', (t) => {
  const img = gray(224, 224);
  const out = captionImage(img, 'a dog runs through the grass');
  t.is(out.width, 224);
  t.true(out.height > 224 + 15);
  t.deepEqual(out.data.subarray(0, 224 * 224 * 3), img.data);
  t.true(darkPixelsBelow(out, 224) > 100, 'caption text has dark pixels');
  // Background of the strip is white.
  const p = ((out.height - 1) * out.width) * 3;
  t.deepEqual(Array.from(out.data.subarray(p, p + 3)), [255, 255, 255]);
});

test('long captions wrap to more lines; paragraphs stack', (t) => {
  const img = gray(200, 100);
  const one = captionImage(img, 'short');
  const long = captionImage(img, 'a man in a red jacket is standing on a snowy mountain next to a dog and a sled while the sun sets behind them');
  const two = captionImage(img, ['best: a dog on grass', 'second: a brown dog runs'], { boldFirstLine: true });
  t.true(long.height >= one.height + 3 * 18, `${long.height} vs ${one.height}`);
  t.true(two.height > one.height + 15);
  t.is(long.width, 200);
});

test('a narrow image is centred on a wider strip', (t) => {
  const out = captionImage(gray(40, 40, 0), 'tiny patch from conv1');
  t.is(out.width, 160);
  const row = 20 * out.width * 3;
  t.deepEqual(Array.from(out.data.subarray(row, row + 3)), [255, 255, 255]);
  t.deepEqual(Array.from(out.data.subarray(row + 60 * 3, row + 60 * 3 + 3)), [0, 0, 0]);
});

test('empty text adds no strip', (t) => {
  const img = gray(200, 50);
  t.deepEqual(captionImage(img, ''), img);
});
