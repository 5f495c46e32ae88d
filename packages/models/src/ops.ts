/**
 * Differentiable building blocks for the graph executor: ReLU-like nonlinearities with the deconvnet /
 * guided backward rules, and convolutions whose input gradient is itself a forward convolution.
 *
 * Why the conv gradients: tfjs-backend-wasm has no DepthwiseConv2dNativeBackpropInput kernel (MobileNetV2
 * cannot be differentiated w.r.t. its input there) and its Conv2DBackpropInput is a naive loop, several
 * times slower than a forward conv (DESIGN.md). The input gradient of a convolution is the full
 * correlation of the (stride-dilated) output gradient with the spatially flipped, in/out-swapped filter,
 * so we compute it with the backend's fast forward kernels.
 */
import { tf } from '@convlab/core';
import type { ConvGradientMode, ReluBackward } from './types.js';

export type { ConvGradientMode } from './types.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;
type SaveFn = (tensors: Tensor[]) => void;

/** tf.customGrad for a single-input op: `backward(dy, saved)` returns dx. */
function singleInputGrad(
  forward: (x: Tensor, save: SaveFn) => Tensor,
  backward: (dy: Tensor, saved: Tensor[]) => Tensor,
): (x: Tensor) => Tensor {
  const f = tf.customGrad(((...args: unknown[]) => {
    const x = args[0] as Tensor;
    const save = args[1] as SaveFn;
    return { value: forward(x, save), gradFunc: (dy: Tensor, saved: Tensor[]) => [backward(dy, saved)] };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (x) => f(x) as Tensor;
}

/** relu or relu6 with the requested backward rule. Forward values are always the ordinary ones. */
export function reluLike(x: Tensor, cap6: boolean, mode: ReluBackward = 'normal'): Tensor {
  if (mode === 'normal') return cap6 ? tf.relu6(x) : tf.relu(x);
  return singleInputGrad(
    (input, save) => {
      save([input]);
      return cap6 ? tf.relu6(input) : tf.relu(input);
    },
    (dy, saved) => {
      const xs = saved[0];
      let g = tf.relu(dy);
      // Zeiler & Fergus's rule ignores the forward values; guided backprop adds only the x > 0 gate.
      // Neither stops at relu6's cap: the strongest MobileNetV2 activations sit at 6, and cutting
      // there would project exactly the activations a top-9 search picks to an all-zero image.
      if (mode === 'guided') g = tf.mul(g, tf.step(xs));
      return g;
    },
  )(x);
}

export type Padding = 'same' | 'valid';

/** Leading (top/left) padding and output size along one axis, as TensorFlow computes them. */
function axisGeometry(size: number, k: number, s: number, d: number, padding: Padding): { out: number; before: number } {
  const keff = (k - 1) * d + 1;
  if (padding === 'valid') return { out: Math.ceil((size - keff + 1) / s), before: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + keff - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/**
 * Turn dy [n, oh, ow, c] into the tensor whose valid correlation with the flipped filter is dx:
 * insert (stride - 1) zeros between rows/columns, then pad (or crop) so the result has the right size.
 */
function spreadGradient(
  dy: Tensor4D,
  inSize: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
  padding: Padding,
): Tensor4D {
  const [n, oh, ow, c] = dy.shape;
  let g = dy;
  if (strides[0] > 1 || strides[1] > 1) {
    const [sh, sw] = strides;
    const r = tf.reshape(dy, [n, oh, 1, ow, 1, c]);
    const p = tf.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    g = tf.reshape(p, [n, oh * sh, ow * sw, c]) as Tensor4D;
    g = tf.slice(g, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]);
  }
  const pads: [number, number][] = [];
  for (let a = 0; a < 2; a++) {
    const { before } = axisGeometry(inSize[a], kernel[a], strides[a], dilation[a], padding);
    const keff = (kernel[a] - 1) * dilation[a] + 1;
    const front = keff - 1 - before;
    const back = inSize[a] + before - (a === 0 ? (oh - 1) * strides[0] : (ow - 1) * strides[1]) - 1;
    pads.push([front, back]);
  }
  const positive = pads.map(([f, b]) => [Math.max(f, 0), Math.max(b, 0)] as [number, number]);
  if (positive.some(([f, b]) => f > 0 || b > 0)) {
    g = tf.pad(g, [[0, 0], positive[0], positive[1], [0, 0]]);
  }
  if (pads.some(([f, b]) => f < 0 || b < 0)) {
    const begin = [0, Math.max(-pads[0][0], 0), Math.max(-pads[1][0], 0), 0];
    const size = [
      -1,
      g.shape[1] - begin[1] - Math.max(-pads[0][1], 0),
      g.shape[2] - begin[2] - Math.max(-pads[1][1], 0),
      -1,
    ];
    g = tf.slice(g, begin, size);
  }
  return g;
}

/**
 * Whether a conv's input gradient is computed with forward convolutions (see ConvGradientMode in
 * types.ts). 'auto': where the backend has no usable kernel: depthwise convs where
 * DepthwiseConv2dNativeBackpropInput is missing, every conv on a stock wasm backend (its
 * Conv2DBackpropInput is a naive loop; when @convlab/native's wasm kernels are installed, which register
 * the missing depthwise kernel, tfjs's own path is used: measured 0.87 s vs 1.37 s for a MobileNetV2
 * input gradient at 224), and dilated convs (tfjs's gradients refuse dilation > 1). 'tfjs' still uses
 * forward convolutions for dilated convs.
 */
function useForwardConvGrad(mode: ConvGradientMode, depthwise: boolean, dilation: [number, number]): boolean {
  if (mode === 'forward-conv') return true;
  if (dilation[0] > 1 || dilation[1] > 1) return true;
  if (mode === 'tfjs') return false;
  const backend = tf.getBackend();
  const hasDepthwiseGrad = tf.getKernel('DepthwiseConv2dNativeBackpropInput', backend) !== undefined;
  if (depthwise) return !hasDepthwiseGrad;
  return backend === 'wasm' && !hasDepthwiseGrad;
}

/** conv2d (NHWC, filter [kh, kw, cin, cout]) whose input gradient is a forward conv2d. */
export function conv2d(
  x: Tensor4D,
  filter: Tensor4D,
  strides: [number, number],
  padding: Padding,
  dilation: [number, number],
  mode: ConvGradientMode = 'auto',
): Tensor4D {
  if (!useForwardConvGrad(mode, false, dilation) || !tf.engine().isTapeOn()) return tf.conv2d(x, filter, strides, padding, 'NHWC', dilation);
  const [kh, kw] = filter.shape;
  return singleInputGrad(
    (input) => tf.conv2d(input as Tensor4D, filter, strides, padding, 'NHWC', dilation),
    (dy) => {
      const spread = spreadGradient(dy as Tensor4D, [x.shape[1], x.shape[2]], [kh, kw], strides, dilation, padding);
      const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
      return tf.conv2d(spread, flipped, 1, 'valid', 'NHWC', dilation);
    },
  )(x) as Tensor4D;
}

/** ConvlabReluGrad: relu's gradient in one pass, registered on the cpu backend by @convlab/native (not a dependency here). */
const RELU_GRAD = 'ConvlabReluGrad';

/** dy * [y > 0] (NaN where y is NaN): the one-pass kernel where the backend has it, else tfjs's mul(dy, step(y)), bit-identical. */
function reluMask(dy: Tensor4D, y: Tensor4D): Tensor4D {
  const backend = tf.getBackend();
  if (tf.getKernel(RELU_GRAD, backend) && dy.dtype === 'float32' && y.dtype === 'float32') return tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as Tensor4D;
  return tf.mul(dy, tf.step(y)) as Tensor4D;
}

/**
 * activation(conv2d(x, filter) + bias) with frozen weights: one FusedConv2D kernel forward (one output tensor
 * instead of conv, bias, batch norm and relu each writing one), and a backward pass that computes only the
 * input gradient, from the saved output: dx = conv2d^T(dy * [y > 0]) for relu, conv2d^T(dy) for linear. The
 * filter and bias get no gradient, so this is for work that differentiates with respect to the image (style
 * transfer, feature visualization), never for training the weights. Dilation 1 only.
 */
export function frozenConv2d(
  x: Tensor4D,
  filter: Tensor4D,
  bias: Tensor | undefined,
  strides: [number, number],
  padding: Padding,
  activation: 'linear' | 'relu',
  mode: ConvGradientMode = 'auto',
): Tensor4D {
  const fused = (input: Tensor4D) => tf.fused.conv2d({ x: input, filter, strides, pad: padding, dataFormat: 'NHWC', bias, activation });
  if (!tf.engine().isTapeOn()) return fused(x);
  const forwardGrad = useForwardConvGrad(mode, false, [1, 1]);
  const [kh, kw] = filter.shape;
  const f = tf.customGrad(((...args: unknown[]) => {
    const input = args[0] as Tensor4D;
    const save = args[1] as SaveFn;
    // runKernel directly: under a tape tf.fused.conv2d records its own (filter-computing) gradient.
    const inputs: Record<string, Tensor> = { x: input, filter };
    if (bias) inputs.bias = bias;
    const y = tf.engine().runKernel('FusedConv2D', inputs, { strides, pad: padding, dataFormat: 'NHWC', dilations: 1, activation } as never) as Tensor4D;
    save([y]);
    return {
      value: y,
      // tfjs runs a custom gradient outside any tidy of its own; the masked gradient goes at once.
      gradFunc: (dy: Tensor4D, saved: Tensor[]) =>
        tf.tidy(() => {
          const g = activation === 'relu' ? reluMask(dy, saved[0] as Tensor4D) : dy;
          if (!forwardGrad) return tf.conv2dTranspose(g, filter, input.shape, strides, padding);
          const spread = spreadGradient(g, [input.shape[1], input.shape[2]], [kh, kw], strides, [1, 1], padding);
          const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
          return tf.conv2d(spread, flipped, 1, 'valid', 'NHWC', 1);
        }),
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return f(x) as Tensor4D;
}

/** depthwiseConv2d (filter [kh, kw, c, multiplier]) whose input gradient is a forward depthwise conv. */
export function depthwiseConv2d(
  x: Tensor4D,
  filter: Tensor4D,
  strides: [number, number],
  padding: Padding,
  dilation: [number, number],
  mode: ConvGradientMode = 'auto',
): Tensor4D {
  const multiplier = filter.shape[3];
  if (!useForwardConvGrad(mode, true, dilation) || !tf.engine().isTapeOn()) {
    return tf.depthwiseConv2d(x, filter, strides, padding, 'NHWC', dilation);
  }
  const [kh, kw, c] = filter.shape;
  return singleInputGrad(
    (input) => tf.depthwiseConv2d(input as Tensor4D, filter, strides, padding, 'NHWC', dilation),
    (dy) => {
      const spread = spreadGradient(dy as Tensor4D, [x.shape[1], x.shape[2]], [kh, kw], strides, dilation, padding);
      const flipped = tf.reverse(filter, [0, 1]) as Tensor4D;
      if (multiplier === 1) return tf.depthwiseConv2d(spread, flipped, 1, 'valid', 'NHWC', dilation);
      // Channel multiplier m: output channel c*m+j came from input channel c. As a grouped conv this is
      // a dense conv with a block-diagonal filter [kh, kw, c*m, c].
      const eye = tf.reshape(tf.eye(c), [1, 1, c, 1, c]);
      const blocks = tf.mul(tf.reshape(flipped, [kh, kw, c, multiplier, 1]), eye);
      const dense = tf.reshape(blocks, [kh, kw, c * multiplier, c]) as Tensor4D;
      return tf.conv2d(spread, dense, 1, 'valid', 'NHWC', dilation);
    },
  )(x) as Tensor4D;
}
