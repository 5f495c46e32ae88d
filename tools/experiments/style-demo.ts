/**
 * The call `npm start` makes for style transfer, timed: stylize the bundled Tübingen photo with The Starry Night
 * and write out/style-demo/{result.png, index.html, record.json}.
 *   npx tsx --conditions=@convlab/source tools/experiments/style-demo.ts
 */
import { saveImage, writeJsonAtomic } from '@convlab/core';
import { readStyleRun, stylize, writeStyleReport } from '@convlab/style';

const t0 = performance.now();
const result = await stylize(
  { content: 'assets/content/tubingen.jpg', style: ['assets/style/starry_night.jpg'], size: 256, iterations: 80 },
  (p) => {
    if (p.done % 20 === 0) console.log(`${p.done}/${p.total} loss ${p.losses.total.toFixed(3)} ${p.secondsPerIteration.toFixed(2)} s/iter ETA ${p.etaSeconds.toFixed(0)} s`);
  },
  undefined,
  { onEngine: (e) => console.log(e.summary) },
);
await saveImage(result.image, 'out/style-demo/result.png');
await writeStyleReport(result, 'out/style-demo/index.html');
await writeJsonAtomic('out/style-demo/record.json', result.record);
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s (backend ${readStyleRun(result.record).backend.name})`);
