/** Demo section: caption the bundled photos with the shipped Flickr8k model (@convlab/caption owns the work). */
import { performance } from 'node:perf_hooks';
import { basename, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { captionImage, drawGrid, loadImage, saveImage, writeJsonAtomic } from '@convlab/core';
import { captionImages, DEFAULT_MODEL, SHIPPED_MODELS } from '@convlab/caption';
import type { DemoFigure, DemoSection } from './sections.js';

export const captioningSection: DemoSection = {
  id: 'captioning',
  title: 'Image captioning',
  async run(ctx) {
    const t0 = performance.now();
    const dir = join(ctx.root, 'assets/content');
    let images = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));
    if (ctx.quick) images = images.slice(0, 2);
    const withStrips = ctx.quick ? 1 : 3;
    const attentionDefault = DEFAULT_MODEL === 'show-attend-tell';
    const results = await captionImages({ images, beam: 3, attentionMaps: attentionDefault, strips: attentionDefault });
    // The soft-attention decoder (Show, Attend and Tell) shows where it looks for each word.
    const attended = attentionDefault ? results.slice(0, withStrips) : await captionImages({ images: images.slice(0, withStrips), beam: 3, model: 'show-attend-tell', attentionMaps: true, strips: true });
    const cells = [];
    for (const r of results) {
      const photo = await loadImage(r.path, { maxSide: 256 });
      cells.push({ image: captionImage(photo, r.caption, { maxWidth: 256 }), label: basename(r.path) });
    }
    const grid = drawGrid(cells, { columns: Math.min(4, cells.length), cellSize: 256, title: 'Captions (beam 3) from the shipped Flickr8k model' });
    const files = ['captioning/captions.png', 'captioning/captions.json'];
    await saveImage(grid, join(ctx.outDir, files[0]));
    await writeJsonAtomic(join(ctx.outDir, files[1]), results.map(({ path, caption, logprob }) => ({ image: basename(path), caption, logprob })));
    const figures: DemoFigure[] = [{ image: files[0], caption: 'bundled photos with their generated captions' }];
    for (const r of attended) {
      if (!r.strip) continue;
      const file = `captioning/attention-${basename(r.path).replace(/\.[^.]+$/, '')}.png`;
      await saveImage(r.strip, join(ctx.outDir, file));
      files.push(file);
      figures.push({ image: file, caption: `soft attention per word (Show, Attend and Tell model): ${basename(r.path)}` });
    }
    return {
      heading: 'Image captioning',
      text:
        (attentionDefault
          ? `Captions and per-word attention strips from the default shipped model, ${SHIPPED_MODELS[DEFAULT_MODEL].description} (offline nsfwjs trunk). `
          : `Captions from the default shipped model, ${SHIPPED_MODELS[DEFAULT_MODEL].description} (offline nsfwjs trunk); attention strips from ${SHIPPED_MODELS['show-attend-tell'].description}. `) +
        'See apps/captioning/README.md for the test-split metrics of both shipped models (and why they stay below the papers: the nsfwjs trunk was fine-tuned for a 5-class filter).',
      figures,
      table: { columns: ['image', 'caption', 'log-probability'], rows: results.map((r) => [basename(r.path), r.caption, r.logprob.toFixed(2)]) },
      seconds: (performance.now() - t0) / 1000,
      files,
    };
  },
};
