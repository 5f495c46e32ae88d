/**
 * Image encoders and the on-disk feature cache. The encoder is frozen, so features are computed once per
 * image: a pooled vector (Show and Tell) and optionally the spatial grid (Show, Attend and Tell).
 *
 * Cache layout (<dir>/): index.json {spec, weights, images, pooledDim, gridShape, done, failed}, pooled.f32 (done x
 * pooledDim float32), grid.f16 (done x h*w*c float16). Batches are appended and `done` is advanced atomically
 * after the data is on disk, so an interrupted run resumes where it stopped. Images that cannot be read are
 * listed in `failed` (name -> reason) with zero rows, skipped by training and evaluation, retried by a rerun.
 *
 * Every image reaches an encoder through loadEncoderImage (below): extract, eval and predict share it.
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
  /**
   * Which weights of `model` (@convlab/models' `weights` option): 'imagenet' (the Keras-applications ImageNet
   * file in the weights cache), 'random' (seeded with `seed`, default 0), or an absolute path to a Keras .h5
   * file. Absent: the model's default (nsfwjs's offline trunk for mobilenet_v2 / inception_v3, the cached
   * notop file for VGG, ImageNet for resnet* / inception_resnet_v2). Absent in caches and models made before
   * the option existed, which therefore still match.
   */
  weights?: string;
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

/** Which weights an encoder ran with (the models package's `net.weights`), as the cache index and run records store it. */
export interface EncoderWeights {
  /** 'imagenet', 'nsfwjs', 'random' or 'file'. */
  kind?: string;
  /** For 'imagenet': the file with the classifier ('top') or the trunk file ('notop'). */
  variant?: string;
  /** File path, or 'random'. */
  source: string;
  description: string;
  /** sha256 of the cached download, where the weights cache recorded one. */
  sha256?: string;
}

export interface FeatureExtractor {
  spec: EncoderSpec;
  /** The weights in use. */
  weights?: EncoderWeights;
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

/** The loadModel options of an encoder spec: its weights, and no classifier head (only the trunk is tapped). */
export function encoderLoadOptions(spec: EncoderSpec): { weights?: string; seed?: number; includeHead: false } {
  if (spec.weights === undefined) return { includeHead: false };
  return { weights: spec.weights, includeHead: false, ...(spec.weights === 'random' ? { seed: spec.seed ?? 0 } : {}) };
}

/** A @convlab/models backbone, frozen. */
export async function convnetExtractor(spec: EncoderSpec): Promise<FeatureExtractor> {
  const { loadModel } = await import('@convlab/models');
  const net = await loadModel(spec.model ?? 'mobilenet_v2', encoderLoadOptions(spec));
  const { kind, variant, source, description, sha256 } = net.weights;
  const weights: EncoderWeights = { ...(kind ? { kind } : {}), ...(variant ? { variant } : {}), source, description, ...(sha256 ? { sha256 } : {}) };
  const layer = net.resolveLayer(spec.layer);
  const [h, w, c] = net.outputShapeFor(layer, spec.inputSize) as [number, number, number];
  const k = spec.gridPool ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > Math.min(h, w)) {
    throw new ConvlabError(`encoder: gridPool ${k} does not fit ${spec.layer}'s ${h}x${w} grid`, { hint: `use an integer from 1 to ${Math.min(h, w)} (--grid-pool)` });
  }
  const pooledLayers = (spec.pooledLayers ?? [spec.layer]).map((l) => net.resolveLayer(l));
  if (pooledLayers.length > 1 && spec.pool === 'flatten') {
    throw new ConvlabError(`encoder: pooledLayers ${pooledLayers.join(',')} cannot be flattened`, { hint: "use pool 'mean' or 'mean+max', or a single layer" });
  }
  const perLayer = spec.pool === 'mean+max' ? 2 : 1;
  const pooledDim = spec.pool === 'flatten' ? h * w * c : perLayer * pooledLayers.reduce((sum, l) => sum + (net.outputShapeFor(l, spec.inputSize)[2] as number), 0);
  return {
    spec,
    weights,
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
    weights: { kind: 'random', source: 'random', description: `fixed random two-layer conv net, seed ${spec.seed ?? 7}` },
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

/** 'imagenet', 'random' or 'file' for an encoder spec's weights choice (nothing for the model's default). */
function weightsTag(spec: EncoderSpec): string[] {
  if (spec.weights === undefined || spec.weights === 'default') return [];
  return [spec.weights === 'imagenet' ? 'imagenet' : spec.weights === 'random' ? `random${spec.seed ?? 0}` : 'file'];
}

export function encoderId(spec: EncoderSpec): string {
  return [spec.type, spec.model ?? `seed${spec.seed ?? 7}`, ...weightsTag(spec), spec.layer, spec.inputSize.join('x'), spec.pool, ...(spec.gridPool && spec.gridPool > 1 ? [`grid${spec.gridPool}`] : [])].join('-');
}

/**
 * The one image pipeline of every encoder: an image file -> RGB at spec.inputSize, decoded by sharp with
 * EXIF orientation applied and alpha flattened onto white, then squashed to the input size in the same
 * sharp pipeline (fit: fill, lanczos3; for JPEGs sharp may shrink on load, so a decode followed by a second
 * resize gives other pixels). `extract` (and so `eval` and training, which read its cache) and `predict`
 * all load images through this function, so predict's caption of an image is the caption eval scored.
 */
export async function loadEncoderImage(path: string, spec: EncoderSpec): Promise<RgbImage> {
  return loadImage(path, { size: { width: spec.inputSize[1], height: spec.inputSize[0] } });
}

/**
 * Features as the cache stores them: the grid goes through float16 (grid.f16), the pooled vector stays
 * float32. `predict` applies this to its freshly computed features so they equal the cache's rows exactly.
 */
export function asCached(f: Features): Features {
  return { pooled: f.pooled, grid: fromFloat16(toFloat16(f.grid)) };
}

/** Image file(s) -> features exactly as `extract` caches them (the one pipeline, batched). */
export async function encodeImageFiles(extractor: FeatureExtractor, paths: string[]): Promise<Features> {
  const images = await Promise.all(paths.map((p) => loadEncoderImage(p, extractor.spec)));
  return asCached(await extractor.extract(images));
}

export interface CacheIndex {
  format: 'convlab-caption-features/1';
  spec: EncoderSpec;
  /** The weights the encoder ran with (kind, variant, file, sha256); absent in caches made before it was recorded. */
  weights?: EncoderWeights;
  images: string[];
  pooledDim: number;
  gridShape: [number, number, number];
  withGrid: boolean;
  done: number;
  seconds: number;
  /**
   * Images that could not be read (truncated, corrupt, missing) -> the reason. Their rows hold zeros and
   * are left out of the cache's `row` map, so training and evaluation skip them; `extract` retries them
   * when run again.
   */
  failed?: Record<string, string>;
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
  /** Image name -> row, for the images whose features were computed (failed images are not in it). */
  row: Map<string, number>;
  /** Images whose extraction failed -> the reason (see CacheIndex.failed). */
  failed: Map<string, string>;
}

export interface ExtractToCacheOptions {
  /** Store the spatial grid too (float16; needed for attention). */
  withGrid?: boolean;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * Called for each image that cannot be read (a ConvlabError: missing, truncated, corrupt, too large). The
   * image is recorded in the index as failed, its row is zeros, and extraction goes on with the others.
   */
  onFailure?: (image: string, path: string, error: ConvlabError) => void;
  signal?: AbortSignal;
}

export interface ExtractResult {
  /** Images processed so far (including failed ones), of `images.length`. */
  done: number;
  seconds: number;
  imagesPerSecond: number;
  /** Every image recorded as failed in the cache after this run (earlier runs' failures included). */
  failed: { image: string; reason: string }[];
  /** Images that failed in an earlier run and were read successfully this time. */
  recovered: string[];
  /** The folder held a cache made with other settings or images, which was started over. */
  replaced: boolean;
}

/** The cache's index.json, checked; a ConvlabError naming the folder if there is none or it is damaged. */
export function readCacheIndex(dir: string): CacheIndex {
  const indexPath = join(dir, 'index.json');
  if (!existsSync(indexPath)) {
    throw new ConvlabError(`no feature cache in ${dir}`, { hint: 'run `convlab-caption extract` first' });
  }
  let index: CacheIndex;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex;
  } catch (err) {
    throw new ConvlabError(`feature cache index ${indexPath} is not valid JSON (${(err as Error).message})`, { hint: 'delete the cache folder and extract again', cause: err });
  }
  if (index?.format !== 'convlab-caption-features/1' || !Array.isArray(index.images) || !index.spec || !Array.isArray(index.gridShape)) {
    throw new ConvlabError(`${indexPath} is not a convlab caption feature cache index`, { hint: 'pass the folder `convlab-caption extract --features` wrote' });
  }
  return index;
}

/**
 * Whether two weights records name the same weights: the same kind, the same sha256 where both have one, the same
 * file for 'file' weights, the same seed for 'random'. (An ImageNet cache holding the classifier file and one
 * holding the trunk file give the same trunk.) A record missing on either side (an older cache) matches.
 */
export function sameEncoderWeights(a: EncoderWeights | undefined, b: EncoderWeights | undefined): boolean {
  if (!a || !b) return true;
  if (a.kind !== b.kind) return false;
  if (a.sha256 && b.sha256 && a.sha256 !== b.sha256) return false;
  if (a.kind === 'file' && a.source !== b.source) return false;
  if (a.kind === 'random' && a.description !== b.description) return false;
  return true;
}

function rethrowUnlessUserError(err: unknown): ConvlabError {
  if (err instanceof ConvlabError) return err;
  throw err;
}

/**
 * Compute features for `paths` (keys = the names in `images`) into `dir`, resuming a previous run with the
 * same encoder and image list. An image that cannot be read is recorded as failed (see CacheIndex.failed)
 * and reported through `onFailure`; the others complete. Images that failed in an earlier run are tried
 * again first. Stops between batches when `signal` is aborted: every finished batch is on disk and
 * recorded, so running it again resumes.
 */
export async function extractToCache(dir: string, extractor: FeatureExtractor, images: string[], paths: string[], options: ExtractToCacheOptions = {}): Promise<ExtractResult> {
  mkdirSync(dir, { recursive: true });
  const withGrid = options.withGrid ?? false;
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`extractToCache: batchSize must be an integer >= 1, got ${batchSize}`);
  if (images.length !== paths.length) throw new RangeError(`extractToCache: ${images.length} image names but ${paths.length} paths`);
  const [gh, gw, gc] = extractor.gridShape;
  const gridSize = gh * gw * gc;
  const pooledDim = extractor.pooledDim;
  const indexPath = join(dir, 'index.json');
  let index: CacheIndex = {
    format: 'convlab-caption-features/1',
    spec: extractor.spec,
    ...(extractor.weights ? { weights: extractor.weights } : {}),
    images,
    pooledDim,
    gridShape: extractor.gridShape,
    withGrid,
    done: 0,
    seconds: 0,
    failed: {},
  };
  let replaced = false;
  if (existsSync(indexPath)) {
    let old: CacheIndex | undefined;
    try {
      old = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex;
    } catch {
      old = undefined; // a damaged index: start over
    }
    const same =
      !!old &&
      JSON.stringify(old.spec) === JSON.stringify(extractor.spec) &&
      sameEncoderWeights(old.weights, extractor.weights) &&
      Array.isArray(old.images) &&
      old.images.length === images.length &&
      old.images.every((x, i) => x === images[i]) &&
      old.withGrid === withGrid;
    if (same) index = { ...old!, ...(extractor.weights ? { weights: extractor.weights } : {}), failed: { ...(old!.failed ?? {}) } };
    else replaced = true;
  }
  const pooledFd = openSync(join(dir, 'pooled.f32'), existsSync(join(dir, 'pooled.f32')) ? 'r+' : 'w+');
  const gridFd = withGrid ? openSync(join(dir, 'grid.f16'), existsSync(join(dir, 'grid.f16')) ? 'r+' : 'w+') : -1;
  // Drop anything written after the last recorded batch.
  ftruncateSync(pooledFd, index.done * pooledDim * 4);
  if (withGrid) ftruncateSync(gridFd, index.done * gridSize * 2);
  const start = performance.now() - index.seconds * 1000;
  let sessionImages = 0;
  const sessionStart = performance.now();
  const failed = index.failed!;
  const recovered: string[] = [];
  const rowOf = new Map(images.map((x, i) => [x, i]));
  const writeRows = (first: number, pooled: Float32Array, grid?: Uint16Array) => {
    writeSync(pooledFd, Buffer.from(pooled.buffer, pooled.byteOffset, pooled.byteLength), 0, undefined, first * pooledDim * 4);
    if (withGrid && grid) writeSync(gridFd, Buffer.from(grid.buffer, grid.byteOffset, grid.byteLength), 0, undefined, first * gridSize * 2);
  };
  const fail = (i: number, err: ConvlabError) => {
    failed[images[i]] = err.message.split('\n')[0];
    options.onFailure?.(images[i], paths[i], err);
  };
  try {
    // Images that failed last time (and were fixed since?) go first: their rows are rewritten in place.
    for (const name of Object.keys(failed)) {
      if (options.signal?.aborted) break;
      const i = rowOf.get(name);
      if (i === undefined || i >= index.done) {
        delete failed[name];
        continue;
      }
      let image: RgbImage;
      try {
        image = await loadEncoderImage(paths[i], extractor.spec);
      } catch (err) {
        fail(i, rethrowUnlessUserError(err));
        continue;
      }
      const f = await extractor.extract([image]);
      writeRows(i, f.pooled, withGrid ? toFloat16(f.grid) : undefined);
      delete failed[name];
      recovered.push(name);
      await writeJsonAtomic(indexPath, index);
    }
    for (let i = index.done; i < images.length; i += batchSize) {
      if (options.signal?.aborted) break;
      const n = Math.min(batchSize, images.length - i);
      const loaded = await Promise.all(
        paths.slice(i, i + n).map((p) =>
          loadEncoderImage(p, extractor.spec).then(
            (image) => ({ image, error: undefined }),
            (error: unknown) => ({ image: undefined, error: rethrowUnlessUserError(error) }),
          ),
        ),
      );
      const good = loaded.flatMap((l, j) => (l.image ? [j] : []));
      // Rows of failed images stay zeros; the index lists them so nothing reads them as features.
      const pooled = new Float32Array(n * pooledDim);
      const grid = withGrid ? new Uint16Array(n * gridSize) : undefined;
      if (good.length) {
        const f = await extractor.extract(good.map((j) => loaded[j].image!));
        const half = withGrid ? toFloat16(f.grid) : undefined;
        good.forEach((j, k) => {
          pooled.set(f.pooled.subarray(k * pooledDim, (k + 1) * pooledDim), j * pooledDim);
          if (grid && half) grid.set(half.subarray(k * gridSize, (k + 1) * gridSize), j * gridSize);
        });
      }
      loaded.forEach((l, j) => {
        if (l.error) fail(i + j, l.error);
      });
      writeRows(index.done, pooled, grid);
      index.done += n;
      sessionImages += n;
      index.seconds = (performance.now() - start) / 1000;
      await writeJsonAtomic(indexPath, index);
      options.onProgress?.(index.done, images.length);
    }
  } finally {
    closeSync(pooledFd);
    if (withGrid) closeSync(gridFd);
  }
  const sessionSeconds = (performance.now() - sessionStart) / 1000;
  return {
    done: index.done,
    seconds: index.seconds,
    imagesPerSecond: sessionImages / Math.max(sessionSeconds, 1e-9),
    failed: Object.entries(failed).map(([image, reason]) => ({ image, reason })),
    recovered,
    replaced,
  };
}

export function loadFeatureCache(dir: string, options: { grid?: boolean } = {}): FeatureCache {
  const index = readCacheIndex(dir);
  if (index.done < index.images.length) {
    throw new ConvlabError(`feature cache ${dir} is incomplete (${index.done}/${index.images.length} images)`, { hint: 'run `convlab-caption extract` again to resume it' });
  }
  const pooledPath = join(dir, 'pooled.f32');
  if (!existsSync(pooledPath) || statSync(pooledPath).size < index.done * index.pooledDim * 4) {
    throw new ConvlabError(`feature cache ${dir}: pooled.f32 is missing or truncated`, { hint: 'delete the cache folder and extract again' });
  }
  const pooledBuf = readFileSync(pooledPath);
  const pooled = new Float32Array(pooledBuf.buffer, pooledBuf.byteOffset, index.done * index.pooledDim).slice();
  let grid: Float32Array | undefined;
  if (options.grid) {
    if (!index.withGrid) throw new ConvlabError(`feature cache ${dir} has no spatial grid`, { hint: 'extract again with --grid for the attention decoder' });
    const [h, w, c] = index.gridShape;
    const n = index.done * h * w * c;
    const gridPath = join(dir, 'grid.f16');
    if (!existsSync(gridPath) || statSync(gridPath).size < n * 2) throw new ConvlabError(`feature cache ${dir}: grid.f16 is missing or truncated`, { hint: 'delete the cache folder and extract again' });
    const fd = openSync(gridPath, 'r');
    try {
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
  const failed = new Map(Object.entries(index.failed ?? {}));
  return {
    spec: index.spec,
    images: index.images,
    pooledDim: index.pooledDim,
    gridShape: index.gridShape,
    pooled,
    grid,
    row: new Map(index.images.flatMap((x, i) => (failed.has(x) ? [] : [[x, i] as [string, number]]))),
    failed,
  };
}
