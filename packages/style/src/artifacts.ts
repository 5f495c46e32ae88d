/**
 * Two measures of the artifacts Gatys-style optimisation leaves on these backbones (issue 16), in plain
 * JavaScript on the pixels (no tfjs), linear in the pixel count (a 512x512 image takes a few ms):
 *
 * 1. Nyquist share: how much of the image's luminance power sits at the period-2 frequencies, where the
 *    stride-2 first convolution of InceptionV3 / MobileNetV2 imprints its grid (the gradient of a stride-2
 *    convolution is a transposed convolution, whose output alternates from pixel to pixel).
 *
 *    Y(x, y) = 0.299 R + 0.587 G + 0.114 B   (Rec. 601 luminance, 0..255), x = 0..W-1, y = 0..H-1; an odd
 *    W or H drops the last column or row, so that the period-2 frequency is a DFT bin.
 *    F(u, v) = sum_{x,y} Y(x, y) exp(-2 pi i (u x / W + v y / H))
 *    Nyquist set  N = {(u, v) : u = W/2 or v = H/2}   (period 2 along x, along y, or both: a checkerboard)
 *
 *      share = sum_{(u,v) in N} |F(u, v)|^2 / sum_{(u,v) != (0,0)} |F(u, v)|^2
 *
 *    Neither sum needs a 2-D DFT. Parseval gives the denominator in pixel space, T = W H sum (Y - mean Y)^2
 *    (removing the mean removes exactly the DC bin, which is not in N). For the column u = W/2,
 *    F(W/2, v) is the length-H DFT of r(y) = sum_x (-1)^x Y(x, y), so by Parseval in y
 *      P_x = sum_v |F(W/2, v)|^2 = H sum_y r(y)^2,    likewise   P_y = sum_u |F(u, H/2)|^2 = W sum_x c(x)^2
 *    with c(x) = sum_y (-1)^y Y(x, y); the corner bin, counted in both, is P_xy = (sum (-1)^(x+y) Y)^2, and
 *      share = (P_x + P_y - P_xy) / T.
 *    Reference points: a checkerboard or stripes of period 2 give 1, a smooth gradient 0, white noise
 *    (W + H - 1) / (W H - 1) (the fraction of bins in N: 0.0061 at 384x288), a photo ~1e-4 (its spectrum
 *    falls as 1/f^2). "Share at period 2 in x" (P_x / T) and "in y" (P_y / T) are returned too.
 *
 * 2. Frame score: how strongly the outer k px are stylized compared with the band just inside them. With
 *    the content image C the stylized image S was made from (same size, content init),
 *
 *      d(x, y) = 1/3 sum_c |S_c(x, y) - C_c(x, y)|                  (mean change over R, G, B, 0..255)
 *      e(x, y) = min(x, y, W - 1 - x, H - 1 - y)                   (distance to the nearest edge, px)
 *      frame_k = mean_{e < k} d / mean_{a <= e < b} d               (k = 1..4; reference band a = 8, b = 24)
 *
 *    1 means the border is changed as much as the inside; InceptionV3's valid-padded first convolution,
 *    which never sees the last row and column, leaves a weakly stylized frame (frame_1 well below 1); a
 *    value above 1 would be a border stylized more strongly than the inside. The reference band is local
 *    (8-24 px in) so that content differences between the centre and the edges matter less.
 *
 * stylize's `pad` and `jitter` options (./gatys.ts `networkView`) are the fix these measure; the numbers on
 * the bundled images are in apps/style-transfer/README.md ("Cleaner output"), from
 * tools/bench/style-artifacts.ts.
 */

/** An interleaved RGB image (3 values per pixel, 0..255), as @convlab/core's RgbImage or a Float32Array. */
export interface RgbPixels {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

function checkImage(img: RgbPixels, what: string): void {
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new Error(`${what}: expected ${img.width}x${img.height}x3 = ${img.width * img.height * 3} values, got ${img.data.length}`);
  }
}

/** Rec. 601 luminance Y = 0.299 R + 0.587 G + 0.114 B per pixel, row-major [H * W]. */
export function luminance(img: RgbPixels): Float64Array {
  checkImage(img, 'luminance');
  const n = img.width * img.height;
  const y = new Float64Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) y[i] = 0.299 * d[3 * i] + 0.587 * d[3 * i + 1] + 0.114 * d[3 * i + 2];
  return y;
}

export interface NyquistPower {
  /** (P_x + P_y - P_xy) / T: the share of non-DC luminance power at period 2 in x or y. */
  share: number;
  /** P_x / T: period 2 along x (the column u = W/2). */
  shareX: number;
  /** P_y / T: period 2 along y (the row v = H/2). */
  shareY: number;
  /** T: total non-DC power, W H sum (Y - mean)^2. */
  total: number;
  /** The width and height measured (odd sizes lose their last column / row). */
  width: number;
  height: number;
}

/** The Nyquist share of an RGB image's luminance, with its x and y parts (header, measure 1). */
export function nyquistPower(img: RgbPixels): NyquistPower {
  const full = luminance(img);
  const W = img.width - (img.width % 2);
  const H = img.height - (img.height % 2);
  if (W < 2 || H < 2) throw new Error(`nyquistPower: the image must be at least 2x2 px, got ${img.width}x${img.height}`);
  let mean = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) mean += full[y * img.width + x];
  mean /= W * H;
  let sq = 0;
  let corner = 0;
  let px = 0;
  const c = new Float64Array(W);
  for (let y = 0; y < H; y++) {
    let r = 0;
    const sy = y % 2 === 0 ? 1 : -1;
    for (let x = 0; x < W; x++) {
      const v = full[y * img.width + x] - mean;
      sq += v * v;
      const sv = x % 2 === 0 ? v : -v;
      r += sv;
      c[x] += sy * v;
    }
    px += r * r;
    corner += sy * r;
  }
  let py = 0;
  for (let x = 0; x < W; x++) py += c[x] * c[x];
  const T = W * H * sq;
  const Px = H * px;
  const Py = W * py;
  const Pxy = corner * corner;
  if (!(T > 0)) return { share: 0, shareX: 0, shareY: 0, total: 0, width: W, height: H };
  return { share: (Px + Py - Pxy) / T, shareX: Px / T, shareY: Py / T, total: T, width: W, height: H };
}

/** The share of non-DC luminance power at the Nyquist frequencies (0 = none, 1 = a pure period-2 pattern). */
export function nyquistShare(img: RgbPixels): number {
  return nyquistPower(img).share;
}

export interface FrameOptions {
  /** Border widths k in px (default 1, 2, 3, 4). */
  widths?: number[];
  /** Reference band [a, b) in px from the edge (default [8, 24)). */
  reference?: [number, number];
}

/**
 * frame_k = mean |S - C| over the outer k px / mean |S - C| over the reference band (header, measure 2), one
 * per k. NaN where the reference band is unchanged (nothing to compare with).
 */
export function frameScores(stylized: RgbPixels, content: RgbPixels, options: FrameOptions = {}): number[] {
  checkImage(stylized, 'frameScores (stylized)');
  checkImage(content, 'frameScores (content)');
  const { width: W, height: H } = stylized;
  if (content.width !== W || content.height !== H) {
    throw new Error(`frameScores: the stylized image is ${W}x${H} but the content is ${content.width}x${content.height}`);
  }
  const widths = options.widths ?? [1, 2, 3, 4];
  const [a, b] = options.reference ?? [8, 24];
  const maxK = Math.max(...widths);
  if (!(a >= maxK && b > a)) throw new Error(`frameScores: the reference band [${a}, ${b}) must lie inside the widest border (${maxK} px)`);
  if (Math.min(W, H) < 2 * b) throw new Error(`frameScores: ${W}x${H} is too small for a reference band ending ${b} px in (needs ${2 * b} px per side)`);
  // Sum and count of d per edge distance e < b.
  const sum = new Float64Array(b);
  const count = new Float64Array(b);
  const s = stylized.data;
  const c = content.data;
  for (let y = 0; y < H; y++) {
    const ey = Math.min(y, H - 1 - y);
    for (let x = 0; x < W; x++) {
      const e = Math.min(ey, x, W - 1 - x);
      if (e >= b) continue;
      const i = 3 * (y * W + x);
      sum[e] += (Math.abs(s[i] - c[i]) + Math.abs(s[i + 1] - c[i + 1]) + Math.abs(s[i + 2] - c[i + 2])) / 3;
      count[e] += 1;
    }
  }
  const mean = (lo: number, hi: number) => {
    let t = 0;
    let n = 0;
    for (let e = lo; e < hi; e++) {
      t += sum[e];
      n += count[e];
    }
    return t / n;
  };
  const ref = mean(a, b);
  return widths.map((k) => (ref > 0 ? mean(0, k) / ref : NaN));
}

export interface ArtifactReport {
  /** Nyquist share of the stylized image (and of the content it came from, for comparison). */
  nyquist: number;
  contentNyquist: number;
  /** frame_k for k = 1..4. */
  frame: number[];
}

/** Both measures of a stylized image against its content image. */
export function artifactReport(stylized: RgbPixels, content: RgbPixels, options: FrameOptions = {}): ArtifactReport {
  return { nyquist: nyquistShare(stylized), contentNyquist: nyquistShare(content), frame: frameScores(stylized, content, options) };
}
