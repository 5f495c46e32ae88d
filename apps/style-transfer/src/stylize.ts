/**
 * Gram-matrix neural style transfer (Gatys, Ecker & Bethge 2015/2016) as a library call:
 * `stylize(options, onProgress, signal)` loads the images and the network, optimises the image (L-BFGS or
 * Adam) stage by stage from coarse to fine, and returns the result with a complete run record. It never
 * writes files: the CLI and other callers decide what to save (checkpoints arrive through `hooks`).
 */
import { ConvlabError, initEngine, opSeed, loadImage, resizeImage, tensorToImage, imageToTensor, tf, totalVariationLoss, type EngineInfo, type RgbImage, type Tensor, type Tensor4D } from '@convlab/core';
import { combineLuminance, luminanceImage, luminanceStats, matchColorHistogram } from './color.js';
import { fromConvNet, randomMultiscaleNet, type ConvNetLike, type FeatureNet } from './features.js';
import {
  blendGrams,
  blendQuantiles,
  contentLoss,
  featureVariance,
  gram,
  gramNormaliser,
  gramStyleLoss,
  quantileNormaliser,
  randomDirections,
  slicedWassersteinLoss,
  softmaxFeatures,
  styleQuantiles,
} from './losses.js';
import { checkMemory, defaultMemoryLimit } from './memory-estimate.js';
import { resolveOptions, type ResolvedOptions, type StylizeOptions } from './options.js';
import { createStyleRecord, type StyleRunRecord, type IterationLosses } from './record.js';
import { minimize, type Objective } from './optimize.js';

export interface StylizeProgress {
  stage: number;
  stageCount: number;
  stageSize: number;
  /** Iteration within the stage (1-based) and the stage's total. */
  iteration: number;
  stageIterations: number;
  /** Iterations done over all stages and their total. */
  done: number;
  total: number;
  losses: IterationLosses;
  secondsPerIteration: number;
  etaSeconds: number;
}

export interface StylizeHooks {
  /** Called every `saveEvery` iterations with the current image. */
  onCheckpoint?: (image: RgbImage, done: number) => Promise<void> | void;
  /** Called once the engine is up (the CLI prints its summary). */
  onEngine?: (engine: EngineInfo) => void;
  /** Preloaded network (tests and experiments reuse one across runs). */
  net?: FeatureNet;
}

export interface StylizeResult {
  image: RgbImage;
  record: StyleRunRecord;
  /** True when the signal stopped the run early (the image is the last iterate). */
  aborted: boolean;
  /** The (resized) content image the result is aligned with. */
  content: RgbImage;
  /** The style images as used at the last stage (after colour matching). */
  styles: RgbImage[];
}

async function readImage(input: string | RgbImage, what: string): Promise<RgbImage> {
  if (typeof input !== 'string') return input;
  try {
    return await loadImage(input);
  } catch (err) {
    if (err instanceof ConvlabError) throw new ConvlabError(`${what}: ${err.message}`, { hint: err.hint, cause: err });
    throw err;
  }
}

/** Load the backbone named in the options as a FeatureNet. */
export async function loadFeatureNet(backbone: ResolvedOptions['backbone'], weights: string, seed: number): Promise<FeatureNet> {
  if (backbone === 'random_multiscale') return randomMultiscaleNet({ seed });
  const models = (await import('@convlab/models')) as unknown as {
    loadModel(name: string, options: { weights?: string; seed?: number }): Promise<ConvNetLike>;
  };
  return fromConvNet(await models.loadModel(backbone, { weights, seed }));
}

interface LayerTargets {
  content: { layer: string; target: Tensor; variance: number }[];
  style: (
    | { layer: string; weight: number; kind: 'gram'; target: Tensor; norm: number }
    | { layer: string; weight: number; kind: 'sw'; directions: Tensor; quantiles: Float32Array[]; norm: number }
  )[];
}

function disposeTargets(t: LayerTargets): void {
  for (const c of t.content) c.target.dispose();
  for (const s of t.style) {
    if (s.kind === 'gram') s.target.dispose();
    else s.directions.dispose();
  }
}

function styleFeature(f: Tensor, o: ResolvedOptions): Tensor {
  return o.softmaxTemperature > 0 ? softmaxFeatures(f, o.softmaxTemperature) : f;
}

/** Content features and blended style statistics for one stage. */
function computeTargets(net: FeatureNet, o: ResolvedOptions, contentX: Tensor4D, styleXs: Tensor4D[], contentLayers: string[], styleLayers: string[]): LayerTargets {
  const content: LayerTargets['content'] = [];
  const contentFeats = net.forward(contentX, [...new Set([...contentLayers, ...styleLayers])], o.pool);
  for (const layer of contentLayers) content.push({ layer, target: tf.keep(contentFeats[layer]), variance: featureVariance(contentFeats[layer]) });
  const styleFeats = styleXs.map((x) => net.forward(x, styleLayers, o.pool));
  const style: LayerTargets['style'] = [];
  styleLayers.forEach((layer, li) => {
    const weight = o.styleLayerWeights[li];
    if (o.styleLoss === 'gram') {
      const grams = styleFeats.map((fs) => tf.tidy(() => gram(styleFeature(fs[layer], o))));
      const target = tf.keep(blendGrams(grams, o.styleBlend));
      grams.forEach((g) => g.dispose());
      style.push({ layer, weight, kind: 'gram', target, norm: gramNormaliser(target, o.styleNorm) });
    } else {
      const own = contentFeats[layer];
      const c = own.shape[own.shape.length - 1];
      const n = own.size / c;
      const k = o.swProjections || c;
      const directions = tf.keep(randomDirections(c, k, o.seed * 7919 + li + 1));
      const sets = styleFeats.map((fs) => tf.tidy(() => styleQuantiles(styleFeature(fs[layer], o), directions, n)));
      const quantiles = blendQuantiles(sets, o.styleBlend);
      style.push({ layer, weight, kind: 'sw', directions, quantiles, norm: quantileNormaliser(quantiles) });
    }
  });
  for (const t of Object.values(contentFeats)) if (!content.some((c) => c.target === t)) t.dispose();
  for (const fs of styleFeats) for (const t of Object.values(fs)) t.dispose();
  return { content, style };
}

function makeObjective(net: FeatureNet, o: ResolvedOptions, targets: LayerTargets): Objective {
  const layers = [...new Set([...targets.content.map((c) => c.layer), ...targets.style.map((s) => s.layer)])];
  return (x: Tensor4D) => {
    const parts = { content: 0, style: 0, tv: 0 };
    const f = (img: Tensor) => {
      const feats = net.forward(img as Tensor4D, layers, o.pool);
      let c: Tensor = tf.scalar(0);
      for (const t of targets.content) c = tf.add(c, contentLoss(feats[t.layer], t.target, o.contentNorm, t.variance));
      if (targets.content.length > 1) c = tf.div(c, targets.content.length);
      let s: Tensor = tf.scalar(0);
      for (const t of targets.style) {
        const fs = styleFeature(feats[t.layer], o);
        const l = t.kind === 'gram' ? gramStyleLoss(fs, t.target, t.norm) : slicedWassersteinLoss(fs, t.directions, t.quantiles, t.norm);
        s = tf.add(s, tf.mul(l, t.weight));
      }
      const tv = o.tvWeight > 0 ? totalVariationLoss(tf.div(net.deprocess(img as Tensor4D), 255), { reduction: 'mean' }) : tf.scalar(0);
      parts.content = c.dataSync()[0];
      parts.style = s.dataSync()[0];
      parts.tv = tv.dataSync()[0];
      return tf.addN([tf.mul(c, o.contentWeight), tf.mul(s, o.styleWeight), tf.mul(tv, o.tvWeight)]) as Tensor;
    };
    const { value, grad } = tf.tidy(() => {
      const r = tf.valueAndGrad(f)(x);
      return { value: r.value, grad: r.grad };
    });
    const loss = value.dataSync()[0];
    value.dispose();
    return {
      loss,
      grad: grad as Tensor4D,
      parts: { total: loss, content: parts.content * o.contentWeight, style: parts.style * o.styleWeight, tv: parts.tv * o.tvWeight },
    };
  };
}

function initialImage(net: FeatureNet, o: ResolvedOptions, content: RgbImage, style: RgbImage): Promise<Tensor4D> | Tensor4D {
  if (o.init === 'content') return tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(content), 0)));
  if (o.init === 'noise') {
    return tf.tidy(() => net.preprocess(tf.randomUniform([1, content.height, content.width, 3], 0, 255, 'float32', opSeed(o.seed))));
  }
  return resizeImage(style, { width: content.width, height: content.height }).then((s) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(s), 0))));
}

/** Run style transfer. Throws ConvlabError for bad inputs before any work; honours `signal` between iterations. */
export async function stylize(
  options: StylizeOptions,
  onProgress?: (p: StylizeProgress) => void,
  signal?: AbortSignal,
  hooks: StylizeHooks = {},
): Promise<StylizeResult> {
  const started = performance.now();
  const o = resolveOptions(options);
  const contentFull = await readImage(o.content, 'content image');
  const stylesFull = await Promise.all(o.style.map((s, i) => readImage(s, `style image ${i + 1}`)));
  const engine = await initEngine({ backend: o.backend, log: false });
  hooks.onEngine?.(engine);

  const net = hooks.net ?? (await loadFeatureNet(o.backbone, o.weights, o.seed));
  try {
    const contentLayers = o.contentWeight > 0 ? o.contentLayers.map((l) => net.resolveLayer(l)) : [];
    const styleLayers = o.styleLayers.map((l) => net.resolveLayer(l));
    const allLayers = [...new Set([...contentLayers, ...styleLayers])];

    // Stage geometry, checked against the network and memory before any heavy work.
    const aspect = contentFull.width / contentFull.height;
    const dims = (side: number): [number, number] =>
      aspect >= 1 ? [Math.max(1, Math.round(side / aspect)), side] : [side, Math.max(1, Math.round(side * aspect))];
    for (const s of o.stages) {
      const [h, w] = dims(s);
      if (Math.min(h, w) < net.minInputSize) {
        throw new ConvlabError(`size ${s} px gives a ${w}x${h} image, below ${net.name}'s minimum of ${net.minInputSize} px per side`, {
          hint: `use --size ${Math.ceil((net.minInputSize * Math.max(h, w)) / Math.min(h, w))} or larger`,
        });
      }
    }
    const memory = checkMemory(net, allLayers, dims(o.size), o.optimizer, o.maxMemoryBytes ?? defaultMemoryLimit(), engine.backend);

    // Colour handling (Gatys et al. 2016): luminance-only transfer or style colour matched to the content.
    let contentWork = contentFull;
    let stylesWork = stylesFull;
    if (o.preserveColor === 'luminance') {
      const stats = luminanceStats(contentFull, o.colorSpace);
      contentWork = luminanceImage(contentFull, o.colorSpace);
      stylesWork = stylesFull.map((s) => luminanceImage(s, o.colorSpace, stats));
    } else if (o.preserveColor === 'histogram') {
      stylesWork = stylesFull.map((s) => matchColorHistogram(s, contentFull));
    }

    const record = createStyleRecord(o, engine, net, memory.bytes);
    const total = o.stages.reduce((a, _, i) => a + (i === o.stages.length - 1 ? o.iterations : o.stageIterations), 0);
    let done = 0;
    let x: Tensor4D | undefined;
    // Stopped while the network loaded: no stage runs, the result is the content image (0 iterations).
    let aborted = signal?.aborted ?? false;
    let contentStage = contentWork;
    let contentColor = contentFull;
    let stylesStage = stylesWork;
    const timePerIter: number[] = [];

    for (let si = 0; si < o.stages.length && !aborted; si++) {
      const side = o.stages[si];
      const [h, w] = dims(side);
      contentStage = await resizeImage(contentWork, { width: w, height: h });
      contentColor = o.preserveColor === 'luminance' ? await resizeImage(contentFull, { width: w, height: h }) : contentStage;
      const styleSide = Math.max(net.minInputSize, Math.round(side * o.styleScale));
      stylesStage = await Promise.all(stylesWork.map((s) => resizeImage(s, { maxSide: styleSide })));
      const contentX = tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(contentStage), 0)));
      const styleXs = stylesStage.map((s) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(s), 0))));
      const targets = computeTargets(net, o, contentX, styleXs, contentLayers, styleLayers);
      styleXs.forEach((t) => t.dispose());
      let x0: Tensor4D;
      if (!x) x0 = await initialImage(net, o, contentStage, stylesStage[0]);
      else {
        const prev = x;
        x0 = tf.tidy(() => tf.image.resizeBilinear(prev, [h, w], true));
        prev.dispose();
      }
      contentX.dispose();
      const iterations = si === o.stages.length - 1 ? o.iterations : o.stageIterations;
      const stageRecord = { size: side, width: w, height: h, iterations: 0, seconds: 0, losses: [] as IterationLosses[] };
      record.stages.push(stageRecord);
      const stageStart = performance.now();
      let last = stageStart;
      const objective = makeObjective(net, o, targets);
      try {
        x = await minimize(objective, x0, {
          optimizer: o.optimizer,
          iterations,
          learningRate: o.learningRate,
          signal,
          onIteration: async (it, losses, current) => {
            // The optimiser's awaits resolve as microtasks; yield a macrotask turn so a SIGINT handler can run.
            await new Promise<void>((resolve) => setImmediate(resolve));
            const now = performance.now();
            timePerIter.push((now - last) / 1000);
            last = now;
            done += 1;
            stageRecord.iterations = it;
            stageRecord.losses.push(losses);
            const recent = timePerIter.slice(-10);
            const spi = recent.reduce((a, b) => a + b, 0) / recent.length;
            onProgress?.({
              stage: si + 1,
              stageCount: o.stages.length,
              stageSize: side,
              iteration: it,
              stageIterations: iterations,
              done,
              total,
              losses,
              secondsPerIteration: spi,
              etaSeconds: spi * (total - done),
            });
            if (hooks.onCheckpoint && o.saveEvery > 0 && done % o.saveEvery === 0) {
              await hooks.onCheckpoint(await finishImage(net, current, o, contentColor), done);
            }
          },
        });
      } finally {
        disposeTargets(targets);
      }
      stageRecord.seconds = (performance.now() - stageStart) / 1000;
      aborted = signal?.aborted ?? false;
    }
    let image: RgbImage;
    if (x) {
      image = await finishImage(net, x, o, contentColor);
      x.dispose();
    } else {
      const [h, w] = dims(o.size);
      image = await resizeImage(contentFull, { width: w, height: h });
      contentColor = image;
    }
    record.aborted = aborted;
    record.iterationsDone = done;
    record.seconds = (performance.now() - started) / 1000;
    record.secondsPerIteration = timePerIter.length ? timePerIter.reduce((a, b) => a + b, 0) / timePerIter.length : 0;
    record.output = { width: image.width, height: image.height };
    return { image, record, aborted, content: contentColor, styles: stylesStage };
  } finally {
    if (!hooks.net) net.dispose();
  }
}

/** Network input -> RGB image, with the content's chroma put back for luminance-only transfer. */
async function finishImage(net: FeatureNet, x: Tensor4D, o: ResolvedOptions, contentColor: RgbImage): Promise<RgbImage> {
  const rgb = tf.tidy(() => tf.clipByValue(net.deprocess(x), 0, 255));
  let image = await tensorToImage(rgb);
  rgb.dispose();
  if (o.preserveColor === 'luminance') {
    // The optimisation ran on a gray image; its mean over channels is the stylized luminance.
    const gray = luminanceImage(image, o.colorSpace);
    image = combineLuminance(gray, contentColor, o.colorSpace);
  }
  return image;
}

