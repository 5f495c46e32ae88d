import { saveImage } from '@convlab/core';
import { readStyleRun, stylize } from '@convlab/style';
const [backbone = 'mobilenet_v2', size = '128', iterations = '10', optimizer = 'lbfgs', extra = '{}'] = process.argv.slice(2);
const t = performance.now();
const r = await stylize(
  { content: 'assets/content/tubingen.jpg', style: ['assets/style/starry_night.jpg'], backbone: backbone as 'mobilenet_v2', size: +size, iterations: +iterations, optimizer: optimizer as 'lbfgs', backend: process.env.B ?? 'wasm', ...JSON.parse(extra) },
  (p) => { if (p.done % 5 === 0 || p.done === 1) console.log(p.done, JSON.stringify(p.losses), p.secondsPerIteration.toFixed(2)); },
);
await saveImage(r.image, `tmp/smoke-${backbone}.png`);
console.log('done', ((performance.now() - t) / 1000).toFixed(1), 's', readStyleRun(r.record).stages.map((s) => s.iterations));
