/** Demo section: the offline backbones load, run at their native sizes, and say what they are. */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { tf, loadImage, imageToTensor } from '@convlab/core';
import { loadModel } from '@convlab/models';
import type { DemoContext, DemoSection, DemoSectionResult } from './sections.js';

async function timeForward(name: 'mobilenet_v2' | 'inception_v3', imagePath: string, repeats: number) {
  const t0 = performance.now();
  const net = await loadModel(name);
  const loadMs = performance.now() - t0;
  const [h, w] = net.inputSize;
  const image = await loadImage(imagePath, { size: { width: w, height: h } });
  const last = net.layers[net.layers.length - 1].name;
  const run = () =>
    tf.tidy(() => {
      const x = net.preprocess(imageToTensor(image));
      return Object.values(net.forward(x, { outputs: [last] }))[0];
    });
  const warm = run(); // warm-up: first calls compile kernels and allocate
  await warm.data();
  warm.dispose();
  const t1 = performance.now();
  for (let i = 0; i < repeats; i++) {
    const y = run();
    await y.data();
    y.dispose();
  }
  const forwardMs = (performance.now() - t1) / repeats;
  const row = [name, `${w}x${h}`, net.layers.length, Math.round(loadMs), forwardMs.toFixed(0), net.weights.description];
  net.dispose();
  return row;
}

export const modelsSection: DemoSection = {
  id: 'models',
  title: 'Offline backbones',
  async run(ctx: DemoContext): Promise<DemoSectionResult> {
    const t0 = performance.now();
    const photo = join(ctx.root, 'assets/content/dog.jpg');
    const rows = [];
    for (const name of ['mobilenet_v2', 'inception_v3'] as const) {
      if (ctx.quick && name === 'inception_v3') continue;
      ctx.log(`models: loading ${name}`);
      rows.push(await timeForward(name, photo, ctx.quick ? 1 : 3));
    }
    return {
      heading: 'Offline backbones',
      text: 'The pretrained trunks bundled offline (weights from the nsfwjs npm package), loaded through the model registry and run with convlab\'s differentiable graph executor.',
      figures: [],
      table: { columns: ['model', 'input', 'layers', 'load ms', 'forward ms/image', 'weights'], rows },
      seconds: (performance.now() - t0) / 1000,
      files: [],
    };
  },
};
