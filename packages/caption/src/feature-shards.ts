/**
 * Feature extraction split into shards that can run on different machines, then assembled into one cache with
 * the same bytes a single-process extraction writes.
 *
 * A shard is a contiguous slice of the dataset's image list, its size a multiple of the extraction batch, so
 * every forward pass of a shard holds exactly the images the single-process run puts in that batch. Each
 * shard runs extractToCache on its slice into <features>/.shards/<index>/ (resumable on its own: a worker
 * killed mid-shard leaves finished batches that the next attempt keeps). Assembly concatenates the shards'
 * pooled.f32 and grid.f16 rows in shard order and writes an index.json whose fields are the single-process
 * ones: the same images, dims, grid shape, done, and `failed` in image order. The one field that cannot
 * match is `seconds` (wall time): it is the sum of the shards' times.
 *
 * The features folder must be reachable at the same path from every worker (a shared mount), as the images
 * are: the cache is far too large to travel through Redis (MobileNetV2's grid is 125 kB per image).
 */
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConvlabError, writeJsonAtomic, type z } from '@convlab/core';
import { extractToCache, readCacheIndex, sameEncoderWeights, type CacheIndex, type EncoderSpec, type ExtractToCacheOptions, type FeatureExtractor } from './features.js';
import { ExtractOptions } from './options.js';
import { hooksOf, type RunHooks } from './runs/common.js';
import { prepareExtractSteps } from './runs/extract.js';

export interface FeatureShardRange {
  index: number;
  start: number;
  end: number;
}

/** Shards of about `shardSize` images, rounded up to a multiple of `batch` (deterministic). */
export function planFeatureShards(count: number, shardSize: number, batch: number): FeatureShardRange[] {
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new ConvlabError(`shard size ${shardSize} is not a positive integer`, { hint: 'use --shard-size N with N >= 1' });
  const b = Math.max(1, Math.floor(batch));
  const size = Math.ceil(shardSize / b) * b;
  const out: FeatureShardRange[] = [];
  for (let start = 0, index = 0; start < count; start += size, index++) out.push({ index, start, end: Math.min(count, start + size) });
  return out;
}

export function shardDir(features: string, index: number): string {
  return join(features, '.shards', String(index).padStart(5, '0'));
}

export interface FeatureShardResult {
  index: number;
  images: number;
  done: number;
  seconds: number;
  imagesPerSecond: number;
  failed: { image: string; reason: string }[];
}

/**
 * Extract one shard (images[range.start, range.end)) into its folder under `features`. Throws an AbortError
 * when stopped before the end (what is finished stays for the next attempt).
 */
export async function extractFeatureShard(
  features: string,
  extractor: FeatureExtractor,
  images: string[],
  paths: string[],
  range: FeatureShardRange,
  options: Omit<ExtractToCacheOptions, 'onProgress'> & { onProgress?: (done: number, total: number) => void } = {},
): Promise<FeatureShardResult> {
  const dir = shardDir(features, range.index);
  const r = await extractToCache(dir, extractor, images.slice(range.start, range.end), paths.slice(range.start, range.end), options);
  const count = range.end - range.start;
  if (r.done < count) {
    const err = new Error(`feature shard ${range.index} stopped at ${r.done}/${count} images`);
    err.name = 'AbortError';
    throw err;
  }
  return { index: range.index, images: count, done: r.done, seconds: r.seconds, imagesPerSecond: r.imagesPerSecond, failed: r.failed };
}

async function concatInto(target: string, parts: string[]): Promise<void> {
  const tmp = `${target}.assembling-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    for (const p of parts) await pipeline(createReadStream(p), out, { end: false });
    await new Promise<void>((resolveEnd, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolveEnd())));
    await rename(tmp, target);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface AssembleResult {
  features: string;
  images: number;
  shards: number;
  failed: { image: string; reason: string }[];
  seconds: number;
}

/**
 * Assemble the shards of `ranges` into the cache at `features`: pooled.f32 (and grid.f16) concatenated, index.json
 * written last. Every shard must be complete and made with the same encoder and grid setting; the shard folders
 * are removed afterwards unless `keepShards`.
 */
export async function assembleFeatureCache(
  features: string,
  images: string[],
  ranges: FeatureShardRange[],
  options: { keepShards?: boolean } = {},
): Promise<AssembleResult> {
  const covered = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  if (covered !== images.length) throw new Error(`assembleFeatureCache: shards cover ${covered} of ${images.length} images`);
  const indexes: CacheIndex[] = [];
  for (const r of ranges) {
    const dir = shardDir(features, r.index);
    const index = readCacheIndex(dir);
    const count = r.end - r.start;
    if (index.done !== count || index.images.length !== count || index.images.some((x, i) => x !== images[r.start + i])) {
      throw new ConvlabError(`feature shard ${r.index} in ${dir} is incomplete or holds other images (${index.done}/${count})`, { hint: 'run the extraction again: unfinished shards are redone' });
    }
    const first = indexes[0];
    if (first && (JSON.stringify(first.spec) !== JSON.stringify(index.spec) || !sameEncoderWeights(first.weights, index.weights) || first.withGrid !== index.withGrid || first.pooledDim !== index.pooledDim)) {
      throw new ConvlabError(`feature shard ${r.index} was made with another encoder than shard ${ranges[0].index}`, { hint: `delete ${join(features, '.shards')} and extract again` });
    }
    const [h, w, c] = index.gridShape;
    if (statSync(join(dir, 'pooled.f32')).size !== count * index.pooledDim * 4 || (index.withGrid && statSync(join(dir, 'grid.f16')).size !== count * h * w * c * 2)) {
      throw new ConvlabError(`feature shard ${r.index} in ${dir} has truncated data`, { hint: `delete ${dir} and extract again` });
    }
    indexes.push(index);
  }
  const first = indexes[0];
  await mkdir(features, { recursive: true });
  const dirs = ranges.map((r) => shardDir(features, r.index));
  await concatInto(join(features, 'pooled.f32'), dirs.map((d) => join(d, 'pooled.f32')));
  if (first.withGrid) await concatInto(join(features, 'grid.f16'), dirs.map((d) => join(d, 'grid.f16')));
  const failed: Record<string, string> = {};
  for (const index of indexes) for (const [image, reason] of Object.entries(index.failed ?? {})) failed[image] = reason;
  const seconds = indexes.reduce((s, i) => s + i.seconds, 0);
  // The key order of extractToCache's index, so the file differs from a single-process one only in `seconds`.
  const index: CacheIndex = {
    format: 'convlab-caption-features/1',
    spec: first.spec,
    ...(first.weights ? { weights: first.weights } : {}),
    images,
    pooledDim: first.pooledDim,
    gridShape: first.gridShape,
    withGrid: first.withGrid,
    done: images.length,
    seconds,
    failed,
  };
  await writeJsonAtomic(join(features, 'index.json'), index);
  if (!options.keepShards && existsSync(join(features, '.shards'))) {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await rmdir(join(features, '.shards')).catch(() => undefined); // left when other shards are still there
  }
  return { features, images: images.length, shards: ranges.length, failed: Object.entries(failed).map(([image, reason]) => ({ image, reason })), seconds };
}

export interface PreparedExtract {
  spec: EncoderSpec;
  /** The cache folder (absolute, created). */
  features: string;
  images: string[];
  paths: string[];
  withGrid: boolean;
  batch: number;
  datasetName: string;
}

/**
 * Steps 1-4 of runExtract (options, inputs, output folder, dataset; a cache already there made otherwise is
 * refused) without the work: what a sharded extraction plans its shards from, on the submitting machine.
 */
export async function prepareExtract(options: z.input<typeof ExtractOptions>, hooks: RunHooks = {}): Promise<PreparedExtract> {
  // The encoder's weights must be on this machine too (each worker loads them from its own weights cache).
  const { o, spec, out, ds } = await prepareExtractSteps(options, hooksOf(hooks));
  return { spec, features: resolve(out), images: ds.items.map((i) => i.image), paths: ds.items.map((i) => resolve(i.path)), withGrid: o.grid, batch: o.batch, datasetName: ds.name };
}
