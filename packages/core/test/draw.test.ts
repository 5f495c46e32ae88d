import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { ensureFonts, FONT_FAMILY, font } from '../src/draw/fonts.js';
import { formatTick, integerTicks, niceBounds, niceTicks } from '../src/draw/ticks.js';
import { canvasToImage, newCanvas, toImageData, wrapText } from '../src/draw/surface.js';

test('the bundled font registers under its own family and renders anti-aliased text', (t) => {
  ensureFonts();
  t.true(GlobalFonts.has(FONT_FAMILY));
  const { canvas, ctx } = newCanvas(200, 40);
  ctx.fillStyle = '#000';
  ctx.font = font(20);
  ctx.fillText('Loss αβ ≤ 10⁻³', 5, 28);
  const img = canvasToImage(canvas);
  let dark = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i] < 128) dark++;
  t.true(dark > 150, `${dark} dark pixels`);
  // Anti-aliased: some grey edge pixels exist, not only black and white.
  let grey = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i] > 40 && img.data[i] < 215) grey++;
  t.true(grey > 20);
  // Bold is wider than regular.
  ctx.font = font(20, 'bold');
  const boldW = ctx.measureText('conv5_1').width;
  ctx.font = font(20);
  t.true(boldW > ctx.measureText('conv5_1').width);
});


test('nice ticks and labels', (t) => {
  t.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(0, 300, 4), [0, 100, 200, 300]);
  t.deepEqual(niceTicks(-0.7, 0.7, 4), [-0.5, 0, 0.5]);
  t.deepEqual(niceBounds(0.13, 0.91, 5), [0, 1]);
  t.is(formatTick(0.5, 0.25), '0.50');
  t.is(formatTick(7.5, 2.5), '7.5');
  t.is(formatTick(-2, 1), '\u22122');
  t.is(formatTick(250000, 50000), '2.5e5');
  t.is(formatTick(0.0001), '1e-4');
  // Integer data: 0..15 would get a 2.5 step; iterations read better as 0, 2, 4, ...
  t.deepEqual(integerTicks(0, 15, 6), [0, 2, 4, 6, 8, 10, 12, 14]);
  t.deepEqual(integerTicks(-0.3, 15.3, 6), [0, 5, 10, 15]);
  t.deepEqual(integerTicks(0.9, 6.1, 6), [1, 2, 3, 4, 5, 6]);
  t.deepEqual(integerTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
});

test('wrapText wraps at the width and splits over-long words', (t) => {
  const { ctx } = newCanvas(10, 10);
  ctx.font = font(14);
  const lines = wrapText(ctx, 'one two three four five six seven eight nine ten', 80);
  t.true(lines.length >= 3);
  for (const l of lines) t.true(ctx.measureText(l).width <= 80);
  const split = wrapText(ctx, 'supercalifragilisticexpialidocious', 60);
  t.true(split.length >= 3);
  t.is(split.join(''), 'supercalifragilisticexpialidocious');
  t.deepEqual(wrapText(ctx, 'a\n\nb', 100), ['a', '', 'b']);
});

test('RgbImage round-trips through a canvas exactly', (t) => {
  const img = { width: 3, height: 2, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]) };
  const canvas = createCanvas(3, 2);
  canvas.getContext('2d').putImageData(toImageData(img), 0, 0);
  t.deepEqual(canvasToImage(canvas), img);
});

// A machine without system fonts (a bare CI container): hide /usr/share/fonts in a private mount
// namespace and render there. Needs root and unshare; skipped elsewhere.
const canHideFonts =
  process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/share/fonts') && spawnSync('unshare', ['-m', 'true']).status === 0;

(canHideFonts ? test : test.skip)('text renders with no system fonts installed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'convlab-fonts-'));
  try {
    const script = join(dir, 'render.mts');
    const canvasModule = createRequire(import.meta.url).resolve('@napi-rs/canvas');
    const src = fileURLToPath(new URL('../src/draw/', import.meta.url));
    await writeFile(
      script,
      `const { GlobalFonts } = await import(${JSON.stringify(pathToFileURL(canvasModule).href)});
const systemFamilies = GlobalFonts.families.length;
const { captionImage } = await import(${JSON.stringify(pathToFileURL(src + 'caption.ts').href)});
const out = captionImage({ width: 200, height: 20, data: new Uint8Array(200 * 20 * 3).fill(255) }, 'text without system fonts');
let dark = 0;
for (let i = 20 * 200 * 3; i < out.data.length; i += 3) if (out.data[i] < 128) dark++;
console.log(JSON.stringify({ systemFamilies, dark }));
`,
    );
    const cmd = `mount -t tmpfs none /usr/share/fonts && exec node --import tsx ${JSON.stringify(script)}`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', cmd], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const { systemFamilies, dark } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { systemFamilies: number; dark: number };
    t.is(systemFamilies, 0, 'no system fonts visible in the namespace');
    t.true(dark > 100, `${dark} dark caption pixels`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
