/**
 * Image encoders and the on-disk feature cache. The encoder is frozen, so features are computed once per
 * image: a pooled vector (Show and Tell) and optionally the spatial grid (Show, Attend and Tell).
 *
 * Cache layout (<dir>/): index.json {spec, images, pooledDim, gridShape, done}, pooled.f32 (done x pooledDim
 * float32), grid.f16 (done x h*w*c float16). Batches are appended and `done` is advanced atomically after
 * the data is on disk, so an interrupted run resumes where it stopped.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tf, ConvlabError, imagesToBatch, loadImage, writeJsonAtomic } from '@convlab/core';
import type { RgbImage, Tensor, Tensor4D } from '@convlab/core';
import { rng } from './params.js';
import { fromFloat16, toFloat16 } from './float16.js';

export interface EncoderSpec {
  /** 'convnet': a @convlab/models backbone; 'random-conv': a fixed seeded two-layer conv net (tests, synthetic). */
  type: 'convnet' | 'random-conv';
  /** Registry name for 'convnet', e.g. 'mobilenet_v2'. */
  model?: string;
  /** Layer whose output is the grid, e.g. 'out_relu'. */
  layer: string;
  /** Images are resized (squashed, as Flickr8k's 224x224 copies are) to [height, width]. */
  inputSize: [number, number];
  /**
   * How the pooled vector is formed from the grid: spatial mean; spatial mean and max concatenated per
   * layer (max keeps small objects that the mean dilutes); or the grid flattened (keeps position).
   */
  pool: 'mean' | 'mean+max' | 'flatten';
  /**
   * Layers whose pooled vectors are concatenated (in order; [mean, max] per layer with 'mean+max'), e.g.
   * ['mixed6', 'mixed7']; default [layer]. Not with 'flatten'. All taps come from one forward pass.
   */
  pooledLayers?: string[];
  /**
   * Average-pool the stored grid with this window and stride ('same' padding) before it reaches the
   * attention decoder, e.g. 2 turns InceptionV3's 17x17 mixed6 into 9x9: 3.6x fewer locations to attend
   * over per word and 3.6x less cache, at a resolution close to Xu et al.'s 14x14. The pooled vector is
   * still taken from the full grid.
   */
  gridPool?: number;
  seed?: number;
  /** Human-readable preprocessing note stored with models. */
  preprocessing?: string;
}

export interface Features {
  pooled: Float32Array;
  grid: Float32Array;
}

export interface FeatureExtractor {
  spec: EncoderSpec;
  pooledDim: number;
  /** [h, w, c] */
  gridShape: [number, number, number];
  /** Images already at spec.inputSize. */
  extract(images: RgbImage[]): Promise<Features>;
  dispose(): void;
}

export const DEFAULT_ENCODER: EncoderSpec = {
  type: 'convnet',
  model: 'mobilenet_v2',
  layer: 'out_relu',
  inputSize: [224, 224],
  pool: 'mean',
  preprocessing: 'RGB squashed to 224x224 (sharp fill, lanczos3), scaled to [-1, 1]',
};

function poolGrid(grid: Tensor4D, pool: EncoderSpec['pool']): Tensor {
  if (pool === 'flatten') return tf.reshape(grid, [grid.shape[0], -1]);
  return pool === 'mean' ? tf.mean(grid, [1, 2]) : tf.concat([tf.mean(grid, [1, 2]), tf.max(grid, [1, 2])], 1);
}

async function readFeatures(grid: Tensor4D, pool: EncoderSpec['pool']): Promise<Features> {
  const pooled = poolGrid(grid, pool);
  const [p, g] = await Promise.all([pooled.data(), grid.data()]);
  pooled.dispose();
  return { pooled: p as Float32Array, grid: g as Float32Array };
}

/** A @convlab/models backbone, frozen. */
export async function convnetExtractor(spec: EncoderSpec): Promise<FeatureExtractor> {
  const { loadModel } = await import('@convlab/models');
  const net = await loadModel(spec.model ?? 'mobilenet_v2', {});
  const layer = net.resolveLayer(spec.layer);
  const [h, w, c] = net.outputShapeFor(layer, spec.inputSize) as [number, number, number];
  const k = spec.gridPool ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > Math.min(h, w)) {
    throw new ConvlabError(`encoder: gridPool ${k} does not fit ${spec.layer}'s ${h}x${w} grid`, { hint: `use an integer from 1 to ${Math.min(h, w)}` });
  }
  const pooledLayers = (spec.pooledLayers ?? [spec.layer]).map((l) => net.resolveLayer(l));
  if (pooledLayers.length > 1 && spec.pool === 'flatten') {
    throw new ConvlabError(`encoder: pooledLayers ${pooledLayers.join(',')} cannot be flattened`, { hint: "use pool 'mean' or 'mean+max', or a single layer" });
  }
  const perLayer = spec.pool === 'mean+max' ? 2 : 1;
  const pooledDim = spec.pool === 'flatten' ? h * w * c : perLayer * pooledLayers.reduce((sum, l) => sum + (net.outputShapeFor(l, spec.inputSize)[2] as number), 0);
  return {
    spec,
    pooledDim,
    gridShape: [Math.ceil(h / k), Math.ceil(w / k), c],
    async extract(images) {
      const taps = [...new Set([layer, ...pooledLayers])];
      const out = tf.tidy(() => net.forward(net.preprocess(imagesToBatch(images)), { outputs: taps }));
      const full = out[layer] as Tensor4D;
      const pooled = tf.tidy(() => (spec.pool === 'flatten' ? poolGrid(full, spec.pool) : tf.concat(pooledLayers.map((l) => poolGrid(out[l] as Tensor4D, spec.pool)), 1)));
      const grid = k > 1 ? tf.avgPool(full, k, k, 'same') : full;
      const [p, g] = await Promise.all([pooled.data(), grid.data()]);
      tf.dispose([pooled, grid, ...Object.values(out)]);
      return { pooled: p as Float32Array, grid: g as Float32Array };
    },
    dispose: () => net.dispose(),
  };
}

/**
 * A fixed random conv encoder: conv 5x5/2 (3->24) ReLU, conv 3x3/2 (24->48) ReLU, max-pool to a 4x4 grid.
 * Random ReLU features keep colour, size, orientation and position information linearly decodable, which
 * is all the synthetic scenes need, and cost a few ms per batch instead of a pretrained backbone's load time.
 */
export function randomConvExtractor(spec: EncoderSpec): FeatureExtractor {
  const r = rng(spec.seed ?? 7);
  const he = (shape: number[], fanIn: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const s = Math.sqrt(2 / fanIn) * Math.sqrt(3);
    for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * s;
    return tf.tensor4d(v, shape as [number, number, number, number]);
  };
  const w1 = he([5, 5, 3, 24], 75);
  const w2 = he([3, 3, 24, 48], 216);
  const [ih, iw] = spec.inputSize;
  const gh = 4;
  const gw = 4;
  return {
    spec,
    pooledDim: spec.pool === 'mean' ? 48 : gh * gw * 48,
    gridShape: [gh, gw, 48],
    async extract(images) {
      const grid = tf.tidy(() => {
        const x = tf.sub(tf.div(imagesToBatch(images), 127.5), 1) as Tensor4D;
        const a = tf.relu(tf.conv2d(x, w1, 2, 'same'));
        const b = tf.relu(tf.conv2d(a, w2, 2, 'same')) as Tensor4D;
        const ph = Math.ceil(ih / 4 / gh);
        const pw = Math.ceil(iw / 4 / gw);
        return tf.maxPool(b, [ph, pw], [ph, pw], 'same') as Tensor4D;
      });
      const out = await readFeatures(grid, spec.pool);
      grid.dispose();
      return out;
    },
    dispose() {
      w1.dispose();
      w2.dispose();
    },
  };
}

export async function createExtractor(spec: EncoderSpec): Promise<FeatureExtractor> {
  return spec.type === 'random-conv' ? randomConvExtractor(spec) : convnetExtractor(spec);
}

export function encoderId(spec: EncoderSpec): string {
  return [spec.type, spec.model ?? `seed${spec.seed ?? 7}`, spec.layer, spec.inputSize.join('x'), spec.pool, ...(spec.gridPool && spec.gridPool > 1 ? [`grid${spec.gridPool}`] : [])].join('-');
}

interface CacheIndex {
  format: 'convlab-caption-features/1';
  spec: EncoderSpec;
  images: string[];
  pooledDim: number;
  gridShape: [number, number, number];
  withGrid: boolean;
  done: number;
  seconds: number;
}

export interface FeatureCache {
  spec: EncoderSpec;
  images: string[];
  pooledDim: number;
  gridShape: [number, number, number];
  /** [n * pooledDim] */
  pooled: Float32Array;
  /** [n * h*w*c] or undefined if the grid was not stored. */
  grid?: Float32Array;
  row: Map<string, number>;
}

export interface ExtractOptions {
  /** Store the spatial grid too (float16; needed for attention). */
  withGrid?: boolean;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Compute features for `paths` (keys = the names in `images`) into `dir`, resuming a previous run with the
 * same encoder and image list. Unreadable images raise a ConvlabError naming the file.
 */
export async function extractToCache(dir: string, extractor: FeatureExtractor, images: string[], paths: string[], options: ExtractOptions = {}): Promise<{ done: number; seconds: number; imagesPerSecond: number }> {
  mkdirSync(dir, { recursive: true });
  const withGrid = options.withGrid ?? false;
  const batchSize = options.batchSize ?? 16;
  const [gh, gw, gc] = extractor.gridShape;
  const gridSize = gh * gw * gc;
  const indexPath = join(dir, 'index.json');
  let index: CacheIndex = {
    format: 'convlab-caption-features/1',
    spec: extractor.spec,
    images,
    pooledDim: extractor.pooledDim,
    gridShape: extractor.gridShape,
    withGrid,
    done: 0,
    seconds: 0,
  };
  if (existsSync(indexPath)) {
    const old = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex;
    const same = JSON.stringify(old.spec) === JSON.stringify(extractor.spec) && old.images.length === images.length && old.images.every((x, i) => x === images[i]) && old.withGrid === withGrid;
    if (same) index = old;
  }
  const pooledFd = openSync(join(dir, 'pooled.f32'), existsSync(join(dir, 'pooled.f32')) ? 'r+' : 'w+');
  const gridFd = withGrid ? openSync(join(dir, 'grid.f16'), existsSync(join(dir, 'grid.f16')) ? 'r+' : 'w+') : -1;
  // Drop anything written after the last recorded batch.
  ftruncateSync(pooledFd, index.done * extractor.pooledDim * 4);
  if (withGrid) ftruncateSync(gridFd, index.done * gridSize * 2);
  const start = performance.now() - index.seconds * 1000;
  let sessionImages = 0;
  const sessionStart = performance.now();
  try {
    for (let i = index.done; i < images.length; i += batchSize) {
      if (options.signal?.aborted) break;
      const batchPaths = paths.slice(i, i + batchSize);
      const imgs = await Promise.all(batchPaths.map((p) => loadImage(p, { size: { width: extractor.spec.inputSize[1], height: extractor.spec.inputSize[0] } })));
      const f = await extractor.extract(imgs);
      writeSync(pooledFd, Buffer.from(f.pooled.buffer, f.pooled.byteOffset, f.pooled.byteLength), 0, undefined, index.done * extractor.pooledDim * 4);
      if (withGrid) {
        const half = toFloat16(f.grid);
        writeSync(gridFd, Buffer.from(half.buffer, half.byteOffset, half.byteLength), 0, undefined, index.done * gridSize * 2);
      }
      index.done += imgs.length;
      sessionImages += imgs.length;
      index.seconds = (performance.now() - start) / 1000;
      await writeJsonAtomic(indexPath, index);
      options.onProgress?.(index.done, images.length);
    }
  } finally {
    closeSync(pooledFd);
    if (withGrid) closeSync(gridFd);
  }
  const sessionSeconds = (performance.now() - sessionStart) / 1000;
  return { done: index.done, seconds: index.seconds, imagesPerSecond: sessionImages / Math.max(sessionSeconds, 1e-9) };
}

export function loadFeatureCache(dir: string, options: { grid?: boolean } = {}): FeatureCache {
  const indexPath = join(dir, 'index.json');
  if (!existsSync(indexPath)) {
    throw new ConvlabError(`no feature cache in ${dir}`, { hint: 'run `convlab-caption extract` first' });
  }
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex;
  if (index.done < index.images.length) {
    throw new ConvlabError(`feature cache ${dir} is incomplete (${index.done}/${index.images.length} images)`, { hint: 'run `convlab-caption extract` again to resume it' });
  }
  const pooledBuf = readFileSync(join(dir, 'pooled.f32'));
  const pooled = new Float32Array(pooledBuf.buffer, pooledBuf.byteOffset, index.done * index.pooledDim).slice();
  let grid: Float32Array | undefined;
  if (options.grid) {
    if (!index.withGrid) throw new ConvlabError(`feature cache ${dir} has no spatial grid`, { hint: 'extract again with --grid for the attention decoder' });
    const [h, w, c] = index.gridShape;
    const n = index.done * h * w * c;
    const fd = openSync(join(dir, 'grid.f16'), 'r');
    try {
      if (statSync(join(dir, 'grid.f16')).size < n * 2) throw new ConvlabError(`feature cache ${dir}: grid.f16 is truncated`, { hint: 'delete the cache folder and extract again' });
      grid = new Float32Array(n);
      // Convert in chunks so the float16 copy never needs to be whole in memory.
      const chunk = 1 << 22;
      const buf = Buffer.alloc(chunk * 2);
      for (let off = 0; off < n; off += chunk) {
        const len = Math.min(chunk, n - off);
        readSync(fd, buf, 0, len * 2, off * 2);
        grid.set(fromFloat16(new Uint16Array(buf.buffer, buf.byteOffset, len)), off);
      }
    } finally {
      closeSync(fd);
    }
  }
  return {
    spec: index.spec,
    images: index.images,
    pooledDim: index.pooledDim,
    gridShape: index.gridShape,
    pooled,
    grid,
    row: new Map(index.images.map((x, i) => [x, i])),
  };
}
