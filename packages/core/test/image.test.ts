import test from 'ava';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import '../src/tf.js';
import {
  cropImage,
  decodeImage,
  encodeImage,
  imageToTensor,
  imagesToBatch,
  listImageFiles,
  loadImage,
  mapToGray,
  resizeImage,
  saveImage,
  tensorToImage,
  type RgbImage,
} from '../src/image.js';
import { ConvlabError } from '../src/errors.js';

let dir: string;
test.before(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'convlab-image-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const W = 40;
const H = 30;

/** A smooth test pattern: R grows with x, G with y, B constant, so lossy codecs keep it close. */
function pattern(width = W, height = H): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x / (width - 1)) * 255);
      data[i + 1] = Math.round((y / (height - 1)) * 255);
      data[i + 2] = 96;
    }
  }
  return { width, height, data };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });

const formats: [string, (s: sharp.Sharp) => sharp.Sharp, number][] = [
  ['jpg', (s) => s.jpeg({ quality: 95 }), 3],
  ['png', (s) => s.png(), 0],
  ['webp', (s) => s.webp({ lossless: true }), 0],
  ['tiff', (s) => s.tiff({ compression: 'lzw' }), 0],
  ['avif', (s) => s.avif({ quality: 90 }), 4],
];

for (const [ext, encode, tolerance] of formats) {
  test(`loads ${ext.toUpperCase()} written by sharp`, async (t) => {
    const path = join(dir, `pattern.${ext}`);
    await encode(raw(pattern())).toFile(path);
    const img = await loadImage(path);
    t.is(img.width, W);
    t.is(img.height, H);
    t.is(img.data.length, W * H * 3);
    const diff = meanAbsDiff(img.data, pattern().data);
    t.true(diff <= tolerance, `mean abs difference ${diff}`);
  });
}

test('loads the first frame of an animated GIF', async (t) => {
  // Two 8x6 frames stacked: red, then blue.
  const frame = (rgb: [number, number, number]) => Array.from({ length: 8 * 6 }, () => [...rgb, 255]).flat();
  const frames = Buffer.from([...frame([255, 0, 0]), ...frame([0, 0, 255])]);
  const path = join(dir, 'anim.gif');
  await sharp(frames, { raw: { width: 8, height: 12, channels: 4, pageHeight: 6 } }).gif().toFile(path);
  t.is((await sharp(path).metadata()).pages, 2);
  const img = await loadImage(path);
  t.deepEqual([img.width, img.height], [8, 6]);
  t.deepEqual(Array.from(img.data.subarray(0, 3)), [255, 0, 0]);
});

test('applies EXIF orientation (6 = rotate 90 degrees clockwise)', async (t) => {
  // Stored 40x30 with a white top-left 8x8 corner; displayed it is 30x40 with the corner at the top right.
  const img = pattern();
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) img.data.set([255, 255, 255], (y * W + x) * 3);
  const path = join(dir, 'rotated.jpg');
  await raw(img).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(path);
  t.is((await sharp(path).metadata()).orientation, 6);
  const loaded = await loadImage(path);
  t.deepEqual([loaded.width, loaded.height], [H, W]);
  const px = (x: number, y: number) => Array.from(loaded.data.subarray((y * loaded.width + x) * 3, (y * loaded.width + x) * 3 + 3));
  t.true(px(loaded.width - 3, 3).every((v) => v > 240), `top right ${px(loaded.width - 3, 3)}`);
  t.true(px(3, 3)[2] < 140, `top left ${px(3, 3)}`);
});

test('flattens alpha onto white', async (t) => {
  // 2x1 RGBA: transparent black, half-transparent red.
  const path = join(dir, 'alpha.png');
  await sharp(Buffer.from([0, 0, 0, 0, 255, 0, 0, 128]), { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(path);
  const img = await loadImage(path);
  t.deepEqual(Array.from(img.data.subarray(0, 3)), [255, 255, 255]);
  const [r, g, b] = img.data.subarray(3, 6);
  t.is(r, 255);
  t.true(Math.abs(g - 127) <= 2 && Math.abs(b - 127) <= 2, `half red over white: ${[r, g, b]}`);
});

test('resizes by maxSide and to an exact size', async (t) => {
  const path = join(dir, 'resize.png');
  await raw(pattern()).png().toFile(path);
  const small = await loadImage(path, { maxSide: 20 });
  t.deepEqual([small.width, small.height], [20, 15]);
  // maxSide is "at most": a smaller image keeps its size unless enlarging is asked for.
  const kept = await loadImage(path, { maxSide: 1000 });
  t.deepEqual([kept.width, kept.height], [pattern().width, pattern().height]);
  const enlarged = await loadImage(path, { maxSide: 80, enlarge: true });
  t.is(Math.max(enlarged.width, enlarged.height), 80);
  const exact = await loadImage(path, { size: { width: 7, height: 9 } });
  t.deepEqual([exact.width, exact.height], [7, 9]);
  const viaResize = await resizeImage(pattern(), { maxSide: 10 });
  t.deepEqual([viaResize.width, viaResize.height], [10, 8]);
});

test('refuses images above the pixel limit with a clear message', async (t) => {
  const path = join(dir, 'big.png');
  await raw(pattern()).png().toFile(path);
  const err = await t.throwsAsync(loadImage(path, { maxPixels: 1000 }), { instanceOf: ConvlabError });
  t.is(err!.message, `image ${path} is 40x30 (1200 pixels), above the limit of 1000 pixels`);
  t.regex((err as ConvlabError).hint!, /downscale|maxPixels/);
  await t.notThrowsAsync(loadImage(path, { maxPixels: 1200 }));
});

test('corrupt, truncated and missing files give one-line errors naming the file', async (t) => {
  const garbage = join(dir, 'garbage.jpg');
  await writeFile(garbage, Buffer.from('this is not an image at all'));
  const e1 = await t.throwsAsync(loadImage(garbage), { instanceOf: ConvlabError });
  t.regex(e1!.message, /garbage\.jpg/);
  t.false(e1!.message.includes('\n'));

  const good = await encodeImage(pattern(), 'jpeg');
  const truncated = join(dir, 'truncated.jpg');
  await writeFile(truncated, good.subarray(0, Math.floor(good.length / 2)));
  const e2 = await t.throwsAsync(loadImage(truncated), { instanceOf: ConvlabError });
  t.regex(e2!.message, /truncated\.jpg/);

  const e3 = await t.throwsAsync(loadImage(join(dir, 'nope.png')), { instanceOf: ConvlabError });
  t.regex(e3!.message, /image not found: .*nope\.png/);
});

test('saveImage writes atomically: no temporary files left, nothing written on failure', async (t) => {
  const out = join(dir, 'out', 'nested');
  await saveImage(pattern(), join(out, 'a.png'));
  await saveImage(pattern(), join(out, 'a.jpg'));
  t.deepEqual((await readdir(out)).sort(), ['a.jpg', 'a.png']);
  const back = await loadImage(join(out, 'a.png'));
  t.deepEqual(back.data, pattern().data);

  await t.throwsAsync(saveImage(pattern(), join(out, 'a.bmp')), { instanceOf: ConvlabError, message: /unsupported extension "\.bmp"/ });
  // The data does not match the stated size: encoding fails before anything is written.
  await t.throwsAsync(saveImage({ width: 50, height: 50, data: new Uint8Array(10) }, join(out, 'bad.png')));
  // Renaming onto a non-empty directory fails: the temporary file must be cleaned up.
  await mkdir(join(out, 'taken.png'));
  await writeFile(join(out, 'taken.png', 'x'), 'x');
  await t.throwsAsync(saveImage(pattern(), join(out, 'taken.png')));
  t.deepEqual((await readdir(out)).sort(), ['a.jpg', 'a.png', 'taken.png']);
});

test('image <-> tensor round trip, batches, clipping', async (t) => {
  const img = pattern();
  const x = imageToTensor(img);
  t.deepEqual(x.shape, [H, W, 3]);
  t.is(x.dtype, 'float32');
  t.deepEqual((await tensorToImage(x)).data, img.data);
  t.deepEqual((await tensorToImage(tf.expandDims(x, 0))).data, img.data);
  const batch = imagesToBatch([img, img]);
  t.deepEqual(batch.shape, [2, H, W, 3]);
  t.throws(() => imagesToBatch([img, pattern(10, 10)]), { instanceOf: ConvlabError, message: /image 1 is 10x10, expected 40x30/ });
  t.throws(() => imagesToBatch([]), { instanceOf: ConvlabError });
  const clipped = await tensorToImage(tf.tensor3d([-5, 300, NaN, 12.4, 12.6, 255], [1, 2, 3]));
  t.deepEqual(Array.from(clipped.data), [0, 255, 0, 12, 13, 255]);
  await t.throwsAsync(tensorToImage(tf.zeros([2, 4, 4, 3])), { instanceOf: ConvlabError, message: /\[2, 4, 4, 3\]/ });
  await t.throwsAsync(tensorToImage(tf.zeros([4, 4, 1])), { instanceOf: ConvlabError });
});

test('encode/decode, crop, gray maps and listing', async (t) => {
  const img = pattern();
  const png = await encodeImage(img, 'png');
  t.deepEqual((await decodeImage(png)).data, img.data);
  const crop = cropImage(img, 35, -2, 10, 5);
  t.deepEqual([crop.width, crop.height], [5, 3]);
  t.deepEqual(Array.from(crop.data.subarray(0, 3)), Array.from(img.data.subarray(35 * 3, 35 * 3 + 3)));
  const gray = mapToGray([0, 5, 10, 2.5], 2, 2);
  t.deepEqual(Array.from(gray.data.filter((_, i) => i % 3 === 0)), [0, 128, 255, 64]);

  const listDir = join(dir, 'list');
  await mkdir(join(listDir, 'sub'), { recursive: true });
  for (const name of ['b.JPG', 'a.png', 'notes.txt', 'sub/c.webp']) await writeFile(join(listDir, name), 'x');
  t.deepEqual((await listImageFiles(listDir)).map((p) => p.slice(listDir.length + 1)), ['a.png', 'b.JPG']);
  t.deepEqual((await listImageFiles(listDir, true)).map((p) => p.slice(listDir.length + 1)), ['a.png', 'b.JPG', 'sub/c.webp']);
  await t.throwsAsync(listImageFiles(join(dir, 'missing')), { instanceOf: ConvlabError, message: /image folder not found/ });
});
