/**
 * Image parameterizations for feature visualization (Olah, Mordvintsev & Schubert 2017, "Preconditioning
 * and parameterization"; lucid's param.image). The optimizer moves a tensor t; the image is
 *
 *   pixel:    x = sigmoid( D(t) ) * 255
 *   fourier:  x = sigmoid( D( irfft2d( t * s(f) ) / 4 ) ) * 255,   s(f) = sqrt(h w) / max(f, 1/max(h, w))^decay
 *
 * with f the frequency of each coefficient, so gradient steps are whitened: low frequencies move as
 * fast as high ones ("decorrelated space"). D decorrelates colour: each pixel's 3 values are mapped
 * through lucid's square root of the ImageNet colour covariance (its 3x3 matrix, columns normalized
 * to the largest norm), D(t) = t C^T, when `decorrelate` (else D is the identity).
 *
 * irfft2d is written with real matrix products (cos / sin tables), so the parameterization runs and
 * differentiates on every backend (tfjs-backend-wasm has no FFT kernels):
 *
 *   x[y, u] = 1/(h w) sum_{ky, kx} c_kx ( Re S[ky, kx] cos(th) - Im S[ky, kx] sin(th) ),
 *   th = 2 pi (ky y / h + kx u / w),  c = 1 at kx = 0 and kx = w/2, else 2
 */
import { opSeed, tf, type RgbImage, type Tensor, type Tensor4D, type Variable } from '@convlab/core';

/** lucid's color_correlation_svd_sqrt. */
export const COLOR_CORRELATION_SVD_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];

/** The matrix normalized by its largest column norm (lucid's color_correlation_normalized). */
export function colorCorrelationNormalized(): number[][] {
  const m = COLOR_CORRELATION_SVD_SQRT;
  let maxNorm = 0;
  for (let j = 0; j < 3; j++) maxNorm = Math.max(maxNorm, Math.hypot(m[0][j], m[1][j], m[2][j]));
  return m.map((row) => row.map((v) => v / maxNorm));
}

function inverse3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** Frequencies of the rfft2d coefficients [h, w/2 + 1] (numpy's fftfreq, as lucid's rfft2d_freqs). */
export function rfft2dFreqs(h: number, w: number): Float32Array {
  const k = Math.floor(w / 2) + 1;
  const fy = (i: number) => (i < Math.ceil(h / 2) ? i : i - h) / h;
  const out = new Float32Array(h * k);
  for (let i = 0; i < h; i++) for (let j = 0; j < k; j++) out[i * k + j] = Math.hypot(fy(i), j / w);
  return out;
}

/** The real irfft2d of spectra [b, h, k] (real and imaginary parts) -> [b, h, w], with real matmuls. */
export function irfft2d(re: Tensor, im: Tensor, h: number, w: number): Tensor {
  const k = Math.floor(w / 2) + 1;
  const cy = new Float32Array(h * h);
  const sy = new Float32Array(h * h);
  for (let a = 0; a < h; a++)
    for (let y = 0; y < h; y++) {
      cy[a * h + y] = Math.cos((2 * Math.PI * a * y) / h);
      sy[a * h + y] = Math.sin((2 * Math.PI * a * y) / h);
    }
  const cx = new Float32Array(k * w);
  const sx = new Float32Array(k * w);
  for (let a = 0; a < k; a++) {
    const c = a === 0 || (w % 2 === 0 && a === w / 2) ? 1 : 2;
    for (let u = 0; u < w; u++) {
      cx[a * w + u] = (c * Math.cos((2 * Math.PI * a * u) / w)) / (h * w);
      sx[a * w + u] = (c * Math.sin((2 * Math.PI * a * u) / w)) / (h * w);
    }
  }
  return tf.tidy(() => {
    const b = re.shape[0];
    const Cx = tf.tensor2d(cx, [k, w]);
    const Sx = tf.tensor2d(sx, [k, w]);
    const r2 = tf.reshape(re, [b * h, k]) as ReturnType<typeof tf.tensor2d>;
    const i2 = tf.reshape(im, [b * h, k]) as ReturnType<typeof tf.tensor2d>;
    // Along x: P = Re Cx - Im Sx, Q = Re Sx + Im Cx   ([b, h, w])
    const Pm = tf.sub(tf.matMul(r2, Cx), tf.matMul(i2, Sx));
    const Qm = tf.add(tf.matMul(r2, Sx), tf.matMul(i2, Cx));
    // Along y: x = Cy^T P - Sy^T Q, computed as (P^T Cy - Q^T Sy)^T per image.
    const t = (m: Tensor) => tf.reshape(tf.transpose(tf.reshape(m, [b, h, w]), [0, 2, 1]), [b * w, h]) as ReturnType<typeof tf.tensor2d>;
    const out = tf.sub(tf.matMul(t(Pm), tf.tensor2d(cy, [h, h])), tf.matMul(t(Qm), tf.tensor2d(sy, [h, h])));
    return tf.transpose(tf.reshape(out, [b, w, h]), [0, 2, 1]);
  });
}

export type ParamKind = 'pixel' | 'fourier';

export interface ImageParam {
  kind: ParamKind;
  variables: Variable[];
  /** The current images, RGB 0..255 [n, h, w, 3] (differentiable w.r.t. the variables). */
  image(): Tensor4D;
  dispose(): void;
}

export interface ImageParamOptions {
  kind?: ParamKind;
  decorrelate?: boolean;
  /** Fourier: the spectrum's decay power (default 1). */
  decay?: number;
  /** Std of the initial values (default 0.01, lucid's). */
  sd?: number;
  seed?: number;
  /** Pixel: start from these images (RGB 0..255, one per batch image, or one for all): DeepDream. */
  init?: RgbImage[];
}

function toRgb(t: Tensor, decorrelate: boolean): Tensor4D {
  const [n, h, w] = t.shape;
  let u = t;
  if (decorrelate) {
    const c = colorCorrelationNormalized();
    u = tf.reshape(tf.matMul(tf.reshape(t, [-1, 3]) as ReturnType<typeof tf.tensor2d>, tf.transpose(tf.tensor2d(c))), [n, h, w, 3]);
  }
  return tf.mul(tf.sigmoid(u), 255) as Tensor4D;
}

/** Inverse of toRgb for an initial image (values clipped to 1..254 so the logit stays finite). */
function fromRgb(images: RgbImage[], n: number, h: number, w: number, decorrelate: boolean): Tensor4D {
  return tf.tidy(() => {
    const one = (img: RgbImage) => {
      if (img.width !== w || img.height !== h) throw new Error(`featureviz: the initial image is ${img.width}x${img.height}, the size ${w}x${h}`);
      return tf.tensor3d(Float32Array.from(img.data), [h, w, 3]);
    };
    const x = tf.stack(Array.from({ length: n }, (_, i) => one(images[i % images.length])));
    const p = tf.div(tf.clipByValue(x, 1, 254), 255);
    let u = tf.log(tf.div(p, tf.sub(1, p)));
    if (decorrelate) u = tf.reshape(tf.matMul(tf.reshape(u, [-1, 3]) as ReturnType<typeof tf.tensor2d>, tf.transpose(tf.tensor2d(inverse3(colorCorrelationNormalized())))), [n, h, w, 3]);
    return u as Tensor4D;
  });
}

/** A batch of n images of h x w, parameterized as asked. */
export function imageParam(n: number, h: number, w: number, options: ImageParamOptions = {}): ImageParam {
  const kind = options.kind ?? 'fourier';
  const decorrelate = options.decorrelate ?? true;
  const sd = options.sd ?? 0.01;
  const seed = options.seed ?? 0;
  if (kind === 'pixel' || options.init) {
    const v = tf.variable(options.init ? fromRgb(options.init, n, h, w, decorrelate) : tf.randomNormal([n, h, w, 3], 0, sd, 'float32', opSeed(seed, 101)));
    return { kind: 'pixel', variables: [v], image: () => toRgb(v, decorrelate), dispose: () => v.dispose() };
  }
  const k = Math.floor(w / 2) + 1;
  const freqs = rfft2dFreqs(h, w);
  const decay = options.decay ?? 1;
  const scale = tf.tensor3d(
    Float32Array.from(freqs, (f) => Math.sqrt(h * w) / Math.max(f, 1 / Math.max(h, w)) ** decay),
    [1, h, k],
  );
  const re = tf.variable(tf.randomNormal([n * 3, h, k], 0, sd, 'float32', opSeed(seed, 102)));
  const im = tf.variable(tf.randomNormal([n * 3, h, k], 0, sd, 'float32', opSeed(seed, 103)));
  return {
    kind,
    variables: [re, im],
    image: () => {
      const x = tf.div(irfft2d(tf.mul(re, scale), tf.mul(im, scale), h, w), 4); // [n*3, h, w]
      const nhwc = tf.transpose(tf.reshape(x, [n, 3, h, w]), [0, 2, 3, 1]);
      return toRgb(nhwc, decorrelate);
    },
    dispose: () => {
      re.dispose();
      im.dispose();
      scale.dispose();
    },
  };
}
