/**
 * A float64 reference for the kernels convlab's executor and apps use, and for their gradients
 * (vector-Jacobian products: given the upstream gradient dy, the gradient of sum(f(x) * dy) for each
 * input). Plain loops over Float64Arrays, written from the definitions and independent of tfjs: the
 * padding geometry is TensorFlow's (computed here, not by tfjs's backend_util).
 *
 * Conventions (TensorFlow's unless said otherwise):
 * - NHWC tensors, conv filters [kh, kw, cin, cout], depthwise filters [kh, kw, c, multiplier] with
 *   output channel c * multiplier + j.
 * - 'same': out = ceil(in / stride), total padding max((out - 1) * stride + k_eff - in, 0), the
 *   smaller half before. 'valid': out = ceil((in - k_eff + 1) / stride).
 * - Max pooling: padded positions are -inf (never the max); the gradient of a window goes to its
 *   FIRST maximum in row-major (y, then x) order.
 * - Average pooling: the mean over the valid (non-padded) positions of the window, so its gradient
 *   divides by that count.
 * - Relu'(0) = 0. Relu6'(x) = 1 for 0 < x <= 6: tfjs's convention, which every tfjs backend follows
 *   (TensorFlow and PyTorch use 0 < x < 6; they differ only at exactly x = 6).
 */

export interface Arr {
  v: Float64Array;
  shape: number[];
}

export type Padding = 'same' | 'valid';

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function arr(shape: number[], v?: Float64Array): Arr {
  return { v: v ?? new Float64Array(size(shape)), shape };
}

/** Output size and leading padding along one axis. */
export function axisGeometry(inSize: number, k: number, stride: number, dilation: number, pad: Padding): { out: number; before: number } {
  const keff = (k - 1) * dilation + 1;
  if (pad === 'valid') return { out: Math.ceil((inSize - keff + 1) / stride), before: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + keff - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

interface Geometry {
  n: number; ih: number; iw: number; oh: number; ow: number; top: number; left: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
}

function geometry(xShape: number[], kh: number, kw: number, stride: number, pad: Padding, dilation = 1): Geometry {
  const [n, ih, iw] = xShape;
  const gy = axisGeometry(ih, kh, stride, dilation, pad), gx = axisGeometry(iw, kw, stride, dilation, pad);
  return { n, ih, iw, oh: gy.out, ow: gx.out, top: gy.before, left: gx.before, kh, kw, sh: stride, sw: stride, dh: dilation, dw: dilation };
}

/** Calls visit(outIndexBase, inPixelBase, filterTap) for every valid (output, tap) pair; bases are pixel offsets. */
function forEachTap(g: Geometry, visit: (outPixel: number, inPixel: number, tap: number) => void): void {
  for (let b = 0; b < g.n; b++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        const outPixel = (b * g.oh + oy) * g.ow + ox;
        for (let fy = 0; fy < g.kh; fy++) {
          const iy = oy * g.sh - g.top + fy * g.dh;
          if (iy < 0 || iy >= g.ih) continue;
          for (let fx = 0; fx < g.kw; fx++) {
            const ix = ox * g.sw - g.left + fx * g.dw;
            if (ix < 0 || ix >= g.iw) continue;
            visit(outPixel, (b * g.ih + iy) * g.iw + ix, fy * g.kw + fx);
          }
        }
      }
    }
  }
}

// ---------- convolutions ----------

export function conv2d(x: Arr, w: Arr, stride: number, pad: Padding, dilation = 1): Arr {
  const [kh, kw, ci, co] = w.shape;
  const g = geometry(x.shape, kh, kw, stride, pad, dilation);
  const y = arr([g.n, g.oh, g.ow, co]);
  forEachTap(g, (op, ip, tap) => {
    for (let i = 0; i < ci; i++) {
      const xv = x.v[ip * ci + i];
      const wOff = (tap * ci + i) * co;
      for (let o = 0; o < co; o++) y.v[op * co + o] += xv * w.v[wOff + o];
    }
  });
  return y;
}

export function conv2dGrad(x: Arr, w: Arr, dy: Arr, stride: number, pad: Padding, dilation = 1): { x: Arr; filter: Arr } {
  const [kh, kw, ci, co] = w.shape;
  const g = geometry(x.shape, kh, kw, stride, pad, dilation);
  const dx = arr(x.shape), dw = arr(w.shape);
  forEachTap(g, (op, ip, tap) => {
    for (let i = 0; i < ci; i++) {
      const wOff = (tap * ci + i) * co;
      let s = 0;
      for (let o = 0; o < co; o++) {
        s += w.v[wOff + o] * dy.v[op * co + o];
        dw.v[wOff + o] += x.v[ip * ci + i] * dy.v[op * co + o];
      }
      dx.v[ip * ci + i] += s;
    }
  });
  return { x: dx, filter: dw };
}

export function depthwiseConv2d(x: Arr, w: Arr, stride: number, pad: Padding, dilation = 1): Arr {
  const [kh, kw, c, m] = w.shape;
  const g = geometry(x.shape, kh, kw, stride, pad, dilation);
  const y = arr([g.n, g.oh, g.ow, c * m]);
  forEachTap(g, (op, ip, tap) => {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < m; j++) y.v[op * c * m + ch * m + j] += x.v[ip * c + ch] * w.v[(tap * c + ch) * m + j];
    }
  });
  return y;
}

export function depthwiseConv2dGrad(x: Arr, w: Arr, dy: Arr, stride: number, pad: Padding, dilation = 1): { x: Arr; filter: Arr } {
  const [kh, kw, c, m] = w.shape;
  const g = geometry(x.shape, kh, kw, stride, pad, dilation);
  const dx = arr(x.shape), dw = arr(w.shape);
  forEachTap(g, (op, ip, tap) => {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < m; j++) {
        const gy = dy.v[op * c * m + ch * m + j];
        dx.v[ip * c + ch] += w.v[(tap * c + ch) * m + j] * gy;
        dw.v[(tap * c + ch) * m + j] += x.v[ip * c + ch] * gy;
      }
    }
  });
  return { x: dx, filter: dw };
}

// ---------- pooling ----------

export function maxPool(x: Arr, k: number, stride: number, pad: Padding): Arr {
  const c = x.shape[3];
  const g = geometry(x.shape, k, k, stride, pad);
  const y = arr([g.n, g.oh, g.ow, c]);
  y.v.fill(-Infinity);
  forEachTap(g, (op, ip) => {
    for (let ch = 0; ch < c; ch++) if (x.v[ip * c + ch] > y.v[op * c + ch]) y.v[op * c + ch] = x.v[ip * c + ch];
  });
  return y;
}

/** The first maximum of each window (row-major) takes the window's gradient. */
export function maxPoolGrad(x: Arr, dy: Arr, k: number, stride: number, pad: Padding): Arr {
  const c = x.shape[3];
  const g = geometry(x.shape, k, k, stride, pad);
  const outPixels = g.n * g.oh * g.ow;
  const best = new Float64Array(outPixels * c).fill(-Infinity);
  const arg = new Int32Array(outPixels * c).fill(-1);
  forEachTap(g, (op, ip) => {
    for (let ch = 0; ch < c; ch++) {
      const v = x.v[ip * c + ch];
      if (arg[op * c + ch] < 0 || v > best[op * c + ch]) {
        best[op * c + ch] = v;
        arg[op * c + ch] = ip * c + ch;
      }
    }
  });
  const dx = arr(x.shape);
  for (let i = 0; i < arg.length; i++) if (arg[i] >= 0) dx.v[arg[i]] += dy.v[i];
  return dx;
}

function validCounts(g: Geometry): Float64Array {
  const counts = new Float64Array(g.n * g.oh * g.ow);
  forEachTap(g, (op) => counts[op]++);
  return counts;
}

export function avgPool(x: Arr, k: number, stride: number, pad: Padding): Arr {
  const c = x.shape[3];
  const g = geometry(x.shape, k, k, stride, pad);
  const y = arr([g.n, g.oh, g.ow, c]);
  forEachTap(g, (op, ip) => {
    for (let ch = 0; ch < c; ch++) y.v[op * c + ch] += x.v[ip * c + ch];
  });
  const counts = validCounts(g);
  for (let i = 0; i < y.v.length; i++) y.v[i] /= counts[Math.floor(i / c)];
  return y;
}

export function avgPoolGrad(x: Arr, dy: Arr, k: number, stride: number, pad: Padding): Arr {
  const c = x.shape[3];
  const g = geometry(x.shape, k, k, stride, pad);
  const counts = validCounts(g);
  const dx = arr(x.shape);
  forEachTap(g, (op, ip) => {
    for (let ch = 0; ch < c; ch++) dx.v[ip * c + ch] += dy.v[op * c + ch] / counts[op];
  });
  return dx;
}

// ---------- matrix products ----------

/** [..., r, c] -> element (batch, i, j) of op(A) where op transposes when t. */
function matAt(a: Arr, t: boolean, batch: number, i: number, j: number): number {
  const r = a.shape[a.shape.length - 2], c = a.shape[a.shape.length - 1];
  const b = size(a.shape.slice(0, -2)) === 1 ? 0 : batch;
  return t ? a.v[b * r * c + j * c + i] : a.v[b * r * c + i * c + j];
}

function opShape(a: Arr, t: boolean): [number, number] {
  const r = a.shape[a.shape.length - 2], c = a.shape[a.shape.length - 1];
  return t ? [c, r] : [r, c];
}

/** C = op(A) op(B), batch dims broadcast when one side has a single batch. */
export function matMul(a: Arr, b: Arr, ta: boolean, tb: boolean): Arr {
  const [m, k] = opShape(a, ta), [, n] = opShape(b, tb);
  const outer = a.shape.length > b.shape.length || size(a.shape.slice(0, -2)) >= size(b.shape.slice(0, -2)) ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const batches = size(outer);
  const c = arr([...outer, m, n]);
  for (let bi = 0; bi < batches; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += matAt(a, ta, bi, i, p) * matAt(b, tb, bi, p, j);
        c.v[(bi * m + i) * n + j] = s;
      }
    }
  }
  return c;
}

export function matMulGrad(a: Arr, b: Arr, dc: Arr, ta: boolean, tb: boolean): { a: Arr; b: Arr } {
  const [m, k] = opShape(a, ta), [, n] = opShape(b, tb);
  const batches = size(dc.shape.slice(0, -2));
  const da = arr(a.shape), db = arr(b.shape);
  const aBatched = size(a.shape.slice(0, -2)) > 1, bBatched = size(b.shape.slice(0, -2)) > 1;
  const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
  for (let bi = 0; bi < batches; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const g = dc.v[(bi * m + i) * n + j];
        for (let p = 0; p < k; p++) {
          // d op(A)[i][p] += g * op(B)[p][j]; d op(B)[p][j] += op(A)[i][p] * g
          const ia = (aBatched ? bi * ar * ac : 0) + (ta ? p * ac + i : i * ac + p);
          const ib = (bBatched ? bi * br * bc : 0) + (tb ? j * bc + p : p * bc + j);
          da.v[ia] += g * matAt(b, tb, bi, p, j);
          db.v[ib] += matAt(a, ta, bi, i, p) * g;
        }
      }
    }
  }
  return { a: da, b: db };
}

// ---------- element-wise ----------

export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes ${a} and ${b} do not broadcast`);
    out.push(Math.max(da, db));
  }
  return out;
}

/** Index into `shape` (broadcast to `out`) of the flat output index i. */
function broadcastIndex(i: number, out: number[], shape: number[]): number {
  let idx = 0, stride = 1, rest = i;
  for (let d = out.length - 1; d >= 0; d--) {
    const coord = rest % out[d];
    rest = Math.floor(rest / out[d]);
    const sd = d - (out.length - shape.length);
    if (sd >= 0) {
      if (shape[sd] !== 1) idx += coord * stride;
      stride *= shape[sd];
    }
  }
  return idx;
}

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'squaredDifference' | 'maximum' | 'minimum';

const BINARY_F: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  squaredDifference: (a, b) => (a - b) * (a - b),
  maximum: Math.max,
  minimum: Math.min,
};

/** Partial derivatives (d/da, d/db). */
const BINARY_D: Record<BinaryOp, (a: number, b: number) => [number, number]> = {
  add: () => [1, 1],
  sub: () => [1, -1],
  mul: (a, b) => [b, a],
  div: (a, b) => [1 / b, -a / (b * b)],
  squaredDifference: (a, b) => [2 * (a - b), -2 * (a - b)],
  // Ties go to a (TensorFlow's and tfjs's convention).
  maximum: (a, b) => (a >= b ? [1, 0] : [0, 1]),
  minimum: (a, b) => (a <= b ? [1, 0] : [0, 1]),
};

export function binary(op: BinaryOp, a: Arr, b: Arr): Arr {
  const out = broadcastShape(a.shape, b.shape);
  const y = arr(out);
  for (let i = 0; i < y.v.length; i++) y.v[i] = BINARY_F[op](a.v[broadcastIndex(i, out, a.shape)], b.v[broadcastIndex(i, out, b.shape)]);
  return y;
}

/** Gradients reduced (summed) over the broadcast dimensions back to each operand's shape. */
export function binaryGrad(op: BinaryOp, a: Arr, b: Arr, dy: Arr): { a: Arr; b: Arr } {
  const out = broadcastShape(a.shape, b.shape);
  const da = arr(a.shape), db = arr(b.shape);
  for (let i = 0; i < dy.v.length; i++) {
    const ia = broadcastIndex(i, out, a.shape), ib = broadcastIndex(i, out, b.shape);
    const [ga, gb] = BINARY_D[op](a.v[ia], b.v[ib]);
    da.v[ia] += ga * dy.v[i];
    db.v[ib] += gb * dy.v[i];
  }
  return { a: da, b: db };
}

export type UnaryOp = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'exp' | 'square' | 'sqrt' | 'rsqrt' | 'neg' | 'elu' | 'leakyRelu';

/** tfjs's default LeakyReLU slope. */
export const LEAKY_ALPHA = 0.2;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const UNARY_F: Record<UnaryOp, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  sigmoid,
  tanh: Math.tanh,
  exp: Math.exp,
  square: (x) => x * x,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  neg: (x) => -x,
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  leakyRelu: (x) => (x > 0 ? x : LEAKY_ALPHA * x),
};

export const UNARY_D: Record<UnaryOp, (x: number) => number> = {
  relu: (x) => (x > 0 ? 1 : 0),
  relu6: (x) => (x > 0 && x <= 6 ? 1 : 0),
  sigmoid: (x) => sigmoid(x) * (1 - sigmoid(x)),
  tanh: (x) => 1 - Math.tanh(x) ** 2,
  exp: Math.exp,
  square: (x) => 2 * x,
  sqrt: (x) => 0.5 / Math.sqrt(x),
  rsqrt: (x) => -0.5 * x ** -1.5,
  neg: () => -1,
  elu: (x) => (x > 0 ? 1 : Math.exp(x)),
  leakyRelu: (x) => (x > 0 ? 1 : LEAKY_ALPHA),
};

export function unary(op: UnaryOp, x: Arr): Arr {
  return arr(x.shape, x.v.map(UNARY_F[op]));
}

export function unaryGrad(op: UnaryOp, x: Arr, dy: Arr): Arr {
  return arr(x.shape, x.v.map((v, i) => UNARY_D[op](v) * dy.v[i]));
}

// ---------- reductions ----------

function reducedShape(shape: number[], axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Flat index of the reduced element that input element i contributes to. */
function reducedIndex(i: number, shape: number[], axes: number[]): number {
  let idx = 0, stride = 1, rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const coord = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
    if (!axes.includes(d)) {
      idx += coord * stride;
      stride *= shape[d];
    }
  }
  return idx;
}

export function reduce(kind: 'sum' | 'mean', x: Arr, axes: number[], keepDims = false): Arr {
  const y = arr(reducedShape(x.shape, axes, keepDims));
  for (let i = 0; i < x.v.length; i++) y.v[reducedIndex(i, x.shape, axes)] += x.v[i];
  if (kind === 'mean') {
    const count = size(axes.map((a) => x.shape[a]));
    for (let i = 0; i < y.v.length; i++) y.v[i] /= count;
  }
  return y;
}

export function reduceGrad(kind: 'sum' | 'mean', x: Arr, axes: number[], dy: Arr): Arr {
  const scale = kind === 'mean' ? 1 / size(axes.map((a) => x.shape[a])) : 1;
  return arr(x.shape, x.v.map((_, i) => dy.v[reducedIndex(i, x.shape, axes)] * scale));
}

/** Max over axes (inputs without ties: the gradient goes to the single maximum). */
export function reduceMax(x: Arr, axes: number[]): Arr {
  const y = arr(reducedShape(x.shape, axes, false));
  y.v.fill(-Infinity);
  for (let i = 0; i < x.v.length; i++) {
    const o = reducedIndex(i, x.shape, axes);
    if (x.v[i] > y.v[o]) y.v[o] = x.v[i];
  }
  return y;
}

export function reduceMaxGrad(x: Arr, axes: number[], dy: Arr): Arr {
  const y = reduceMax(x, axes);
  return arr(x.shape, x.v.map((v, i) => (v === y.v[reducedIndex(i, x.shape, axes)] ? dy.v[reducedIndex(i, x.shape, axes)] : 0)));
}

/** Softmax over the last axis. */
export function softmax(x: Arr): Arr {
  const c = x.shape[x.shape.length - 1];
  const y = arr(x.shape);
  for (let r = 0; r < x.v.length / c; r++) {
    let mx = -Infinity;
    for (let j = 0; j < c; j++) mx = Math.max(mx, x.v[r * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += (y.v[r * c + j] = Math.exp(x.v[r * c + j] - mx));
    for (let j = 0; j < c; j++) y.v[r * c + j] /= s;
  }
  return y;
}

export function softmaxGrad(x: Arr, dy: Arr): Arr {
  const c = x.shape[x.shape.length - 1];
  const y = softmax(x);
  const dx = arr(x.shape);
  for (let r = 0; r < x.v.length / c; r++) {
    let dot = 0;
    for (let j = 0; j < c; j++) dot += y.v[r * c + j] * dy.v[r * c + j];
    for (let j = 0; j < c; j++) dx.v[r * c + j] = y.v[r * c + j] * (dy.v[r * c + j] - dot);
  }
  return dx;
}

// ---------- batch norm ----------

/**
 * Inference batch norm over the last axis: (x - mean) * gamma / sqrt(variance + eps) + beta.
 * The graph executor computes it as x * scale + shift with scale and shift folded from the statistics;
 * tf.batchNorm (FusedBatchNorm) takes the statistics directly.
 */
export function batchNorm(x: Arr, mean: Arr, variance: Arr, gamma: Arr, beta: Arr, eps: number): Arr {
  const c = x.shape[x.shape.length - 1];
  return arr(x.shape, x.v.map((v, i) => {
    const ch = i % c;
    return ((v - mean.v[ch]) * gamma.v[ch]) / Math.sqrt(variance.v[ch] + eps) + beta.v[ch];
  }));
}

export function batchNormGrad(x: Arr, mean: Arr, variance: Arr, gamma: Arr, dy: Arr, eps: number): Record<'x' | 'mean' | 'variance' | 'scale' | 'offset', Arr> {
  const c = x.shape[x.shape.length - 1];
  const dx = arr(x.shape), dm = arr([c]), dv = arr([c]), dg = arr([c]), db = arr([c]);
  for (let i = 0; i < x.v.length; i++) {
    const ch = i % c;
    const inv = 1 / Math.sqrt(variance.v[ch] + eps);
    const g = dy.v[i];
    dx.v[i] = g * gamma.v[ch] * inv;
    dm.v[ch] -= g * gamma.v[ch] * inv;
    dv.v[ch] += g * (x.v[i] - mean.v[ch]) * gamma.v[ch] * -0.5 * inv ** 3;
    dg.v[ch] += g * (x.v[i] - mean.v[ch]) * inv;
    db.v[ch] += g;
  }
  return { x: dx, mean: dm, variance: dv, scale: dg, offset: db };
}

// ---------- layout ops ----------

/** Concatenate along the last axis. */
export function concatLast(parts: Arr[]): Arr {
  const rows = size(parts[0].shape.slice(0, -1));
  const widths = parts.map((p) => p.shape[p.shape.length - 1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const y = arr([...parts[0].shape.slice(0, -1), total]);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    parts.forEach((p, k) => {
      for (let j = 0; j < widths[k]; j++) y.v[r * total + off + j] = p.v[r * widths[k] + j];
      off += widths[k];
    });
  }
  return y;
}

export function concatLastGrad(parts: Arr[], dy: Arr): Arr[] {
  const rows = size(parts[0].shape.slice(0, -1));
  const widths = parts.map((p) => p.shape[p.shape.length - 1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = parts.map((p) => arr(p.shape));
  for (let r = 0; r < rows; r++) {
    let off = 0;
    out.forEach((o, k) => {
      for (let j = 0; j < widths[k]; j++) o.v[r * widths[k] + j] = dy.v[r * total + off + j];
      off += widths[k];
    });
  }
  return out;
}

/** Zero padding of the spatial axes of an NHWC tensor. */
export function pad2d(x: Arr, [[t, b], [l, r]]: [[number, number], [number, number]]): Arr {
  const [n, h, w, c] = x.shape;
  const H = h + t + b, W = w + l + r;
  const y = arr([n, H, W, c]);
  for (let bi = 0; bi < n; bi++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < c; ch++) {
    y.v[((bi * H + i + t) * W + j + l) * c + ch] = x.v[((bi * h + i) * w + j) * c + ch];
  }
  return y;
}

export function pad2dGrad(x: Arr, [[t], [l]]: [[number, number], [number, number]], dy: Arr): Arr {
  const [n, h, w, c] = x.shape;
  const H = dy.shape[1], W = dy.shape[2];
  const dx = arr(x.shape);
  for (let bi = 0; bi < n; bi++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < c; ch++) {
    dx.v[((bi * h + i) * w + j) * c + ch] = dy.v[((bi * H + i + t) * W + j + l) * c + ch];
  }
  return dx;
}

/** Strides of a row-major shape. */
function strides(shape: number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) out[d] = out[d + 1] * shape[d + 1];
  return out;
}

/** Calls visit(outIndex, inIndex) for every element of an output of `outShape` read from `inShape` at map(coords). */
function gather(outShape: number[], inShape: number[], map: (coords: number[]) => number[], visit: (o: number, i: number) => void): void {
  const inStrides = strides(inShape);
  const coords = new Array<number>(outShape.length).fill(0);
  const n = size(outShape);
  for (let o = 0; o < n; o++) {
    let rest = o;
    for (let d = outShape.length - 1; d >= 0; d--) {
      coords[d] = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
    }
    const src = map(coords);
    visit(o, src.reduce((a, c, d) => a + c * inStrides[d], 0));
  }
}

export function slice(x: Arr, begin: number[], sizes: number[]): Arr {
  const y = arr(sizes);
  gather(sizes, x.shape, (c) => c.map((v, d) => v + begin[d]), (o, i) => (y.v[o] = x.v[i]));
  return y;
}

export function sliceGrad(x: Arr, begin: number[], dy: Arr): Arr {
  const dx = arr(x.shape);
  gather(dy.shape, x.shape, (c) => c.map((v, d) => v + begin[d]), (o, i) => (dx.v[i] += dy.v[o]));
  return dx;
}

export function transpose(x: Arr, perm: number[]): Arr {
  const outShape = perm.map((p) => x.shape[p]);
  const y = arr(outShape);
  // Output axis d is input axis perm[d].
  gather(outShape, x.shape, (c) => {
    const src = new Array<number>(c.length);
    perm.forEach((p, d) => (src[p] = c[d]));
    return src;
  }, (o, i) => (y.v[o] = x.v[i]));
  return y;
}

export function transposeGrad(x: Arr, perm: number[], dy: Arr): Arr {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, d) => (inverse[p] = d));
  return transpose(dy, inverse);
}

export function reverse(x: Arr, axes: number[]): Arr {
  const y = arr(x.shape);
  gather(x.shape, x.shape, (c) => c.map((v, d) => (axes.includes(d) ? x.shape[d] - 1 - v : v)), (o, i) => (y.v[o] = x.v[i]));
  return y;
}
