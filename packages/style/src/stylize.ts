/**
 * Neural style transfer as a library call: `stylize(options, onProgress, signal)` validates the options
 * (StylizeOptions), loads the images and the network, optimises the image (L-BFGS or Adam) stage by stage
 * from coarse to fine on the objective of ./gatys.ts (seen by the network reflection-padded by `pad` px and,
 * with Adam, shifted by up to `jitter` px per step: ./gatys.ts networkView), and returns the result with its run record
 * (@convlab/core's format). It never writes files: callers decide what to save (the CLI, the studio), and
 * checkpoints arrive through `hooks`.
 */
import { ConvlabError, createRunRecord, imageToTensor, initEngine, loadImage, opSeed, resizeImage, tensorToImage, tf, type EngineInfo, type RgbImage, type RunRecord, type Tensor, type Tensor4D } from '@convlab/core';
import { combineLuminance, luminanceImage, luminanceStats, matchColorHistogram } from './color-preservation.js';
import { fromConvNet, randomMultiscaleNet, type ConvNetLike, type FeatureNet } from './features.js';
import { disposeTargets, featureVariance, gatysObjective, gatysTargets, networkView, type GatysTargets, type IterationLosses, type ObjectiveView } from './gatys.js';
import { checkMemory, defaultMemoryLimit, LBFGS_HISTORY } from './memory-estimate.js';
import { NO_LINE_SEARCH, minimize, type IterationInfo } from './optimizers/index.js';
import { seededRandom } from './johnson.js';
import { parseStylizeOptions, recordedParameters, totalIterations, type Backbone, type ResolvedStylizeOptions, type StylizeOptions } from './options.js';
import { STYLE_TOOL, type StageInfo } from './record.js';
import { softmaxFeatures } from './softmax-features.js';
import { STYLE_LOSSES } from './style-losses.js';

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
  /**
   * The run record (@convlab/core's format), finished. `readStyleRun(record)` reads it typed; a caller adds
   * the files it writes with `record.set('outputs', {...})` and saves it with `record.save(path)`.
   */
  record: RunRecord;
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

/** Load a backbone as a FeatureNet. */
export async function loadFeatureNet(backbone: Backbone, weights: string, seed: number): Promise<FeatureNet> {
  if (backbone === 'random_multiscale') return randomMultiscaleNet({ seed });
  const models = (await import('@convlab/models')) as unknown as {
    loadModel(name: string, options: { weights?: string; seed?: number; includeHead?: boolean }): Promise<ConvNetLike>;
  };
  // The features stop at the last conv block: a VGG file with its classifier must not load ~480 MB of fc weights.
  return fromConvNet(await models.loadModel(backbone, { weights, seed, includeHead: false }));
}

/** Features before the style statistics: softmax features (Wang et al. 2021) when a temperature is set. */
function featureTransform(o: ResolvedStylizeOptions): ((f: Tensor) => Tensor) | undefined {
  return o.softmaxTemperature > 0 ? (f) => softmaxFeatures(f, o.softmaxTemperature) : undefined;
}

function initialImage(net: FeatureNet, o: ResolvedStylizeOptions, content: RgbImage, style: RgbImage, init?: RgbImage): Promise<Tensor4D> | Tensor4D {
  // --init image (batch --temporal: the previous frame's result), resized to this stage.
  if (o.init === 'image' && init) {
    // Luminance-only transfer optimises a gray image: start from the starting image's luminance.
    const start = o.preserveColor === 'luminance' ? luminanceImage(init, o.colorSpace) : init;
    return resizeImage(start, { width: content.width, height: content.height }).then((s) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(s), 0))));
  }
  if (o.init === 'content') return tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(content), 0)));
  if (o.init === 'noise') {
    return tf.tidy(() => net.preprocess(tf.randomUniform([1, content.height, content.width, 3], 0, 255, 'float32', opSeed(o.seed))));
  }
  return resizeImage(style, { width: content.width, height: content.height }).then((s) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(s), 0))));
}

/**
 * The network's view of each evaluation (./gatys.ts networkView): padded by o.pad, shifted by a seeded
 * (dy, dx) in [-jitter, jitter]^2 drawn per evaluation (one per Adam step), with the content targets of the
 * same view of the content image, computed once per shift and kept for the stage. `targets.content` is the
 * unshifted view's.
 */
function objectiveViews(net: FeatureNet, o: ResolvedStylizeOptions, contentX: Tensor4D, targets: GatysTargets, stage: number) {
  const cache = new Map<string, GatysTargets['content']>([['0,0', targets.content]]);
  const random = seededRandom((o.seed * 0x9e3779b1 + stage * 0x85ebca6b + 0x27d4eb2f) >>> 0);
  const draw = () => Math.min(o.jitter, Math.floor(random() * (2 * o.jitter + 1)) - o.jitter);
  const layers = targets.content.map((c) => c.layer);
  return {
    next(): ObjectiveView {
      const dy = o.jitter > 0 ? draw() : 0;
      const dx = o.jitter > 0 ? draw() : 0;
      const key = `${dy},${dx}`;
      let content = cache.get(key);
      if (!content) {
        const feats = layers.length > 0 ? tf.tidy(() => net.forward(networkView(contentX, o.pad, o.jitter, dy, dx), layers, o.pool)) : {};
        content = layers.map((layer) => ({ layer, target: tf.keep(feats[layer]), variance: featureVariance(feats[layer]) }));
        cache.set(key, content);
      }
      return { input: (x) => networkView(x, o.pad, o.jitter, dy, dx), content };
    },
    /** Disposes the shifted views' targets (the unshifted one belongs to `targets`). */
    dispose() {
      for (const [key, content] of cache) if (key !== '0,0') for (const c of content) c.target.dispose();
    },
  };
}

/** Run style transfer. Throws ConvlabError for bad inputs before any work; honours `signal` between iterations. */
export async function stylize(
  options: StylizeOptions,
  onProgress?: (p: StylizeProgress) => void,
  signal?: AbortSignal,
  hooks: StylizeHooks = {},
): Promise<StylizeResult> {
  const startedMs = Date.now();
  const o = parseStylizeOptions(options as Record<string, unknown>, 'code');
  const contentFull = await readImage(o.content, 'content image');
  const stylesFull = await Promise.all(o.style.map((s, i) => readImage(s, `style image ${i + 1}`)));
  const initFull = o.init === 'image' && o.initImage !== undefined ? await readImage(o.initImage, 'init image') : undefined;
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
      if (o.pad + o.jitter >= Math.min(h, w)) {
        throw new ConvlabError(`--pad ${o.pad} + --jitter ${o.jitter} px of reflection need an image larger than ${o.pad + o.jitter} px per side; size ${s} px gives ${w}x${h}`, {
          hint: `use --pad ${Math.max(0, Math.min(h, w) - 1 - o.jitter)} or less, or a larger --size`,
        });
      }
    }
    const limit = o.maxMemoryGb !== undefined ? o.maxMemoryGb * 1e9 : defaultMemoryLimit();
    // The network sees the padded image.
    const memory = checkMemory(net, allLayers, dims(o.size), o.optimizer, limit, engine.backend, o.pad);

    // Colour preservation (Gatys et al. 2016): luminance-only transfer or style colours matched to the content.
    let contentWork = contentFull;
    let stylesWork = stylesFull;
    if (o.preserveColor === 'luminance') {
      const stats = luminanceStats(contentFull, o.colorSpace);
      contentWork = luminanceImage(contentFull, o.colorSpace);
      stylesWork = stylesFull.map((s) => luminanceImage(s, o.colorSpace, stats));
    } else if (o.preserveColor === 'histogram') {
      stylesWork = stylesFull.map((s) => matchColorHistogram(s, contentFull));
    }

    // The record starts when stylize was called.
    let first = true;
    const clock = () => (first ? ((first = false), startedMs) : Date.now());
    const record = createRunRecord(
      {
        tool: STYLE_TOOL,
        parameters: recordedParameters(o),
        seed: o.seed,
        backend: { name: engine.backend, tfBackend: engine.tfBackend, detail: engine.detail },
        model: { name: net.name, weights: net.weights },
      },
      clock,
    );
    record.set('memoryEstimateBytes', memory.bytes);
    record.set('memoryLimitBytes', memory.limitBytes);
    const stages: StageInfo[] = [];
    const total = totalIterations(o);
    const transform = featureTransform(o);
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
      // The content targets are those of the content image as the network sees it (padded; unshifted).
      const contentView = tf.tidy(() => networkView(contentX, o.pad, o.jitter));
      const targets = gatysTargets(net, o, { content: contentView, styles: styleXs }, { content: contentLayers, style: styleLayers }, STYLE_LOSSES[o.styleLoss], transform);
      if (contentView !== contentX) contentView.dispose();
      styleXs.forEach((t) => t.dispose());
      const views = o.pad > 0 || o.jitter > 0 ? objectiveViews(net, o, contentX, targets, si) : undefined;
      let x0: Tensor4D;
      if (!x) x0 = await initialImage(net, o, contentStage, stylesStage[0], initFull);
      else {
        const prev = x;
        x0 = tf.tidy(() => tf.image.resizeBilinear(prev, [h, w], true));
        prev.dispose();
      }
      const iterations = si === o.stages.length - 1 ? o.iterations : o.stageIterations;
      const stage: StageInfo = { size: side, width: w, height: h, iterations: 0, seconds: 0 };
      stages.push(stage);
      const stageStart = performance.now();
      let last = stageStart;
      let parts: IterationLosses = { total: 0, content: 0, style: 0, tv: 0 };
      // Adam sees a new shifted view at every step. L-BFGS needs the same objective from one step to the next:
      // with jitter it runs in blocks of o.jitterEvery iterations, one view per block, and restarts its memory
      // at each (a new block is a new problem to its curvature pairs).
      const blocked = o.optimizer === 'lbfgs' && o.jitter > 0;
      const blockSize = blocked ? o.jitterEvery : iterations;
      let offset = 0;
      const onIteration = async ({ iteration, x: current }: IterationInfo) => {
        // The optimiser's awaits resolve as microtasks; yield a macrotask turn so a SIGINT handler can run.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const now = performance.now();
        timePerIter.push((now - last) / 1000);
        last = now;
        done += 1;
        stage.iterations = offset + iteration;
        record.log(done, { stage: si + 1, ...parts });
        const recent = timePerIter.slice(-10);
        const spi = recent.reduce((a, b) => a + b, 0) / recent.length;
        onProgress?.({ stage: si + 1, stageCount: o.stages.length, stageSize: side, iteration: offset + iteration, stageIterations: iterations, done, total, losses: parts, secondsPerIteration: spi, etaSeconds: spi * (total - done) });
        if (hooks.onCheckpoint && o.saveEvery !== undefined && done % o.saveEvery === 0) {
          await hooks.onCheckpoint(await finishImage(net, current as Tensor4D, o, contentColor), done);
        }
      };
      let current: Tensor4D = x0;
      try {
        while (offset < iterations && !signal?.aborted) {
          const n = Math.min(blockSize, iterations - offset);
          let viewOf = views?.next;
          if (blocked && views) {
            const fixed = views.next();
            viewOf = () => fixed;
          }
          const objective = gatysObjective(net, o, targets, transform, viewOf);
          const lossAndGrad = (t: Tensor) => {
            const r = objective(t as Tensor4D);
            parts = r.parts;
            return r;
          };
          const result = await minimize(
            lossAndGrad,
            current,
            o.optimizer === 'adam'
              ? { optimizer: 'adam', maxIterations: n, learningRate: o.lr, signal, onIteration }
              : {
                  optimizer: 'lbfgs',
                  ...NO_LINE_SEARCH,
                  maxIterations: n,
                  maxEvaluations: n + 1,
                  historySize: LBFGS_HISTORY,
                  learningRate: o.lr,
                  rescaleSmallGradients: true,
                  signal,
                  onIteration,
                },
          );
          if (current !== x0 && current !== result.x) current.dispose();
          current = result.x as Tensor4D;
          offset += n;
          if (result.iterations < n) break;
        }
        x = current === x0 ? (tf.clone(x0) as Tensor4D) : current;
      } finally {
        x0.dispose();
        views?.dispose();
        disposeTargets(targets);
        contentX.dispose();
      }
      stage.seconds = (performance.now() - stageStart) / 1000;
      record.time(`stage ${si + 1} (${w}x${h})`, stage.seconds * 1000);
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
    record.set('stages', stages);
    record.set('iterationsDone', done);
    record.set('secondsPerIteration', timePerIter.length ? timePerIter.reduce((a, b) => a + b, 0) / timePerIter.length : 0);
    record.set('aborted', aborted);
    record.set('output', { width: image.width, height: image.height });
    record.finish();
    return { image, record, aborted, content: contentColor, styles: stylesStage };
  } finally {
    if (!hooks.net) net.dispose();
  }
}

/** Network input -> RGB image, with the content's chroma put back for luminance-only transfer. */
async function finishImage(net: FeatureNet, x: Tensor4D, o: ResolvedStylizeOptions, contentColor: RgbImage): Promise<RgbImage> {
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
