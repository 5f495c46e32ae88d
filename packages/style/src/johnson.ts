/**
 * Fast (feed-forward) style transfer after Johnson, Alahi & Fei-Fei, "Perceptual losses for real-time style
 * transfer and super-resolution" (ECCV 2016), with instance normalization (Ulyanov, Vedaldi & Lempitsky,
 * "Instance normalization: the missing ingredient for fast stylization", 2016): a transformation network
 * y = f_W(x) trained once per style so that one forward pass stylizes any photo.
 *
 * Training (./fast-train.ts) minimises, over a set of content photos x, the perceptual loss of Johnson et al.
 * Eq. 5 with convlab's Gatys objective (./gatys.ts) as the loss network's terms:
 *
 *   W* = argmin_W  E_x [ lambda_c l_feat(f_W(x), x) + lambda_s sum_l w_l l_style^l(f_W(x), y_s) + lambda_TV TV(f_W(x)) ]
 *
 *   l_feat^j(y, x)  = || phi_j(y) - phi_j(x) ||^2 / (C_j H_j W_j)         (Johnson Eq. 2; here / var(phi_j(x)))
 *   G^phi_j(y)_cc'  = sum_hw phi_j(y)_hwc phi_j(y)_hwc' / (C_j H_j W_j)   (Johnson Eq. 3; here / (H_j W_j))
 *   l_style^j(y, y_s) = || G^phi_j(y) - G^phi_j(y_s) ||_F^2                (Johnson Eq. 4; here / ||G^phi_j(y_s)||^2)
 *
 * Instance normalization (Ulyanov et al. Eq. 2) replaces batch normalization after every convolution but the
 * last, with a learned scale and shift per channel:
 *
 *   IN(x)_nhwc = gamma_c (x_nhwc - mu_nc) / sqrt(sigma^2_nc + eps) + beta_c,
 *   mu_nc = mean_hw x_nhwc,  sigma^2_nc = var_hw x_nhwc,  eps = 1e-5
 *
 * Architecture (Johnson et al., supplementary Table 1, with channel width C = 32 by default):
 *
 *   input RGB 0..255 -> x / 127.5 - 1
 *   c9s1-C    reflection pad 4, 9x9 conv,   C, stride 1, IN, ReLU
 *   d2C       reflection pad 1, 3x3 conv,  2C, stride 2, IN, ReLU
 *   d4C       reflection pad 1, 3x3 conv,  4C, stride 2, IN, ReLU
 *   R4C x 5   residual block: [reflect 1, 3x3 conv 4C, IN, ReLU, reflect 1, 3x3 conv 4C, IN] + identity
 *   u2C       nearest-neighbour 2x resize, reflection pad 1, 3x3 conv, 2C, IN, ReLU
 *   uC        nearest-neighbour 2x resize, reflection pad 1, 3x3 conv,  C, IN, ReLU
 *   c9s1-3    reflection pad 4, 9x9 conv, 3 (no normalization) -> 127.5 (y + 1)   (RGB, unclipped)
 *
 * Departures from the paper: upsampling is resize + conv instead of fractionally strided convolution (Odena,
 * Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016), paddings are reflections (as in
 * pytorch/examples' fast_neural_style), and the output is linear (no scaled tanh).
 *
 * Any input size works: `stylizeWithNet` pads the image by reflection (a margin, and up to a multiple of 4 so
 * the two stride-2 convolutions and two 2x resizes give back the same size), runs the network and crops back.
 */
import { ConvlabError, imageToTensor, seededRandom, tensorToImage, tf, type RgbImage, type Tensor, type Tensor4D, type Variable } from '@convlab/core';

let netCount = 0;

/** The hyper-parameters that shape the network (saved in its manifest). */
export interface TransformNetConfig {
  /** Channel width C of the first layer (2C, 4C after the downsampling convs). Johnson et al.: 32. */
  channels: number;
  /** Residual blocks at 1/4 resolution. Johnson et al.: 5. */
  residualBlocks: number;
}

export const DEFAULT_TRANSFORM_CONFIG: TransformNetConfig = { channels: 32, residualBlocks: 5 };

/** A convolution layer's parameters: kernel [k, k, in, out] and bias; IN scale/shift when normalised. */
interface ConvSpec {
  name: string;
  kernel: number;
  inC: number;
  outC: number;
  norm: boolean;
}

/** The convolution layers in order, with the names their weights are saved under. */
export function transformLayers(config: TransformNetConfig): ConvSpec[] {
  const c = config.channels;
  const specs: ConvSpec[] = [
    { name: 'conv1', kernel: 9, inC: 3, outC: c, norm: true },
    { name: 'down1', kernel: 3, inC: c, outC: 2 * c, norm: true },
    { name: 'down2', kernel: 3, inC: 2 * c, outC: 4 * c, norm: true },
  ];
  for (let r = 1; r <= config.residualBlocks; r++) {
    specs.push({ name: `res${r}a`, kernel: 3, inC: 4 * c, outC: 4 * c, norm: true }, { name: `res${r}b`, kernel: 3, inC: 4 * c, outC: 4 * c, norm: true });
  }
  specs.push(
    { name: 'up1', kernel: 3, inC: 4 * c, outC: 2 * c, norm: true },
    { name: 'up2', kernel: 3, inC: 2 * c, outC: c, norm: true },
    { name: 'out', kernel: 9, inC: c, outC: 3, norm: false },
  );
  return specs;
}

/** The names and shapes of every parameter, in the order they are saved. */
export function parameterShapes(config: TransformNetConfig): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  for (const s of transformLayers(config)) {
    out.push({ name: `${s.name}/kernel`, shape: [s.kernel, s.kernel, s.inC, s.outC] }, { name: `${s.name}/bias`, shape: [s.outC] });
    if (s.norm) out.push({ name: `${s.name}/gamma`, shape: [s.outC] }, { name: `${s.name}/beta`, shape: [s.outC] });
  }
  return out;
}

export interface TransformNet {
  config: TransformNetConfig;
  /** Parameters by name (trainable tf.Variables), in parameterShapes order. */
  params: Map<string, Variable>;
  /** RGB 0..255 [n, h, w, 3] (h, w multiples of 4, at least 16) -> stylized RGB 0..255 (unclipped). */
  apply(rgb: Tensor4D): Tensor4D;
  /**
   * The same function for inference only (no gradients), in fewer passes over memory: instance norm as
   * E[x^2] - E[x]^2 (channel sums as matrix products) and one fused per-channel affine + ReLU (a 1x1
   * depthwise convolution with bias), the input scaling, conv bias and output scaling fused into the
   * convolutions, nearest-neighbour resize kernels. Equal to `apply` up to float rounding (test/fast.test.ts).
   */
  infer(rgb: Tensor4D): Tensor4D;
  /** Floats held by the parameters. */
  parameterCount(): number;
  dispose(): void;
}

/** Instance normalization (Ulyanov et al. Eq. 2) with scale gamma and shift beta per channel. */
export function instanceNorm(x: Tensor4D, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta) as Tensor4D;
  });
}

/**
 * Per-channel E[x] and E[x^2] over h and w of a [1, h, w, c] tensor, by the backend's fastest route (same
 * values to float rounding): on tfjs's cpu backend (native and cpu) as [1, hw] x [hw, c] products, since its
 * reductions over leading axes convert coordinates per element (tf.mean: 760 ms of CPU for [1,512,512,16]
 * against 7 ms for the product); on wasm as means (the product with one row is its slow path there: 160-220
 * ms against 31-39 ms). Measured with process CPU time on the development VMs.
 */
export function channelMeans(x: Tensor4D, count: number, c: number): { mean: Tensor; meanSquare: Tensor } {
  if (tf.getBackend() === 'wasm') {
    return { mean: tf.reshape(tf.mean(x, [1, 2]), [c]), meanSquare: tf.reshape(tf.mean(tf.square(x), [1, 2]), [c]) };
  }
  const flat = tf.reshape(x, [count, c]);
  const ones = tf.fill([1, count], 1 / count);
  return { mean: tf.reshape(tf.matMul(ones, flat), [c]), meanSquare: tf.reshape(tf.matMul(ones, tf.square(flat)), [c]) };
}

/** Reflection padding of p pixels on each side of h and w. */
function reflect(x: Tensor4D, p: number): Tensor4D {
  return tf.mirrorPad(x, [[0, 0], [p, p], [p, p], [0, 0]], 'reflect');
}

/**
 * Nearest-neighbour 2x upsampling from concat + reshape only (every backend has their gradients; wasm has no
 * ResizeNearestNeighborGrad): duplicate each pixel along w, then each row along h.
 */
export function upsampleNearest2x(x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const cols = tf.reshape(tf.concat([x, x], 3), [n, h, 2 * w, c]);
    return tf.reshape(tf.concat([cols, cols], 2), [n, 2 * h, 2 * w, c]) as Tensor4D;
  });
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32; @convlab/core's, re-exported for this module's users). */
export { seededRandom };

/**
 * Build a transformation network. Without `weights`, kernels are He-uniform from `seed` (bias 0, gamma 1,
 * beta 0), as torch's default init; with them, each named parameter is taken from the map (shapes checked).
 */
export function createTransformNet(config: TransformNetConfig = DEFAULT_TRANSFORM_CONFIG, options: { seed?: number; weights?: Map<string, Float32Array> } = {}): TransformNet {
  if (!(Number.isInteger(config.channels) && config.channels >= 1 && config.channels <= 256)) {
    throw new ConvlabError(`transformation network: channels ${config.channels} must be a whole number in 1..256`);
  }
  if (!(Number.isInteger(config.residualBlocks) && config.residualBlocks >= 0 && config.residualBlocks <= 32)) {
    throw new ConvlabError(`transformation network: residualBlocks ${config.residualBlocks} must be a whole number in 0..32`);
  }
  const rand = seededRandom(options.seed ?? 0);
  const params = new Map<string, Variable>();
  const id = ++netCount;
  const fanIn = new Map(transformLayers(config).map((s) => [s.name, s.kernel * s.kernel * s.inC]));
  for (const { name, shape } of parameterShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    const given = options.weights?.get(name);
    if (options.weights) {
      if (!given) throw new ConvlabError(`transformation network weights: "${name}" is missing`, { hint: 'the weights file does not match its manifest; retrain or re-export it' });
      if (given.length !== size) throw new ConvlabError(`transformation network weights: "${name}" has ${given.length} values, expected ${size} for shape [${shape.join(', ')}]`);
      values = given;
    } else {
      values = new Float32Array(size);
      const [layer, kind] = name.split('/');
      if (kind === 'kernel') {
        const bound = Math.sqrt(6 / fanIn.get(layer)!) * (layer === 'out' ? 0.1 : 1);
        for (let i = 0; i < size; i++) values[i] = (2 * rand() - 1) * bound;
      } else if (kind === 'gamma') values.fill(1);
    }
    const initial = tf.tensor(values, shape);
    params.set(name, tf.variable(initial, true, `fast${id}/${name}`));
    initial.dispose();
  }
  const p = (name: string) => params.get(name)!;
  const conv = (x: Tensor4D, layer: string, kernel: number, stride: number): Tensor4D => {
    const pad = (kernel - 1) / 2;
    const y = tf.add(tf.conv2d(reflect(x, pad), p(`${layer}/kernel`) as Tensor4D, stride, 'valid'), p(`${layer}/bias`)) as Tensor4D;
    return y;
  };
  const convNormRelu = (x: Tensor4D, layer: string, kernel: number, stride: number) => tf.relu(instanceNorm(conv(x, layer, kernel, stride), p(`${layer}/gamma`), p(`${layer}/beta`)));
  return {
    config,
    params,
    apply(rgb) {
      const [, h, w] = rgb.shape;
      if (h % 4 !== 0 || w % 4 !== 0 || h < 16 || w < 16) {
        throw new ConvlabError(`transformation network: input ${w}x${h} must have sides that are multiples of 4 and at least 16`, { hint: 'use stylizeWithNet, which pads any image' });
      }
      return tf.tidy(() => {
        let x = tf.sub(tf.div(rgb, 127.5), 1) as Tensor4D;
        x = convNormRelu(x, 'conv1', 9, 1);
        x = convNormRelu(x, 'down1', 3, 2);
        x = convNormRelu(x, 'down2', 3, 2);
        for (let r = 1; r <= config.residualBlocks; r++) {
          const a = convNormRelu(x, `res${r}a`, 3, 1);
          x = tf.add(x, instanceNorm(conv(a, `res${r}b`, 3, 1), p(`res${r}b/gamma`), p(`res${r}b/beta`))) as Tensor4D;
        }
        x = convNormRelu(upsampleNearest2x(x), 'up1', 3, 1);
        x = convNormRelu(upsampleNearest2x(x), 'up2', 3, 1);
        return tf.mul(tf.add(conv(x, 'out', 9, 1), 1), 127.5) as Tensor4D;
      });
    },
    infer(rgb) {
      const [n, h, w] = rgb.shape;
      if (h % 4 !== 0 || w % 4 !== 0 || h < 16 || w < 16) {
        throw new ConvlabError(`transformation network: input ${w}x${h} must have sides that are multiples of 4 and at least 16`, { hint: 'use stylizeWithNet, which pads any image' });
      }
      if (n !== 1) return tf.tidy(() => tf.concat(Array.from({ length: n }, (_, i) => this.infer(tf.slice(rgb, [i, 0, 0, 0], [1, -1, -1, -1]))), 0) as Tensor4D);
      return tf.tidy(() => {
        const convB = (x: Tensor4D, layer: string, kernel: number, stride: number, scale = 1, shift = 0) => {
          const k = scale === 1 ? p(`${layer}/kernel`) : tf.mul(p(`${layer}/kernel`), scale);
          const b = scale === 1 && shift === 0 ? p(`${layer}/bias`) : tf.mul(tf.add(p(`${layer}/bias`), shift), scale);
          return tf.fused.conv2d({ x: reflect(x, (kernel - 1) / 2), filter: k as Tensor4D, strides: stride, pad: 'valid', bias: b }) as Tensor4D;
        };
        /** IN with gamma/beta, then ReLU or not, as one per-channel affine (depthwise 1x1 conv + bias). */
        const norm = (x: Tensor4D, layer: string, relu: boolean) => {
          const [, hh, ww, c] = x.shape;
          const count = hh * ww;
          // Channel sums as [1, hw] x [hw, c] products (a BLAS/oneDNN call; reductions over leading axes are slow kernels).
          const { mean, meanSquare } = channelMeans(x, count, c);
          const variance = tf.relu(tf.sub(meanSquare, tf.square(mean)));
          const scale = tf.div(p(`${layer}/gamma`), tf.sqrt(tf.add(variance, 1e-5)));
          const shift = tf.sub(p(`${layer}/beta`), tf.mul(mean, scale));
          return tf.fused.depthwiseConv2d({ x, filter: tf.reshape(scale, [1, 1, c, 1]) as Tensor4D, strides: 1, pad: 'valid', bias: shift, activation: relu ? 'relu' : 'linear' }) as Tensor4D;
        };
        // x / 127.5 - 1 folded into the first convolution: conv(x s - 1) = s conv(x) - sum(k) (reflection keeps constants constant).
        const k1 = p('conv1/kernel');
        const first = tf.fused.conv2d({
          x: reflect(rgb, 4),
          filter: tf.div(k1, 127.5) as Tensor4D,
          strides: 1,
          pad: 'valid',
          bias: tf.sub(p('conv1/bias'), tf.sum(k1, [0, 1, 2])),
        }) as Tensor4D;
        let x = norm(first, 'conv1', true);
        x = norm(convB(x, 'down1', 3, 2), 'down1', true);
        x = norm(convB(x, 'down2', 3, 2), 'down2', true);
        for (let r = 1; r <= config.residualBlocks; r++) {
          const a = norm(convB(x, `res${r}a`, 3, 1), `res${r}a`, true);
          x = tf.add(x, norm(convB(a, `res${r}b`, 3, 1), `res${r}b`, false)) as Tensor4D;
        }
        const up = (t: Tensor4D) => tf.image.resizeNearestNeighbor(t, [t.shape[1] * 2, t.shape[2] * 2]);
        x = norm(convB(up(x), 'up1', 3, 1), 'up1', true);
        x = norm(convB(up(x), 'up2', 3, 1), 'up2', true);
        // 127.5 (conv(x) + b + 1)
        return convB(x, 'out', 9, 1, 127.5, 1);
      });
    },
    parameterCount: () => [...params.values()].reduce((a, v) => a + v.size, 0),
    dispose() {
      for (const v of params.values()) v.dispose();
      params.clear();
    },
  };
}

/** Reflection padding of p (< side) pixels from single-row/column slices and one concat per axis (no MirrorPad kernel). */
export function reflectSlices(x: Tensor4D, p: number): Tensor4D {
  if (p === 0) return x;
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const row = (i: number) => tf.slice(x, [0, i, 0, 0], [-1, 1, -1, -1]);
    const top = Array.from({ length: p }, (_, i) => row(p - i));
    const bottom = Array.from({ length: p }, (_, i) => row(h - 2 - i));
    const y = tf.concat([...top, x, ...bottom], 1) as Tensor4D;
    const col = (j: number) => tf.slice(y, [0, 0, j, 0], [-1, -1, 1, -1]);
    const left = Array.from({ length: p }, (_, j) => col(p - j));
    const right = Array.from({ length: p }, (_, j) => col(w - 2 - j));
    return tf.concat([...left, y, ...right], 2) as Tensor4D;
  });
}

/** Reflection padding by any amount (repeated where one reflection cannot reach, i.e. pad >= side). */
export function reflectPad(x: Tensor4D, top: number, bottom: number, left: number, right: number): Tensor4D {
  return tf.tidy(() => {
    let y = x;
    let [t, b, l, r] = [top, bottom, left, right];
    while (t > 0 || b > 0 || l > 0 || r > 0) {
      const [, h, w] = y.shape;
      if (h < 2 && (t > 0 || b > 0)) {
        y = tf.concat([y, y], 1) as Tensor4D; // a 1-px image: copy it before it can be reflected
        b = Math.max(0, b - 1);
        continue;
      }
      if (w < 2 && (l > 0 || r > 0)) {
        y = tf.concat([y, y], 2) as Tensor4D;
        r = Math.max(0, r - 1);
        continue;
      }
      const st = Math.min(t, h - 1);
      const sb = Math.min(b, h - 1);
      const sl = Math.min(l, w - 1);
      const sr = Math.min(r, w - 1);
      y = tf.mirrorPad(y, [[0, 0], [st, sb], [sl, sr], [0, 0]], 'reflect');
      [t, b, l, r] = [t - st, b - sb, l - sl, r - sr];
    }
    return y;
  });
}

/** Reflection margin around an image before the network (the 9x9 stem and the residual blocks see no borders). */
export const APPLY_MARGIN = 16;

/**
 * The padding that makes an h x w image a valid input: a reflected margin on each side, plus up to 3 more
 * pixels so both sides become multiples of 4.
 */
export function applyPadding(h: number, w: number, margin = APPLY_MARGIN): { top: number; bottom: number; left: number; right: number } {
  const extraH = (4 - ((h + 2 * margin) % 4)) % 4;
  const extraW = (4 - ((w + 2 * margin) % 4)) % 4;
  return { top: margin, bottom: margin + extraH, left: margin, right: margin + extraW };
}

/** Stylize RGB 0..255 [n, h, w, 3] of any size (inference: `infer`): pad by reflection, run the network, crop back. Unclipped. */
export function stylizeTensor(net: TransformNet, rgb: Tensor4D, margin = APPLY_MARGIN): Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = rgb.shape;
    const pad = applyPadding(h, w, margin);
    const y = net.infer(reflectPad(rgb, pad.top, pad.bottom, pad.left, pad.right));
    return tf.slice(y, [0, pad.top, pad.left, 0], [rgb.shape[0], h, w, 3]) as Tensor4D;
  });
}

/** Stylize an image of any size with a trained network; the result has the input's size. */
export async function stylizeWithNet(net: TransformNet, image: RgbImage): Promise<RgbImage> {
  if (image.width < 1 || image.height < 1) throw new ConvlabError(`cannot stylize an empty ${image.width}x${image.height} image`);
  const out = tf.tidy(() => stylizeTensor(net, tf.expandDims(imageToTensor(image), 0) as Tensor4D));
  try {
    return await tensorToImage(out);
  } finally {
    out.dispose();
  }
}
