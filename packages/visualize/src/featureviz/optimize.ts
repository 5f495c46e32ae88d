/**
 * Feature visualization by optimization (Olah, Mordvintsev & Schubert, "Feature Visualization",
 * Distill 2017): find images that maximise an objective (objectives.ts) by gradient ascent, under a
 * parameterization (parameterization.ts), random transforms (transforms.ts) and regularizers:
 *
 *   x* = argmax_x  sum_i obj_i( T(x) ) - lambda_tv TV(x) - lambda_1 |x - 1/2|_1 - lambda_b |x - blur(x)|^2
 *
 * with x in [0, 1] for the regularizers (TV: mean absolute difference of neighbours; L1: mean
 * distance from grey; blur: mean squared distance to the image blurred, the blurred copy held fixed at
 * each step, so it pulls towards smoothness without a convolution's backward pass). Adam (Kingma & Ba
 * 2015) moves the parameters; the seed fixes the initial parameters and every random transform.
 * DeepDream (Mordvintsev, Olah & Tyka 2015) is the same machinery: the pixel parameterization started
 * from a photo, the objective a layer's mean squared activation, a few octaves of growing size.
 */
import { ConvlabError, tf, type RgbImage, type Scalar, type Tensor4D } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { gaussianBlur } from '../methods/scores.js';
import { evaluateObjectives, objectiveLayers, parseObjectives, resolveObjective, type Objective } from './objectives.js';
import { imageParam, type ParamKind } from './parameterization.js';
import { NO_TRANSFORMS, STANDARD_TRANSFORMS, seededRandom, transformBatch, type TransformOptions } from './transforms.js';

export interface FeatureVizOptions {
  /** Objective text ("LAYER:C + ...; LAYER:C2") or parsed objectives, one per image. */
  objective: string | Objective | Objective[];
  /** Image size [h, w] (default: the model's input size). */
  size?: [number, number];
  /** Images per objective (default 1; more with a diversity term). */
  copies?: number;
  param?: ParamKind;
  decorrelate?: boolean;
  /** Fourier spectrum decay power (default 1). */
  decay?: number;
  steps?: number;
  learningRate?: number;
  /** 'standard' (lucid's), 'none', or custom amounts. */
  transforms?: 'standard' | 'none' | TransformOptions;
  /** Regularizer weights (default 0). */
  tv?: number;
  l1?: number;
  blur?: number;
  seed?: number;
  /** Pixel parameterization started from these images (DeepDream). */
  init?: RgbImage[];
  signal?: AbortSignal;
  /**
   * After each step; `images()` renders the current images (call it only inside the callback: a live
   * preview). A returned promise is awaited before the next step (e.g. writing the preview).
   */
  onStep?: (step: number, steps: number, objective: number, images: () => RgbImage[]) => void | Promise<void>;
}

export interface FeatureVizResult {
  images: RgbImage[];
  /** The images before the first step. */
  startImages: RgbImage[];
  /** The objective of each image before the first step and at the end (no transforms). */
  start: number[];
  final: number[];
  /** The transformed objective (the maximised one, regularizers included) every step. */
  history: number[];
  /** The layers read (ReLU6 layers are optimized on their input). */
  layers: string[];
  params: Record<string, unknown>;
  complete: boolean;
  seconds: number;
}

function toRgbImages(x: Tensor4D): RgbImage[] {
  const [n, h, w] = x.shape;
  const data = tf.tidy(() => tf.round(tf.clipByValue(x, 0, 255)).dataSync());
  return Array.from({ length: n }, (_, i) => ({ width: w, height: h, data: Uint8Array.from(data.subarray(i * h * w * 3, (i + 1) * h * w * 3)) }));
}

export async function featureVisualization(model: ConvNet, options: FeatureVizOptions): Promise<FeatureVizResult> {
  const started = performance.now();
  const raw = typeof options.objective === 'string' ? parseObjectives(options.objective) : Array.isArray(options.objective[0]) ? (options.objective as Objective[]) : [options.objective as Objective];
  const objectives = raw.map((o) => resolveObjective(model, o));
  const copies = Math.max(1, options.copies ?? 1);
  const n = objectives.length * copies;
  const size = options.size ?? model.inputSize;
  const [h, w] = size;
  if (Math.min(h, w) < model.minInputSize) {
    throw new ConvlabError(`feature visualization at ${w}x${h} is smaller than ${model.name}'s minimum ${model.minInputSize}`, { hint: `use a size of at least ${model.minInputSize}` });
  }
  if (!model.anySize && (h !== model.inputSize[0] || w !== model.inputSize[1])) {
    throw new ConvlabError(`${model.name} takes only ${model.inputSize[1]}x${model.inputSize[0]}`, { hint: 'leave out the size' });
  }
  const steps = options.steps ?? 256;
  const lr = options.learningRate ?? 0.05;
  const seed = options.seed ?? 0;
  const transforms = options.transforms === 'none' ? NO_TRANSFORMS : options.transforms === undefined || options.transforms === 'standard' ? STANDARD_TRANSFORMS : { ...STANDARD_TRANSFORMS, ...options.transforms };
  const { tv = 0, l1 = 0, blur = 0 } = options;
  // Objective i of image b: b % objectives.length (copies repeat the list).
  const param = imageParam(n, h, w, { kind: options.param, decorrelate: options.decorrelate, decay: options.decay, seed, init: options.init });
  const rand = seededRandom(seed);
  const optimizer = tf.train.adam(lr);
  const measure = () => tf.tidy(() => Array.from(evaluateObjectives(model, model.preprocess(param.image()), objectives).perImage.dataSync()));
  const history: number[] = [];
  let complete = true;
  try {
    const start = measure();
    const startImages = toRgbImages(tf.tidy(() => param.image()));
    for (let step = 0; step < steps; step++) {
      if (options.signal?.aborted) {
        complete = false;
        break;
      }
      const blurred = blur > 0 ? tf.tidy(() => tf.div(gaussianBlur(param.image(), 1), 255)) : undefined;
      const cost = optimizer.minimize(
        () => {
          const img = param.image();
          const t = transformBatch(img, transforms, rand, [h, w]);
          let loss = tf.neg(evaluateObjectives(model, model.preprocess(t), objectives).total) as Scalar;
          const x01 = tf.div(img, 255);
          if (tv > 0) {
            const dy = tf.mean(tf.abs(tf.sub(tf.slice(x01, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(x01, [0, 0, 0, 0], [-1, h - 1, -1, -1]))));
            const dx = tf.mean(tf.abs(tf.sub(tf.slice(x01, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(x01, [0, 0, 0, 0], [-1, -1, w - 1, -1]))));
            loss = tf.add(loss, tf.mul(tv * n, tf.add(dy, dx))) as Scalar;
          }
          if (l1 > 0) loss = tf.add(loss, tf.mul(l1 * n, tf.mean(tf.abs(tf.sub(x01, 0.5))))) as Scalar;
          if (blurred) loss = tf.add(loss, tf.mul(blur * n, tf.mean(tf.square(tf.sub(x01, blurred))))) as Scalar;
          return loss;
        },
        true,
        param.variables,
      );
      blurred?.dispose();
      const value = cost ? -cost.dataSync()[0] : NaN;
      cost?.dispose();
      history.push(value);
      const pending = options.onStep?.(step + 1, steps, value, () => {
        const x = tf.tidy(() => param.image());
        try {
          return toRgbImages(x);
        } finally {
          x.dispose();
        }
      });
      if (pending) await pending;
      if (step % 4 === 3) await new Promise((r) => setImmediate(r));
    }
    const final = measure();
    const images = toRgbImages(tf.tidy(() => param.image()));
    return {
      images,
      startImages,
      start,
      final,
      history,
      layers: objectiveLayers(model, objectives),
      params: {
        objectives: objectives.map((o) => o.map((t) => ({ ...t }))),
        copies,
        size,
        param: param.kind,
        decorrelate: options.decorrelate ?? true,
        decay: options.decay ?? 1,
        steps,
        learningRate: lr,
        transforms,
        tv,
        l1,
        blur,
        seed,
        init: options.init ? 'image' : 'random',
      },
      complete,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer.dispose();
    param.dispose();
  }
}

export interface DeepDreamOptions {
  /** A layer name (maximise its mean squared activation) or any objective text. */
  objective: string;
  steps?: number;
  learningRate?: number;
  /** Scales, smallest first, each a fraction of the photo's size (default [0.5, 0.71, 1]). */
  octaves?: number[];
  /** Random translation per step in px (default 8). */
  jitter?: number;
  seed?: number;
  signal?: AbortSignal;
  onStep?: FeatureVizOptions['onStep'];
}

/** DeepDream: feature visualization started from a photo, octave by octave. */
export async function deepDream(model: ConvNet, photo: RgbImage, options: DeepDreamOptions): Promise<FeatureVizResult & { octaves: [number, number][] }> {
  const started = performance.now();
  const octaves = options.octaves ?? [0.5, Math.SQRT1_2, 1];
  const stepsPer = Math.max(1, Math.round((options.steps ?? 60) / octaves.length));
  let current = photo;
  let first: FeatureVizResult | undefined;
  let last: FeatureVizResult | undefined;
  const history: number[] = [];
  const sizes: [number, number][] = [];
  for (const [k, s] of octaves.entries()) {
    const size: [number, number] = [Math.max(model.minInputSize, Math.round(photo.height * s)), Math.max(model.minInputSize, Math.round(photo.width * s))];
    sizes.push(size);
    const resized = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(current.data), [1, current.height, current.width, 3]), size, false, true) as Tensor4D);
    const init = toRgbImages(resized)[0];
    resized.dispose();
    last = await featureVisualization(model, {
      objective: options.objective,
      size,
      param: 'pixel',
      decorrelate: false,
      init: [init],
      steps: stepsPer,
      learningRate: options.learningRate ?? 0.05,
      transforms: { pad: 0, jitter: options.jitter ?? 8, scales: [1], angles: [0], jitterAfter: 0 },
      seed: (options.seed ?? 0) + k,
      signal: options.signal,
      onStep: options.onStep,
    });
    first ??= last;
    history.push(...last.history);
    current = last.images[0];
    if (!last.complete) break;
  }
  return { ...last!, start: first!.start, startImages: [photo], history, octaves: sizes, seconds: (performance.now() - started) / 1000 };
}
