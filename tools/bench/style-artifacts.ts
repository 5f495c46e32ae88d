/**
 * The grid texture and the border frame of Gatys style transfer before and after the fix (issue 16): each
 * content:style pair is stylized twice with the same seed and settings, once with the plain objective
 * (--pad 0 --jitter 0, the old behaviour) and once with the fix (--pad/--jitter below, default the library's
 * defaults for the optimiser), and measured with @convlab/style's artifacts.ts: the Nyquist share of the
 * luminance power (the photo's, before, after) and the frame score frame_1..4 (1 = the border is changed as
 * much as the band 8-24 px inside it). Prints a markdown table; writes, under --out, each result
 * (PAIR-before.png, PAIR-after.png), a side-by-side sheet per pair with 4x nearest-neighbour zooms of two
 * corners (PAIR-sheet.png), results.json, and with --strip one small JPEG of all pairs for the README.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/style-artifacts.ts --out out/style-artifacts \
 *     [--pairs tubingen:the_scream,tubingen:starry_night,dog:great_wave] [--size 384] [--iterations 150] \
 *     [--optimizer adam] [--lr 0.03] [--pad 16] [--jitter 1] [--jitter-every 20 (lbfgs)] [--backend wasm] [--strip apps/style-transfer/docs/cleaner-output.jpg]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cropImage, drawGrid, initEngine, resizeImage, saveImage, writeFileAtomic, writeJsonAtomic, type RgbImage } from '@convlab/core';
import { DEFAULT_JITTER, DEFAULT_PAD, loadFeatureNet, readStyleRun, stylize, type StylizeOptions } from '@convlab/style';
import { artifactReport, type ArtifactReport } from '../../packages/style/src/artifacts.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    pairs: { type: 'string', default: 'tubingen:the_scream,tubingen:starry_night,dog:great_wave' },
    size: { type: 'string', default: '384' },
    iterations: { type: 'string', default: '150' },
    optimizer: { type: 'string', default: 'adam' },
    lr: { type: 'string' },
    pad: { type: 'string' },
    jitter: { type: 'string' },
    'jitter-every': { type: 'string' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: process.env.CONVLAB_BACKEND ?? 'wasm' },
    strip: { type: 'string' },
  },
});
if (!values.out) {
  console.error('error: --out DIR is required (the images and results.json go there)');
  process.exit(1);
}
const out = values.out;
const optimizer = values.optimizer as 'adam' | 'lbfgs';
const fix = {
  pad: values.pad !== undefined ? Number(values.pad) : DEFAULT_PAD,
  jitter: values.jitter !== undefined ? Number(values.jitter) : DEFAULT_JITTER[optimizer],
  ...(values['jitter-every'] !== undefined ? { jitterEvery: Number(values['jitter-every']) } : {}),
};
const size = Number(values.size);
const iterations = Number(values.iterations);

interface Measured extends ArtifactReport {
  seconds: number;
  secondsPerIteration: number;
}
interface Row {
  pair: string;
  width: number;
  height: number;
  before: Measured;
  after: Measured;
}

const engine = await initEngine({ backend: values.backend, log: false });
const net = await loadFeatureNet('inception_v3', 'default', Number(values.seed));
await mkdir(out, { recursive: true });
console.log(`backend ${engine.backend}; ${size} px, ${iterations} ${optimizer} iterations; before: pad 0, jitter 0; after: pad ${fix.pad}, jitter ${fix.jitter}${fix.jitterEvery ? ` every ${fix.jitterEvery}` : ''}`);
const table = [
  `${size} px, ${iterations} ${optimizer} iterations, seed ${values.seed}, ${engine.backend}; before: --pad 0 --jitter 0; after: --pad ${fix.pad} --jitter ${fix.jitter}`,
  '',
  '| pair | size | Nyquist share: photo | before | after | frame_1..4 before | frame_1..4 after | s before | s after |',
  '|---|---|---|---|---|---|---|---|---|',
];
console.log(table.slice(2).join('\n'));

/** 4x nearest-neighbour zoom of a w x h corner crop ('tl' top-left, 'br' bottom-right). */
async function zoom(img: RgbImage, corner: 'tl' | 'br', w = 48, h = 36): Promise<RgbImage> {
  const crop = corner === 'tl' ? cropImage(img, 0, 0, w, h) : cropImage(img, img.width - w, img.height - h, w, h);
  return resizeImage(crop, { width: 4 * w, height: 4 * h }, 'nearest');
}

const rows: Row[] = [];
const stripCells: { image: RgbImage; label?: string; sublabel?: string }[] = [];
for (const pair of values.pairs!.split(',')) {
  const [c, s] = pair.split(':');
  const base: StylizeOptions = {
    content: `assets/content/${c}.jpg`,
    style: [`assets/style/${s}.jpg`],
    size,
    iterations,
    optimizer,
    seed: Number(values.seed),
    backend: engine.backend as StylizeOptions['backend'],
    ...(values.lr !== undefined ? { lr: Number(values.lr) } : {}),
  };
  const run = async (o: { pad: number; jitter: number; jitterEvery?: number }) => {
    const t0 = performance.now();
    const r = await stylize({ ...base, ...o }, undefined, undefined, { net });
    const seconds = (performance.now() - t0) / 1000;
    const m: Measured = { ...artifactReport(r.image, r.content), seconds, secondsPerIteration: readStyleRun(r.record).secondsPerIteration };
    return { image: r.image, m };
  };
  const before = await run({ pad: 0, jitter: 0 });
  const after = await run(fix);
  const name = `${c}-${s}`;
  await saveImage(before.image, join(out, `${name}-before.png`));
  await saveImage(after.image, join(out, `${name}-after.png`));
  const row: Row = { pair: `${c} x ${s}`, width: before.image.width, height: before.image.height, before: before.m, after: after.m };
  rows.push(row);
  const f = (v: number[]) => v.map((x) => x.toFixed(2)).join(' ');
  table.push(
    `| ${row.pair} | ${row.width}x${row.height} | ${row.before.contentNyquist.toExponential(1)} | ${row.before.nyquist.toExponential(1)} | ${row.after.nyquist.toExponential(1)} | ${f(row.before.frame)} | ${f(row.after.frame)} | ${row.before.seconds.toFixed(0)} | ${row.after.seconds.toFixed(0)} |`,
  );
  console.log(table.at(-1));
  const cells = [
    { image: before.image, label: 'before (pad 0, jitter 0)', sublabel: `Nyquist ${before.m.nyquist.toExponential(1)}, frame_1 ${before.m.frame[0].toFixed(2)}` },
    { image: after.image, label: `after (pad ${fix.pad}, jitter ${fix.jitter})`, sublabel: `Nyquist ${after.m.nyquist.toExponential(1)}, frame_1 ${after.m.frame[0].toFixed(2)}` },
    { image: await zoom(before.image, 'tl'), label: 'before, top-left 4x' },
    { image: await zoom(after.image, 'tl'), label: 'after, top-left 4x' },
    { image: await zoom(before.image, 'br'), label: 'before, bottom-right 4x' },
    { image: await zoom(after.image, 'br'), label: 'after, bottom-right 4x' },
  ];
  await saveImage(drawGrid(cells, { columns: 6, title: `${name}: ${size} px, ${iterations} ${optimizer} iterations, ${engine.backend}` }), join(out, `${name}-sheet.png`));
  stripCells.push(
    { image: await resizeImage(before.image, { maxSide: 192 }), label: `${name} before` },
    { image: await resizeImage(after.image, { maxSide: 192 }), label: 'after' },
    { image: await zoom(before.image, 'br', 40, 30), label: 'before, corner 4x' },
    { image: await zoom(after.image, 'br', 40, 30), label: 'after, corner 4x' },
  );
  await writeJsonAtomic(join(out, 'results.json'), { backend: engine.backend, size, iterations, optimizer, seed: Number(values.seed), fix, rows });
  await writeFileAtomic(join(out, 'table.md'), `${table.join('\n')}\n`);
}
if (values.strip) {
  await saveImage(drawGrid(stripCells, { columns: 4, cellSize: 192, fontSize: 11 }), values.strip, { quality: 85 });
  console.log(`strip: ${values.strip}`);
}
net.dispose();
