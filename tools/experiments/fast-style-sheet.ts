/**
 * The fast-style figures of apps/style-transfer/README.md, from the bundled networks (packages/style/fast-nets):
 *
 * 1. docs/fast-styles.jpg: each bundled photo (rows) through each bundled network (columns), at --side px on the
 *    longer side, labelled with the network's milliseconds for that image.
 * 2. docs/fast-clip.jpg: a 6-frame "clip" (a window panning across tubingen.jpg, written as frames) stylized by
 *    `convlab-style batch --net` (runBatchStylize, the video mode), frames in order as an image strip.
 *
 *   npx tsx --conditions=@convlab/source tools/experiments/fast-style-sheet.ts [--side 256] [--backend native]
 *     [--nets the_scream,starry_night,great_wave] [--out apps/style-transfer/docs]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { drawGrid, initEngine, loadImage, resizeImage, saveImage, type GridCell, type RgbImage } from '@convlab/core';
import { bundledFastNets, loadTransformNet, resolveFastNet, runBatchStylize, stylizeWithNet } from '@convlab/style';

const { values } = parseArgs({
  options: {
    side: { type: 'string', default: '256' },
    backend: { type: 'string', default: 'native' },
    nets: { type: 'string' },
    out: { type: 'string', default: 'apps/style-transfer/docs' },
    photos: { type: 'string', default: 'tubingen,dog,horses,giraffe' },
  },
});
const side = Number(values.side);
const nets = values.nets ? values.nets.split(',') : bundledFastNets();
if (nets.length === 0) throw new Error('no bundled fast-style networks (packages/style/fast-nets)');
const engine = await initEngine({ backend: values.backend, log: false });
console.log(`backend ${engine.backend} (${engine.detail})`);

// 1. photos x networks
const photos = values.photos.split(',');
const cells: GridCell[] = [];
for (const name of nets) {
  const styleFile = join('assets/style', `${name}.jpg`);
  cells.push({ image: await loadImage(styleFile, { maxSide: side }), label: name, sublabel: 'painting' });
}
const loaded = await Promise.all(nets.map(async (n) => (await loadTransformNet(resolveFastNet(n))).net));
const rows: string[] = [];
for (const p of photos) {
  const photo = await loadImage(join('assets/content', `${p}.jpg`), { maxSide: side });
  for (const [i, net] of loaded.entries()) {
    await stylizeWithNet(net, photo); // warm-up of this size
    const t0 = performance.now();
    const out = await stylizeWithNet(net, photo);
    const ms = performance.now() - t0;
    cells.push({ image: out, label: `${p} x ${nets[i]}`, sublabel: `${photo.width}x${photo.height}, ${ms.toFixed(0)} ms (${engine.backend})` });
    rows.push(`${p} ${nets[i]} ${photo.width}x${photo.height} ${ms.toFixed(0)} ms`);
  }
}
await saveImage(drawGrid(cells, { columns: nets.length, cellSize: side }), join(values.out, 'fast-styles.jpg'));
console.log(rows.join('\n'));

// 2. a panning clip through the video mode (frames in a folder -> batch --net)
const tmp = await mkdtemp(join(tmpdir(), 'convlab-clip-'));
try {
  const full = await loadImage('assets/content/tubingen.jpg', { maxSide: 512 });
  const w = Math.round(full.height * 0.9);
  const frames = 6;
  const sharp = (await import('sharp')).default;
  const framesDir = join(tmp, 'frames');
  await mkdir(framesDir);
  for (let k = 0; k < frames; k++) {
    const left = Math.round(((full.width - w) * k) / (frames - 1));
    const buf = await sharp(Buffer.from(full.data), { raw: { width: full.width, height: full.height, channels: 3 } })
      .extract({ left, top: 0, width: w, height: full.height })
      .resize({ width: 224 })
      .png()
      .toBuffer();
    await sharp(buf).toFile(join(framesDir, `pan-${k + 1}.png`));
  }
  const r = await runBatchStylize({ content: framesDir, out: join(tmp, 'out'), net: nets[0], backend: values.backend });
  const strip: RgbImage[] = [];
  for (const f of r.files) strip.push(await loadImage(join(tmp, 'out', f)));
  const clipCells: GridCell[] = strip.map((image, i) => ({ image, label: `frame ${i + 1}` }));
  const first = await resizeImage(await loadImage(join(framesDir, 'pan-1.png')), { maxSide: 224 });
  clipCells.unshift({ image: first, label: 'frame 1 (input)' });
  await saveImage(drawGrid(clipCells, { columns: clipCells.length, cellSize: 160 }), join(values.out, 'fast-clip.jpg'));
  console.log(`clip: ${r.frames} frames through ${nets[0]} in ${r.seconds.toFixed(1)} s (convlab-style batch --net ${nets[0]} --content FRAMES --out OUT)`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
for (const n of loaded) n.dispose();
