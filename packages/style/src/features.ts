/**
 * What the optimiser needs from a network: preprocessing, named differentiable activations, valid layer
 * names and a memory figure. A ConvNet from @convlab/models (mobilenet_v2, inception_v3, vgg16, vgg19) is
 * adapted to it; `random_multiscale` is a seeded random-weight image-pyramid network built here from
 * plain ops (Ustyuzhaninov et al., ICLR 2017; He, Wang & Hopcroft, NeurIPS 2016: random features carry
 * enough texture statistics for synthesis).
 */
import { ConvlabError, tf, type Tensor, type Tensor4D } from '@convlab/core';

export interface FeatureNet {
  /** Registry name, e.g. 'mobilenet_v2' or 'random_multiscale'. */
  name: string;
  /** Where the weights came from (for the run record). */
  weights: string;
  /** Canonical layer names in topological order. */
  layerNames: string[];
  /** Smallest input side the net accepts. */
  minInputSize: number;
  resolveLayer(name: string): string;
  /** RGB 0..255 [1, h, w, 3] -> network input. */
  preprocess(rgb: Tensor): Tensor4D;
  /** Network input -> RGB 0..255 (unclipped). */
  deprocess(x: Tensor4D): Tensor4D;
  forward(x: Tensor4D, layers: string[], pool: 'max' | 'avg'): Record<string, Tensor>;
  /** Floats held by all activations up to the deepest of `layers` for an input of this size. */
  activationFloats(layers: string[], size: [number, number]): number;
  dispose(): void;
}

/** The part of @convlab/models' ConvNet this module uses. */
export interface ConvNetLike {
  name: string;
  minInputSize: number;
  weights: { source: string; description: string };
  layers: { name: string; kind: string }[];
  preprocess(images: Tensor): Tensor4D;
  deprocess(x: Tensor4D): Tensor4D;
  resolveLayer(nameOrAlias: string): string;
  forward(x: Tensor4D, options: { outputs: string[]; pool?: 'max' | 'avg'; frozenWeights?: boolean }): Record<string, Tensor>;
  outputShapeFor(nameOrAlias: string, inputSize: [number, number]): number[];
  dispose(): void;
}

export function fromConvNet(net: ConvNetLike): FeatureNet {
  const layerNames = net.layers.map((l) => l.name);
  return {
    name: net.name,
    weights: `${net.weights.source} (${net.weights.description})`,
    layerNames,
    minInputSize: net.minInputSize,
    resolveLayer: (n) => net.resolveLayer(n),
    preprocess: (rgb) => net.preprocess(rgb),
    deprocess: (x) => net.deprocess(x),
    // Style transfer differentiates with respect to the image only: conv chains run fused with frozen weights.
    forward: (x, layers, pool) => net.forward(x, { outputs: layers, pool, frozenWeights: true }),
    activationFloats(layers, size) {
      const deepest = Math.max(...layers.map((l) => layerNames.indexOf(net.resolveLayer(l))));
      let total = 0;
      for (let i = 0; i <= deepest; i++) {
        const shape = safeShape(() => net.outputShapeFor(layerNames[i], size));
        total += shape.reduce((a, b) => a * (b ?? 1), 1);
      }
      return total;
    },
    dispose: () => net.dispose(),
  };
}

function safeShape(f: () => number[]): number[] {
  try {
    return f();
  } catch {
    return [0];
  }
}

/**
 * 2x downsampling for the pyramid. 'avg' uses a 4x4 binomial filter ([1 3 3 1] outer product / 64) with stride 2:
 * its adjoint, which carries the gradient back up, is a smooth bilinear-like upsampler. 2x2 box pooling would
 * imprint a block grid on the image and 3x3/stride-2 windows a checkerboard (kernel not divisible by stride).
 */
function downsample(x: Tensor4D, pool: 'max' | 'avg'): Tensor4D {
  if (pool === 'max') return tf.maxPool(x, 2, 2, 'same');
  return tf.tidy(() => {
    const c = x.shape[3];
    const k = [1, 3, 3, 1];
    const taps: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let ch = 0; ch < c; ch++) taps.push((k[i] * k[j]) / 64);
    return tf.depthwiseConv2d(x, tf.tensor4d(taps, [4, 4, c, 1]), 2, 'same');
  });
}

/** Settings of the random multi-scale network. */
export interface RandomNetOptions {
  seed?: number;
  /** Pyramid levels (each halves the resolution). */
  levels?: number;
  /** Filters per layer. */
  channels?: number;
  /** Kernel of the first conv at every level. */
  kernel?: number;
}

// ImageNet channel statistics: the random filters see a roughly standardised image.
const MEAN = [123.68, 116.78, 103.94];
const STD = [58.4, 57.1, 57.4];

/**
 * A random-weight multi-scale network: an image pyramid (2x average pooling per level); at each level a
 * k x k conv (3 -> C) + ReLU (`scale{l}`), then a 3x3 conv (C -> C) + ReLU (`scale{l}_2`). Filters are
 * seeded Gaussian, zero-mean per filter (so they respond to structure, not brightness), He-scaled.
 */
export function randomMultiscaleNet(options: RandomNetOptions = {}): FeatureNet {
  const seed = options.seed ?? 0;
  const levels = options.levels ?? 5;
  const channels = options.channels ?? 64;
  const kernel = options.kernel ?? 5;
  const filters: { a: Tensor4D; b: Tensor4D }[] = [];
  for (let l = 0; l < levels; l++) {
    filters.push(
      tf.tidy(() => {
        const mk = (k: number, cin: number, s: number) => {
          const w = tf.randomNormal([k, k, cin, channels], 0, 1, 'float32', s);
          const centred = tf.sub(w, tf.mean(w, [0, 1, 2], true));
          const norm = tf.sqrt(tf.sum(tf.square(centred), [0, 1, 2], true));
          return tf.mul(tf.div(centred, norm), Math.sqrt(2)) as Tensor4D;
        };
        return { a: mk(kernel, 3, seed * 1000 + 2 * l + 1), b: mk(3, channels, seed * 1000 + 2 * l + 2) };
      }),
    );
  }
  const layerNames: string[] = [];
  for (let l = 0; l < levels; l++) layerNames.push(`scale${l}`, `scale${l}_2`);
  const resolveLayer = (name: string) => {
    if (layerNames.includes(name)) return name;
    throw new ConvlabError(`unknown layer "${name}" for random_multiscale`, { hint: `valid layers: ${layerNames.join(', ')}` });
  };
  return {
    name: 'random_multiscale',
    weights: `random (seed ${seed}, ${levels} levels, ${channels} filters, ${kernel}x${kernel} + 3x3)`,
    layerNames,
    minInputSize: 2 ** (levels - 1) * 4,
    resolveLayer,
    preprocess: (rgb) =>
      tf.tidy(() => {
        const x = rgb.rank === 3 ? tf.expandDims(rgb, 0) : rgb;
        return tf.div(tf.sub(x, tf.tensor1d(MEAN)), tf.tensor1d(STD)) as Tensor4D;
      }),
    deprocess: (x) => tf.tidy(() => tf.add(tf.mul(x, tf.tensor1d(STD)), tf.tensor1d(MEAN)) as Tensor4D),
    forward(x, layers, pool) {
      const want = new Set(layers.map(resolveLayer));
      const deepest = Math.max(...[...want].map((n) => Math.floor(layerNames.indexOf(n) / 2)));
      const out: Record<string, Tensor> = {};
      let level: Tensor4D = x;
      for (let l = 0; l <= deepest; l++) {
        if (l > 0) level = downsample(level, pool);
        const a = tf.relu(tf.conv2d(level, filters[l].a, 1, 'same'));
        if (want.has(`scale${l}`)) out[`scale${l}`] = a;
        if (want.has(`scale${l}_2`)) out[`scale${l}_2`] = tf.relu(tf.conv2d(a, filters[l].b, 1, 'same'));
      }
      return out;
    },
    activationFloats(layers, [h, w]) {
      const deepest = Math.max(...layers.map((n) => Math.floor(layerNames.indexOf(resolveLayer(n)) / 2)));
      let total = 0;
      for (let l = 0; l <= deepest; l++) total += (h / 2 ** l) * (w / 2 ** l) * (3 + 2 * channels);
      return total;
    },
    dispose() {
      for (const f of filters) {
        f.a.dispose();
        f.b.dispose();
      }
    },
  };
}
