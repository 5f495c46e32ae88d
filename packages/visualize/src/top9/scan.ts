/**
 * Streaming scan of an image folder for the top-k activations of units in one layer (Zeiler &
 * Fergus 2013, Fig. 2). Each image's per-channel maxima (and where they occur) go to an on-disk
 * cache (cache.ts), so a scan that is interrupted keeps its work and a second run continues.
 * The activation function is pluggable: anything mapping a batch of RGB images to [n, h, w, c].
 */
import { stat } from 'node:fs/promises';
import { relative, isAbsolute, resolve } from 'node:path';
import { tf, type RgbImage, type Tensor4D } from '@convlab/core';
import { MaximaCache, checkUnits, type CacheMeta, type NewEntry } from './cache.js';
import { loadFitted, type FitMode } from '../images.js';

/** Batch of RGB images, float 0..255 [n, h, w, 3] -> activations [n, fh, fw, channels]. */
export type ActivationFn = (images: Tensor4D) => Tensor4D;

export interface ScanProgress {
  /** Files handled so far in this run (including failures). */
  done: number;
  /** Files this run has to handle (those not already in the cache). */
  total: number;
  /** Files already in the cache when the run started. */
  cached: number;
  failed: number;
  /** The file that just failed, with the reason. */
  lastError?: { file: string; error: string };
}

export interface ScanOptions {
  /** Image files to scan (see collectImageFiles). */
  files: string[];
  /** Keys in the cache are paths relative to this folder (so a moved dataset keeps its cache). */
  root?: string;
  activations: ActivationFn;
  /** What the cache records; channels and featureSize must match what `activations` returns. */
  meta: CacheMeta;
  /** Folder holding cache folders. */
  cacheDir: string;
  batchSize?: number;
  fit?: FitMode;
  /** Stops after the current batch; everything finished so far is kept. */
  signal?: AbortSignal;
  onProgress?: (p: ScanProgress) => void;
  /** Replace image loading (tests). Default: load and fit to meta.inputSize. */
  load?: (file: string) => Promise<RgbImage>;
}

export interface ScanResult {
  cache: MaximaCache;
  /** Whether every file has been processed (false after an interrupt). */
  complete: boolean;
  scanned: number;
  fromCache: number;
  failed: { file: string; error: string }[];
  /** Images whose maxima entered the ranking: scanned now, or read from the cache without an error. */
  ranked: number;
  seconds: number;
  imagesPerSecond: number;
}

export function fileKey(file: string, root?: string): string {
  if (!root) return resolve(file);
  const rel = relative(root, file);
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(file) : rel.split('\\').join('/');
}

/** Per-channel max and flat argmax for a batch of activations. */
function maxima(acts: Tensor4D): { max: Float32Array; argmax: Int32Array; n: number; c: number } {
  const [n, h, w, c] = acts.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(acts, [n, h * w, c]);
    const max = tf.max(flat, 1).dataSync() as Float32Array;
    const argmax = tf.argMax(flat, 1).dataSync() as Int32Array;
    return { max: Float32Array.from(max), argmax: Int32Array.from(argmax), n, c };
  });
}

/** Scan files not yet in the cache; returns the opened cache. Call cache.close() when done. */
export async function scanMaxima(options: ScanOptions): Promise<ScanResult> {
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const meta = options.meta;
  const cache = await MaximaCache.open(options.cacheDir, meta);
  const load = options.load ?? ((file: string) => loadFitted(file, meta.inputSize, options.fit ?? (meta.fit as FitMode)));

  const todo: { file: string; key: string; size: number; mtimeMs: number }[] = [];
  let cached = 0;
  const failed: { file: string; error: string }[] = [];
  let cachedOk = 0;
  for (const file of options.files) {
    const key = fileKey(file, options.root);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      failed.push({ file, error: (err as Error).message });
      continue;
    }
    if (cache.has(key, st.size, st.mtimeMs)) {
      cached += 1;
      const prev = cache.get(key);
      if (prev?.error) failed.push({ file, error: prev.error });
      else cachedOk += 1;
    } else {
      todo.push({ file, key, size: st.size, mtimeMs: st.mtimeMs });
    }
  }

  const started = performance.now();
  let done = 0;
  let scanned = 0;
  const report = (lastError?: { file: string; error: string }) =>
    options.onProgress?.({ done, total: todo.length, cached, failed: failed.length, lastError });
  report();

  type Loaded = { item: (typeof todo)[number]; image?: RgbImage; error?: string };
  const loadBatch = (start: number): Promise<Loaded[]> =>
    Promise.all(
      todo.slice(start, start + batchSize).map(async (item) => {
        try {
          const image = await load(item.file);
          if (image.width !== meta.inputSize[1] || image.height !== meta.inputSize[0]) {
            throw new Error(`loaded as ${image.width}x${image.height}, expected ${meta.inputSize[1]}x${meta.inputSize[0]}`);
          }
          return { item, image };
        } catch (err) {
          return { item, error: (err as Error).message };
        }
      }),
    );

  let next = todo.length > 0 ? loadBatch(0) : undefined;
  for (let start = 0; start < todo.length; start += batchSize) {
    if (options.signal?.aborted) break;
    const loaded = await next!;
    // Decode the next batch (sharp works off the main thread) while this one runs the network.
    next = start + batchSize < todo.length ? loadBatch(start + batchSize) : undefined;
    const good = loaded.filter((l) => l.image);
    const entries: NewEntry[] = [];
    let stats: ReturnType<typeof maxima> | undefined;
    if (good.length) {
      const batch = tf.tidy(() => {
        const { width, height } = good[0].image!;
        const buf = new Float32Array(good.length * width * height * 3);
        good.forEach((l, i) => buf.set(l.image!.data, i * width * height * 3));
        return tf.tensor4d(buf, [good.length, height, width, 3]);
      });
      const acts = tf.tidy(() => options.activations(batch));
      batch.dispose();
      const [, fh, fw, c] = acts.shape;
      if (c !== meta.channels || fh !== meta.featureSize[0] || fw !== meta.featureSize[1]) {
        acts.dispose();
        await cache.close();
        throw new Error(`activation function returned [${acts.shape.join(', ')}], cache expects [n, ${meta.featureSize.join(', ')}, ${meta.channels}]`);
      }
      stats = maxima(acts);
      acts.dispose();
    }
    let gi = 0;
    let lastError: { file: string; error: string } | undefined;
    for (const l of loaded) {
      if (l.error) {
        entries.push({ file: l.item.key, size: l.item.size, mtimeMs: l.item.mtimeMs, error: l.error });
        lastError = { file: l.item.file, error: l.error };
        failed.push(lastError);
      } else {
        const c = stats!.c;
        entries.push({
          file: l.item.key,
          size: l.item.size,
          mtimeMs: l.item.mtimeMs,
          max: stats!.max.slice(gi * c, (gi + 1) * c),
          argmax: Uint32Array.from(stats!.argmax.subarray(gi * c, (gi + 1) * c)),
        });
        gi += 1;
        scanned += 1;
      }
    }
    await cache.append(entries);
    done += loaded.length;
    report(lastError);
  }
  if (next) await next.catch(() => undefined);
  const seconds = (performance.now() - started) / 1000;
  return {
    cache,
    complete: done === todo.length,
    scanned,
    fromCache: cached,
    failed,
    ranked: scanned + cachedOk,
    seconds,
    imagesPerSecond: seconds > 0 ? scanned / seconds : 0,
  };
}

export interface TopEntry {
  /** The cache key of the image (path relative to the scanned folder). */
  file: string;
  value: number;
  /** Position of the maximum in the feature map. */
  y: number;
  x: number;
}

export interface UnitTop {
  unit: number;
  entries: TopEntry[];
}

/**
 * The k images with the largest maximum of each unit, best first (ties: file name order), one
 * entry per image, as in Zeiler & Fergus's figures.
 */
export function topK(cache: MaximaCache, units: number[], k = 9): UnitTop[] {
  checkUnits(units, cache.meta.channels, cache.meta.layer);
  const images = cache.entries().filter((e) => e.record !== undefined);
  return units.map((unit) => {
    const scored = images.map((e) => ({ file: e.file, record: e.record!, value: cache.value(e.record!, unit) }));
    scored.sort((a, b) => b.value - a.value || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    return {
      unit,
      entries: scored.slice(0, k).map((s) => {
        const [y, x] = cache.position(s.record, unit);
        return { file: s.file, value: s.value, y, x };
      }),
    };
  });
}

/** Units with the largest mean of maxima over the scanned images (a default when none are given). */
export function strongestUnits(cache: MaximaCache, count: number): number[] {
  const c = cache.meta.channels;
  const sums = new Float64Array(c);
  const images = cache.entries().filter((e) => e.record !== undefined);
  for (const e of images) for (let u = 0; u < c; u++) sums[u] += cache.value(e.record!, u);
  return Array.from({ length: c }, (_, u) => u)
    .sort((a, b) => sums[b] - sums[a] || a - b)
    .slice(0, Math.min(count, c))
    .sort((a, b) => a - b);
}
