/**
 * Gallery sheet for the style-transfer README: reads the runs written by apps/style-transfer/docs/gallery.sh
 * (image + run record each) and draws content | style | result rows, plus the markdown table of their settings.
 *   npx tsx --conditions=@convlab/source tools/experiments/style-gallery.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import { drawGrid, loadImage, saveImage, type GridCell } from '@convlab/core';

const dir = 'apps/style-transfer/docs/gallery';
const names = ['tubingen-starry_night', 'horses-great_wave', 'giraffe-composition_vii'];
const cells: GridCell[] = [];
const rows: string[] = ['| result | backbone | size | iterations | backend | time |', '|---|---|---|---|---|---|'];
for (const name of names) {
  const r = JSON.parse(await readFile(`${dir}/${name}.json`, 'utf8'));
  const p = r.parameters;
  const out = await loadImage(`${dir}/${name}.jpg`);
  cells.push({ image: await loadImage(p.content, { maxSide: 256 }), label: 'content', sublabel: p.content.split('/').pop() });
  cells.push({ image: await loadImage(p.style[0], { maxSide: 256 }), label: 'style', sublabel: p.style[0].split('/').pop() });
  cells.push({ image: out, label: 'result', sublabel: `${r.model.name}, ${out.width}x${out.height}, ${r.extra.iterationsDone} it, ${r.totalSeconds.toFixed(0)} s (${r.backend.name})` });
  rows.push(`| [${name}](docs/gallery/${name}.jpg) | ${r.model.name} | ${out.width}x${out.height} | ${r.extra.iterationsDone} (L-BFGS) | ${r.backend.name} | ${r.totalSeconds.toFixed(0)} s (${r.extra.secondsPerIteration.toFixed(2)} s/iter) |`);
}
await saveImage(drawGrid(cells, { columns: 3, cellSize: 256 }), 'apps/style-transfer/docs/gallery.png');
await writeFile(`${dir}/../gallery-table.md`, rows.join('\n') + '\n');
console.log(rows.join('\n'));
