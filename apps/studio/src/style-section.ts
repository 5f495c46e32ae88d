/** Demo section: Gatys style transfer of a bundled photo with a bundled painting (@convlab/style owns the work). */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { createProgress, saveImage } from '@convlab/core';
import { stylize, styleReportSections, writeLossPlot } from '@convlab/style';
import type { DemoSection } from './sections.js';

export const styleSection: DemoSection = {
  id: 'style',
  title: 'Neural style transfer',
  async run(ctx) {
    const t0 = performance.now();
    // 384 px, 120 L-BFGS iterations: about a minute on native with 2 idle cores, about 3 on wasm.
    const size = ctx.quick ? 128 : 384; // quick: the smallest size whose style image stays above InceptionV3's 75 px minimum
    const iterations = ctx.quick ? 5 : 120;
    const progress = createProgress({ total: iterations, label: 'style transfer', unit: 'it' });
    const result = await stylize(
      { content: join(ctx.root, 'assets/content/tubingen.jpg'), style: [join(ctx.root, 'assets/style/starry_night.jpg')], size, iterations, seed: 0 },
      (p) => progress.update(p.done, { loss: p.losses.total.toExponential(2) }),
      ctx.signal,
    );
    progress.stop();
    const dir = join(ctx.outDir, 'style');
    const files = ['style/tubingen-starry_night.jpg', 'style/tubingen-starry_night.json', 'style/tubingen-starry_night-loss.png'];
    await saveImage(result.image, join(ctx.outDir, files[0]), { quality: 92 });
    await result.record.save(join(ctx.outDir, files[1]));
    await writeLossPlot(result.record, join(ctx.outDir, files[2]));
    const [main] = styleReportSections(result);
    ctx.log(`style: wrote ${dir}`);
    return {
      heading: 'Neural style transfer',
      text: `${main.text} Defaults of convlab-style (InceptionV3 trunk, L-BFGS); tubingen.jpg in the style of The Starry Night.`,
      figures: [...(main.figures ?? []), { image: files[2], caption: 'losses per iteration' }],
      seconds: (performance.now() - t0) / 1000,
      files,
    };
  },
};
