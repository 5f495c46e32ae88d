/**
 * Training a transformation network (./johnson.ts) for one style on a folder of content photos, with
 * convlab's own Gatys terms (./gatys.ts, ./style-losses.ts) on a loss network (mobilenet_v2 by default):
 *
 *   L(W) = 1/n sum_i [ lambda_c L_content(f_W(x_i), x_i) + lambda_s sum_l w_l E_l(f_W(x_i), a) + lambda_TV TV(f_W(x_i)) ]
 *
 * over random square crops x_i of the photos (n per batch), minimised by Adam (Kingma & Ba 2015: m = b1 m +
 * (1 - b1) g, v = b2 v + (1 - b2) g^2, W -= lr m_hat / (sqrt(v_hat) + eps), written out here so its state is
 * saved with the checkpoint). The photo order and every crop are functions of (seed, step), so a resumed run
 * draws exactly the batches an uninterrupted one would. Progress per step, a checkpoint (float32 weights +
 * Adam state) every N steps and on stop, the network as float16 at the end, a run record and a loss plot.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  ConvlabError,
  createProgress,
  createRunRecord,
  cropImage,
  imageToTensor,
  imagesToBatch,
  initEngine,
  linePlot,
  listImageFiles,
  loadImage,
  resizeImage,
  saveImage,
  tf,
  type EngineInfo,
  type RgbImage,
  type RunRecord,
  type Scalar,
  type Tensor,
  type Tensor4D,
  type Variable,
} from '@convlab/core';
import { loadCheckpoint, saveCheckpoint, saveTransformNet } from './fast-io.js';
import { parseFastTrainOptions, type FastTrainOptions, type ResolvedFastTrainOptions } from './fast-options.js';
import type { FeatureNet } from './features.js';
import { contentLoss, featureVariance, totalVariationLoss, type StyleTerm } from './gatys.js';
import { createTransformNet, seededRandom, stylizeWithNet, type TransformNet } from './johnson.js';
import { STYLE_LOSSES } from './style-losses.js';
import { loadFeatureNet } from './stylize.js';

export const FAST_TRAIN_TOOL = 'convlab-style train-fast';

export interface FastTrainLosses {
  total: number;
  content: number;
  style: number;
  tv: number;
}

export interface FastTrainProgress {
  step: number;
  steps: number;
  losses: FastTrainLosses;
  secondsPerStep: number;
  etaSeconds: number;
}

export interface FastTrainHooks {
  onProgress?: (p: FastTrainProgress) => void;
  onEngine?: (engine: EngineInfo) => void;
  /** Called after each checkpoint is written. */
  onCheckpoint?: (step: number, dir: string) => void;
  /** A preloaded loss network (tests reuse one). */
  lossNet?: FeatureNet;
  /** Terminal progress bar (default off; the CLI turns it on). */
  progressBar?: boolean;
}

export interface FastTrainResult {
  net: TransformNet;
  record: RunRecord;
  /** The step reached (counting steps before --resume). */
  step: number;
  /** Steps run in this call. */
  stepsRun: number;
  aborted: boolean;
  losses: FastTrainLosses[];
  files: { net: string; checkpoint: string; record: string; plot: string; preview: string };
}

/** The files of a training folder. */
export function fastTrainPaths(out: string) {
  return { checkpoint: join(out, 'checkpoint'), record: join(out, 'run.json'), plot: join(out, 'loss.png'), preview: join(out, 'preview.png') };
}

/** Adam over the network's parameters, its moments kept in order of the parameter list. */
class Adam {
  t = 0;
  m: Tensor[];
  v: Tensor[];
  constructor(
    private readonly params: Variable[],
    private readonly lr: number,
    state?: { iterations: number; moments: Float32Array[] },
    private readonly b1 = 0.9,
    private readonly b2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    if (state && state.moments.length === 2 * params.length && state.moments.every((m, i) => m.length === params[i % params.length].size)) {
      this.t = state.iterations;
      this.m = params.map((p, i) => tf.tensor(state.moments[i], p.shape));
      this.v = params.map((p, i) => tf.tensor(state.moments[params.length + i], p.shape));
    } else {
      this.m = params.map((p) => tf.zerosLike(p));
      this.v = params.map((p) => tf.zerosLike(p));
    }
  }
  step(grads: Tensor[]): void {
    this.t += 1;
    const c1 = 1 - this.b1 ** this.t;
    const c2 = 1 - this.b2 ** this.t;
    for (let i = 0; i < this.params.length; i++) {
      const [m, v] = tf.tidy(() => [tf.add(tf.mul(this.m[i], this.b1), tf.mul(grads[i], 1 - this.b1)), tf.add(tf.mul(this.v[i], this.b2), tf.mul(tf.square(grads[i]), 1 - this.b2))]);
      this.m[i].dispose();
      this.v[i].dispose();
      this.m[i] = m;
      this.v[i] = v;
      tf.tidy(() => this.params[i].assign(tf.sub(this.params[i], tf.mul(tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps)), this.lr))));
    }
  }
  async state(): Promise<{ iterations: number; moments: Float32Array[] }> {
    const moments: Float32Array[] = [];
    for (const t of [...this.m, ...this.v]) moments.push((await t.data()) as Float32Array);
    return { iterations: this.t, moments };
  }
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** The photos of the training set, checked to be there. */
async function trainingImages(dir: string): Promise<string[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConvlabError(`--content-dir ${dir}: folder not found`, { hint: 'give a folder of photos (e.g. Flickr8k or COCO images)' });
  const files = await listImageFiles(dir, true);
  if (files.length === 0) throw new ConvlabError(`--content-dir ${dir}: no images found`, { hint: 'the folder (searched recursively) needs .jpg/.png/.webp photos' });
  return files;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
function permutation(n: number, seed: number): number[] {
  const rand = seededRandom(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * The crops of one step: photo k of the whole run is photo perm_epoch[k mod N] (a fresh permutation per
 * epoch), scaled so its shorter side is between `size` and 1.5 `size` and cropped at a random place, with a
 * random horizontal flip. Everything depends on (seed, step) only.
 */
/** The loss network's shift (dy, dx) at a step: a function of (seed, step), so a resumed run draws the same. */
function jitterAt(o: ResolvedFastTrainOptions, step: number): [number, number] {
  if (o.jitter === 0) return [0, 0];
  const rand = seededRandom((o.seed * 2_000_003 + step * 104_729 + 17) >>> 0);
  return [Math.floor(rand() * (o.jitter + 1)), Math.floor(rand() * (o.jitter + 1))];
}

async function batchAt(files: string[], o: ResolvedFastTrainOptions, step: number, perms: Map<number, number[]>): Promise<RgbImage[]> {
  const rand = seededRandom((o.seed * 1_000_003 + step * 7919) >>> 0);
  const out: RgbImage[] = [];
  for (let i = 0; i < o.batch; i++) {
    const k = (step - 1) * o.batch + i;
    const epoch = Math.floor(k / files.length);
    if (!perms.has(epoch)) perms.set(epoch, permutation(files.length, (o.seed + 7 * epoch + 1) >>> 0));
    const file = files[perms.get(epoch)![k % files.length]];
    let img: RgbImage;
    try {
      img = await loadImage(file);
    } catch (err) {
      if (err instanceof ConvlabError) throw new ConvlabError(`--content-dir: ${err.message}`, { hint: `remove or fix ${file}`, cause: err });
      throw err;
    }
    const short = Math.min(img.width, img.height);
    const target = o.size * (1 + 0.5 * rand());
    const scale = target / short;
    img = await resizeImage(img, { width: Math.max(o.size, Math.round(img.width * scale)), height: Math.max(o.size, Math.round(img.height * scale)) });
    const x = Math.floor(rand() * (img.width - o.size + 1));
    const y = Math.floor(rand() * (img.height - o.size + 1));
    let crop = cropImage(img, x, y, o.size, o.size);
    if (rand() < 0.5) crop = flipHorizontal(crop);
    out.push(crop);
  }
  return out;
}

function flipHorizontal(img: RgbImage): RgbImage {
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 3;
      const d = (y * img.width + (img.width - 1 - x)) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width: img.width, height: img.height, data: out };
}

/** The output folder: new, empty, or (with resume) one holding a checkpoint. Never an existing network without --resume. */
function checkOutDir(o: ResolvedFastTrainOptions): void {
  if (existsSync(o.out)) {
    if (!statSync(o.out).isDirectory()) throw new ConvlabError(`--out ${o.out} is a file`, { hint: 'give a folder for the network' });
    const entries = readdirSync(o.out);
    if (!o.resume && entries.length > 0) {
      throw new ConvlabError(`--out ${o.out} is not empty`, { hint: entries.includes('checkpoint') ? 'add --resume to continue its training, or choose another --out' : 'choose a new or empty folder' });
    }
  }
  if (o.resume && !existsSync(join(fastTrainPaths(o.out).checkpoint, 'state.json'))) {
    throw new ConvlabError(`--resume: no checkpoint in ${fastTrainPaths(o.out).checkpoint}`, { hint: 'train without --resume first' });
  }
}

/** Loss plot of the per-step losses (log scale). */
export async function writeFastLossPlot(losses: FastTrainLosses[], path: string, title: string): Promise<void> {
  if (losses.length === 0) return;
  const parts = ['total', 'content', 'style', 'tv'] as const;
  const series = parts.map((name) => ({ name, values: losses.map((l) => l[name]) })).filter((s) => s.values.some((v) => v > 0));
  await saveImage(linePlot({ series, title, xLabel: 'step', yLabel: 'weighted loss (per image)', logY: true, xStart: 1, width: 720, height: 420 }), path);
}

/** Train (or continue training) a transformation network. Honours `signal` between steps (a checkpoint is written). */
export async function trainFastStyle(options: FastTrainOptions, hooks: FastTrainHooks = {}, signal?: AbortSignal): Promise<FastTrainResult> {
  const o = parseFastTrainOptions(options as Record<string, unknown>, 'code');
  checkOutDir(o);
  if (!existsSync(o.style)) throw new ConvlabError(`--style ${o.style}: image not found`, { hint: 'check the path' });
  const files = await trainingImages(o.contentDir);
  const styleImage = await resizeImage(await loadImage(o.style), { maxSide: o.styleSize });
  const engine = await initEngine({ backend: o.backend, log: false });
  hooks.onEngine?.(engine);
  const paths = fastTrainPaths(o.out);

  let net: TransformNet;
  let startStep = 0;
  let adamState: { iterations: number; moments: Float32Array[] } | undefined;
  const losses: FastTrainLosses[] = [];
  if (o.resume) {
    const cp = await loadCheckpoint(paths.checkpoint);
    net = cp.net;
    if (net.config.channels !== o.channels || net.config.residualBlocks !== o.residualBlocks) {
      net.dispose();
      throw new ConvlabError(`--resume: the checkpoint has channels ${cp.net.config.channels}, residual blocks ${cp.net.config.residualBlocks}, not ${o.channels}, ${o.residualBlocks}`, { hint: 'resume with the --channels and --residual-blocks it was started with' });
    }
    startStep = cp.state.step;
    adamState = cp.state.adam;
    losses.push(...((cp.state.extra.losses as FastTrainLosses[] | undefined) ?? []).slice(0, startStep));
    if (startStep >= o.steps) {
      net.dispose();
      throw new ConvlabError(`--resume: the checkpoint is at step ${startStep}, --steps is ${o.steps}`, { hint: `raise --steps above ${startStep} to train further` });
    }
  } else {
    net = createTransformNet({ channels: o.channels, residualBlocks: o.residualBlocks }, { seed: o.seed });
  }

  const lossNet = hooks.lossNet ?? (await loadFeatureNet(o.backbone, o.weights, o.seed));
  const params = [...net.params.values()];
  const adam = new Adam(params, o.lr, adamState);
  const record = createRunRecord({
    tool: FAST_TRAIN_TOOL,
    parameters: { ...o },
    seed: o.seed,
    backend: { name: engine.backend, tfBackend: engine.tfBackend, detail: engine.detail },
    model: { name: lossNet.name, weights: lossNet.weights, transformNet: { ...net.config, parameters: net.parameterCount() } },
  });
  losses.forEach((l, i) => record.log(i + 1, { ...l }));
  record.set('resumedFrom', o.resume ? startStep : null);
  record.set('trainingImages', files.length);

  const contentLayers = o.contentWeight > 0 ? o.contentLayers.map((l) => lossNet.resolveLayer(l)) : [];
  const styleLayers = o.styleLayers.map((l) => lossNet.resolveLayer(l));
  const layers = [...new Set([...contentLayers, ...styleLayers])];
  const layerWeight = 1 / styleLayers.length;

  // Style targets, built once from the painting (gatys.ts's StyleTerm: Gram matrices by default).
  const sx = tf.tidy(() => lossNet.preprocess(tf.expandDims(imageToTensor(styleImage), 0)));
  const zeros = tf.tidy(() => lossNet.preprocess(tf.zeros([1, o.size, o.size, 3])));
  const sf = lossNet.forward(sx, styleLayers, 'avg');
  const shapeOf = lossNet.forward(zeros, styleLayers, 'avg');
  const terms: StyleTerm[] = styleLayers.map((l, layerIndex) => STYLE_LOSSES[o.styleLoss]({ styles: [sf[l]], content: shapeOf[l], blend: [1], norm: 'target', layerIndex, seed: o.seed, options: {} }));
  for (const t of [sx, zeros, ...Object.values(sf), ...Object.values(shapeOf)]) t.dispose();

  const previewSource = await resizeImage(await loadImage(files[0]), { maxSide: 256 });
  const bar = createProgress({ total: o.steps, label: 'train-fast', unit: 'step', mode: hooks.progressBar ? undefined : 'silent', initial: startStep });
  const perms = new Map<number, number[]>();
  let step = startStep;
  let aborted = false;
  const times: number[] = [];

  const writeCheckpoint = async () => {
    await saveCheckpoint(net, paths.checkpoint, { step, adam: await adam.state(), extra: { losses, options: o } });
    record.set('step', step);
    await record.save(paths.record);
    await writeFastLossPlot(losses, paths.plot, `${basename(o.style)}: ${lossNet.name}, ${o.size} px, batch ${o.batch}`);
    await saveImage(await stylizeWithNet(net, previewSource), paths.preview);
    hooks.onCheckpoint?.(step, paths.checkpoint);
  };

  try {
    while (step < o.steps) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      const t0 = performance.now();
      const crops = await batchAt(files, o, step + 1, perms);
      const x = imagesToBatch(crops);
      // Content targets P^l of this batch, computed without gradient.
      // The loss network sees both images shifted by the same random (dy, dx) in 0..jitter (a crop).
      const shift = jitterAt(o, step + 1);
      const view = (t: Tensor4D): Tensor4D => (o.jitter > 0 ? (tf.slice(t, [0, shift[0], shift[1], 0], [-1, o.size - o.jitter, o.size - o.jitter, -1]) as Tensor4D) : t);
      const targets = tf.tidy(() => {
        if (contentLayers.length === 0) return [];
        const f = lossNet.forward(lossNet.preprocess(view(x)), contentLayers, 'avg');
        return contentLayers.map((l) => tf.keep(f[l]));
      });
      const variances = targets.map((t) => featureVariance(t));
      const parts = { content: 0, style: 0, tv: 0 };
      const lossFn = () => {
        const y = net.apply(x);
        const feats = lossNet.forward(lossNet.preprocess(view(y)), layers, 'avg');
        let c: Tensor = tf.scalar(0);
        contentLayers.forEach((l, i) => (c = tf.add(c, contentLoss(feats[l], targets[i], 'variance', variances[i]))));
        if (contentLayers.length > 1) c = tf.div(c, contentLayers.length);
        let s: Tensor = tf.scalar(0);
        styleLayers.forEach((l, li) => {
          for (let i = 0; i < o.batch; i++) {
            const fi = tf.slice(feats[l], [i, 0, 0, 0], [1, -1, -1, -1]);
            s = tf.add(s, tf.mul(terms[li].loss(fi), layerWeight / o.batch));
          }
        });
        const tv = o.tvWeight > 0 ? totalVariationLoss(tf.div(y, 255), { reduction: 'mean' }) : tf.scalar(0);
        parts.content = c.dataSync()[0] * o.contentWeight;
        parts.style = s.dataSync()[0] * o.styleWeight;
        parts.tv = tv.dataSync()[0] * o.tvWeight;
        return tf.addN([tf.mul(c, o.contentWeight), tf.mul(s, o.styleWeight), tf.mul(tv, o.tvWeight)]) as Scalar;
      };
      const { value, grads } = tf.variableGrads(lossFn, params);
      const total = (await value.data())[0];
      value.dispose();
      x.dispose();
      targets.forEach((t) => t.dispose());
      if (!Number.isFinite(total)) {
        Object.values(grads).forEach((g) => g.dispose());
        throw new ConvlabError(`training diverged at step ${step + 1} (loss ${total})`, { hint: 'lower --lr (e.g. by 10x) and --resume from the last checkpoint' });
      }
      adam.step(params.map((p) => grads[p.name]));
      Object.values(grads).forEach((g) => g.dispose());
      step += 1;
      const l = { total, ...parts };
      losses.push(l);
      record.log(step, { ...l });
      times.push((performance.now() - t0) / 1000);
      const recent = times.slice(-10);
      const sps = recent.reduce((a, b) => a + b, 0) / recent.length;
      hooks.onProgress?.({ step, steps: o.steps, losses: l, secondsPerStep: sps, etaSeconds: sps * (o.steps - step) });
      bar.update(step, { loss: l.total.toPrecision(3), content: l.content.toPrecision(3), style: l.style.toPrecision(3), tv: l.tv.toPrecision(3), 's/step': sps.toFixed(2) });
      if (step % o.checkpointEvery === 0 && step < o.steps) await writeCheckpoint();
      // Let a SIGINT handler run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    bar.stop();
    record.set('stepsRun', step - startStep);
    record.set('secondsPerStep', times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0);
    record.set('aborted', aborted);
    if (step > startStep || !o.resume) await writeCheckpoint();
    record.finish();
    await saveTransformNet(net, o.out, {
      dtype: 'float16',
      training: { style: basename(o.style), steps: step, batch: o.batch, size: o.size, lossNet: lossNet.name, contentWeight: o.contentWeight, styleWeight: o.styleWeight, tvWeight: o.tvWeight, jitter: o.jitter, lr: o.lr, finalLoss: losses.at(-1)?.total ?? null },
    });
    record.set('outputs', { net: o.out, checkpoint: paths.checkpoint, plot: paths.plot, preview: paths.preview });
    await record.save(paths.record);
  } catch (err) {
    net.dispose();
    throw err;
  } finally {
    bar.stop();
    adam.dispose();
    terms.forEach((t) => t.dispose());
    if (!hooks.lossNet) lossNet.dispose();
  }
  return { net, record, step, stepsRun: step - startStep, aborted, losses, files: { net: o.out, ...paths } };
}
