/**
 * Comparison sheet for apps/style-transfer/docs: a labelled grid of the style-compare outputs (content, style,
 * then one cell per configuration with its scores) and the markdown table of the same numbers.
 *   npx tsx --conditions=@convlab/source tools/experiments/style-sheet.ts [--in out/style-exp] [--pair tubingen-starry_night]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadImage, resizeImage, saveImage } from '@convlab/core';
import { drawGrid } from '@convlab/core';

const { values } = parseArgs({
  options: {
    in: { type: 'string', default: 'out/style-exp' },
    pair: { type: 'string', default: 'tubingen-starry_night' },
    out: { type: 'string', default: 'apps/style-transfer/docs/comparison' },
    configs: { type: 'string' },
  },
});
const [c, s] = values.pair!.split('-');
const rows = (await readFile(`${values.in}/results.jsonl`, 'utf8'))
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((r) => r.pair === `${c}:${s}` && !r.error);
// Last result per config wins (re-runs replace earlier ones).
const byConfig = new Map<string, (typeof rows)[number]>();
for (const r of rows) byConfig.set(r.config, r);
const order = values.configs ? values.configs.split(',') : [...byConfig.keys()];
const content = await resizeImage(await loadImage(`assets/content/${c}.jpg`), { maxSide: 256 });
const style = await resizeImage(await loadImage(`assets/style/${s}.jpg`), { maxSide: 256 });
const cells = [
  { image: content, label: 'content', sublabel: c },
  { image: style, label: 'style', sublabel: s },
];
for (const name of order) {
  const r = byConfig.get(name);
  if (!r) continue;
  cells.push({
    image: await loadImage(`${values.in}/${c}-${s}/${name}.png`),
    label: name,
    sublabel: `style ${r.style_inception_v3.toFixed(4)}/${r.style_mobilenet_v2.toFixed(3)} content ${r.content_inception_v3.toFixed(2)}`,
  });
}
await saveImage(drawGrid(cells, { columns: 4, cellSize: 256, title: `Offline style transfer at 256 px: ${c} x ${s}` }), `${values.out}.png`);
const header = '| config | style dist. (InceptionV3 ref) | style dist. (MobileNetV2 ref) | content dist. (InceptionV3 mixed3) | content dist. (MobileNetV2 block_6) | iterations | s/iter | time (s) |\n|---|---|---|---|---|---|---|---|';
const lines = order
  .filter((n) => byConfig.has(n))
  .map((n) => {
    const r = byConfig.get(n)!;
    return `| ${n} | ${r.style_inception_v3.toFixed(4)} | ${r.style_mobilenet_v2.toFixed(4)} | ${r.content_inception_v3.toFixed(3)} | ${r.content_mobilenet_v2.toFixed(3)} | ${r.iterations} | ${r.secondsPerIteration.toFixed(2)} | ${r.seconds.toFixed(0)} |`;
  });
const first = byConfig.values().next().value;
const baseline = first
  ? `\nThe content image itself scores style ${first.style_inception_v3_of_content.toFixed(4)} (InceptionV3 ref) / ${first.style_mobilenet_v2_of_content.toFixed(4)} (MobileNetV2 ref).\n`
  : '';
await writeFile(`${values.out}-table.md`, [header, ...lines].join('\n') + '\n' + baseline);
console.log([header, ...lines].join('\n') + baseline);
