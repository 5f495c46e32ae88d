/**
 * The offline-backbone comparison behind the style-transfer defaults (apps/style-transfer/docs/comparison.md).
 * For each configuration and content/style pair: stylize at a small size, save the image, and score it with
 *   style distance  = mean over layers of ||G(out) - G(style)||^2 / ||G(style)||^2 on a fixed reference
 *                     network (both offline trunks, at their default style layers; reported separately because
 *                     each favours configurations optimised on itself),
 *   content distance = ||F(out) - F(content)||^2 / ||F(content)||^2 at the reference content layer.
 * Usage: npx tsx --conditions=@convlab/source tools/experiments/style-compare.ts [--size 256] [--pairs a:b,...]
 *        [--configs name,...] [--out out/style-exp]
 * Results append to <out>/results.jsonl; images go to <out>/<pair>/<config>.png.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { imageToTensor, initEngine, loadImage, resizeImage, saveImage, tf, type RgbImage, type Tensor } from '@convlab/core';
import { BACKBONE_DEFAULTS, gramMatrix, loadFeatureNet, readStyleRun, stylize, type FeatureNet, type StylizeOptions } from '@convlab/style';

type Config = Omit<StylizeOptions, 'content' | 'style' | 'size'>;
export const CONFIGS: Record<string, Config> = {
  // (a) trunks and per-layer normalisation; the DESIGN.md baseline is inc-adam
  'inc-adam': { backbone: 'inception_v3', optimizer: 'adam', iterations: 200, lr: 0.03 },
  'inc-lbfgs': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100 },
  'mnv2-lbfgs': { backbone: 'mobilenet_v2', optimizer: 'lbfgs', iterations: 100 },
  'inc-lbfgs-gatysnorm': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, styleNorm: 'gatys', styleWeight: 1e3 },
  'inc-lbfgs-sw1000': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, styleWeight: 1000 },
  'inc-lbfgs-sw10': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, styleWeight: 10 },
  'inc-lbfgs-deep': {
    backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100,
    styleLayers: ['activation_1', 'activation_3', 'activation_5', 'mixed0', 'mixed2', 'mixed4', 'mixed7'],
  },
  // (b) multi-scale coarse-to-fine
  'inc-lbfgs-ms': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, stageIterations: 100, multiscale: true },
  // (c) softmax features
  'inc-softmax-t4': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, softmaxTemperature: 4 },
  'inc-softmax-t16': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, softmaxTemperature: 16 },
  // (d) random-weight multi-scale networks
  'random-ms': { backbone: 'random_multiscale', optimizer: 'lbfgs', iterations: 100 },
  'vgg19-random': { backbone: 'vgg19', weights: 'random', optimizer: 'lbfgs', iterations: 100 },
  // (e) sliced Wasserstein style loss
  'inc-swd': { backbone: 'inception_v3', optimizer: 'lbfgs', iterations: 100, styleLoss: 'sw' },
  'mnv2-swd': { backbone: 'mobilenet_v2', optimizer: 'lbfgs', iterations: 100, styleLoss: 'sw' },
};

const REFS = ['inception_v3', 'mobilenet_v2'] as const;

function relGramDistance(a: Record<string, Tensor>, b: Record<string, Tensor>, layers: string[]): number {
  return tf.tidy(() => {
    let total = 0;
    for (const l of layers) {
      const ga = gramMatrix(a[l], { normalize: 'hw' });
      const gb = gramMatrix(b[l], { normalize: 'hw' });
      total += tf.div(tf.sum(tf.squaredDifference(ga, gb)), tf.sum(tf.square(gb))).dataSync()[0];
    }
    return total / layers.length;
  });
}

function relFeatureDistance(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.div(tf.sum(tf.squaredDifference(a, b)), tf.sum(tf.square(b))).dataSync()[0]);
}

export async function score(refs: Map<string, FeatureNet>, out: RgbImage, content: RgbImage, style: RgbImage): Promise<Record<string, number>> {
  const s: Record<string, number> = {};
  const styleSized = await resizeImage(style, { maxSide: Math.max(out.width, out.height) });
  for (const [name, net] of refs) {
    const d = BACKBONE_DEFAULTS[name as 'inception_v3'];
    const layers = [...new Set([...d.styleLayers, ...d.contentLayers])];
    const feats = (img: RgbImage) => tf.tidy(() => net.forward(net.preprocess(tf.expandDims(imageToTensor(img), 0)), layers, 'avg'));
    const fo = feats(out);
    const fc = feats(content);
    const fs = feats(styleSized);
    s[`style_${name}`] = relGramDistance(fo, fs, d.styleLayers);
    s[`content_${name}`] = relFeatureDistance(fo[d.contentLayers[0]], fc[d.contentLayers[0]]);
    s[`style_${name}_of_content`] = relGramDistance(fc, fs, d.styleLayers);
    for (const f of [fo, fc, fs]) for (const t of Object.values(f)) t.dispose();
  }
  return s;
}

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    pairs: { type: 'string', default: 'tubingen:starry_night,horses:great_wave' },
    configs: { type: 'string', default: Object.keys(CONFIGS).join(',') },
    out: { type: 'string', default: 'out/style-exp' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const engine = await initEngine({ backend: values.backend });
const refs = new Map<string, FeatureNet>();
for (const r of REFS) refs.set(r, await loadFeatureNet(r, 'default', 0));
await mkdir(values.out!, { recursive: true });
for (const configName of values.configs!.split(',')) {
  const config = CONFIGS[configName];
  if (!config) throw new Error(`unknown config ${configName}`);
  for (const pair of values.pairs!.split(',')) {
    const [c, s] = pair.split(':');
    const contentPath = `assets/content/${c}.jpg`;
    const stylePath = `assets/style/${s}.jpg`;
    const t0 = performance.now();
    let result;
    try {
      result = await stylize({ ...config, content: contentPath, style: [stylePath], size: Number(values.size), backend: values.backend as StylizeOptions['backend'], seed: 0 });
    } catch (err) {
      console.log(configName, pair, 'FAILED', (err as Error).message);
      await appendFile(`${values.out}/results.jsonl`, JSON.stringify({ config: configName, pair, error: (err as Error).message }) + '\n');
      continue;
    }
    const seconds = (performance.now() - t0) / 1000;
    await mkdir(`${values.out}/${c}-${s}`, { recursive: true });
    await saveImage(result.image, `${values.out}/${c}-${s}/${configName}.png`);
    const metrics = await score(refs, result.image, result.content, await loadImage(stylePath));
    const run = readStyleRun(result.record);
    const row = { config: configName, pair, size: Number(values.size), backend: engine.backend, seconds, secondsPerIteration: run.secondsPerIteration, iterations: run.iterationsDone, finalLoss: run.stageLosses.at(-1)!.at(-1), ...metrics };
    console.log(JSON.stringify(row));
    await appendFile(`${values.out}/results.jsonl`, JSON.stringify(row) + '\n');
  }
}
