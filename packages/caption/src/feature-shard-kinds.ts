/**
 * Job kinds of the sharded feature extraction (feature-shards.ts), for @convlab/jobs' Redis driver (and the
 * embedded one, which runs the shards one after another):
 *
 * - `caption.extract`: a whole dataset into one feature cache. Planned on the submitting machine (options and
 *   dataset checked as `convlab-caption extract` checks them, the image list cut into shards of --shard-size,
 *   a multiple of the batch); the parent job assembles the cache once every shard is done.
 * - `caption.extract-shard`: one shard into <features>/.shards/<n>/ (resumable on its own). Unreadable images
 *   are recorded as failed, reported and skipped, not retried.
 *
 * The images and the features folder must be at the same path on every worker (a shared mount).
 */
import { z } from '@convlab/core/light';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { ExtractOptions } from './options.js';
import type { EncoderSpec } from './features.js';
import type { FeatureShardResult } from './feature-shards.js';

export const CaptionExtractInput = ExtractOptions.extend({
  shardSize: z.number().int().min(1).max(1_000_000).default(512).describe('images per shard (rounded up to a multiple of the batch)'),
});
export type CaptionExtractInput = z.output<typeof CaptionExtractInput>;

export const CaptionExtractShardInput = z.object({
  spec: z.custom<EncoderSpec>((v) => typeof v === 'object' && v !== null && 'type' in v, 'an encoder spec'),
  features: z.string().min(1),
  withGrid: z.boolean(),
  batch: z.number().int().min(1),
  backend: ExtractOptions.shape.backend,
  shard: z.object({ index: z.number().int().min(0), start: z.number().int().min(0), images: z.array(z.string()).min(1), paths: z.array(z.string()).min(1) }),
});
export type CaptionExtractShardInput = z.output<typeof CaptionExtractShardInput>;

export type ShardResult = FeatureShardResult & { images_: string[]; start: number };

export interface CaptionExtractResult {
  features: string;
  images: number;
  shards: number;
  failed: { image: string; reason: string }[];
  seconds: number;
}

export const captionExtractShardKind = defineJobKind({
  kind: 'caption.extract-shard',
  title: 'Feature extraction, one shard',
  description: 'Encode one shard of a dataset into its slice of the feature cache (a child of caption.extract).',
  input: CaptionExtractShardInput,
  heavy: true,
  async run(o, ctx): Promise<ShardResult> {
    const [{ initEngine }, { createExtractor }, { extractFeatureShard }] = await Promise.all([import('@convlab/core'), import('./features.js'), import('./feature-shards.js')]);
    const engine = await initEngine({ backend: o.backend === 'auto' ? undefined : o.backend, log: false });
    ctx.setBackend(engine.backend);
    const extractor = await createExtractor(o.spec);
    const n = o.shard.images.length;
    // The shard's own slice of the whole list: images/paths are already the slice, so the range starts at 0.
    const range = { index: o.shard.index, start: 0, end: n };
    try {
      const r = await extractFeatureShard(o.features, extractor, o.shard.images, o.shard.paths, range, {
        withGrid: o.withGrid,
        batchSize: o.batch,
        signal: ctx.signal,
        onProgress: (done) => ctx.progress({ done, total: n, message: `shard ${o.shard.index}: ${done}/${n} images` }),
        onFailure: (image, _path, err) => ctx.log(`skipped ${image}: ${err.message.split('\n')[0]}`),
      });
      return { ...r, images_: o.shard.images, start: o.shard.start };
    } finally {
      extractor.dispose();
    }
  },
});

const plan = async (o: CaptionExtractInput) => {
  const { prepareExtract, planFeatureShards } = await import('./feature-shards.js');
  const { shardSize: _shardSize, ...extract } = o;
  const p = await prepareExtract(extract);
  return planFeatureShards(p.images.length, o.shardSize, p.batch).map((r) => ({
    items: r.end - r.start,
    label: `shard ${r.index}`,
    input: {
      spec: p.spec,
      features: p.features,
      withGrid: p.withGrid,
      batch: p.batch,
      backend: o.backend,
      shard: { index: r.index, start: r.start, images: p.images.slice(r.start, r.end), paths: p.paths.slice(r.start, r.end) },
    },
  }));
};

const merge = async (o: CaptionExtractInput, results: unknown[], ctx: JobContext): Promise<CaptionExtractResult> => {
  const { assembleFeatureCache } = await import('./feature-shards.js');
  const { createRunRecord } = await import('@convlab/core');
  const shards = (results as ShardResult[]).slice().sort((a, b) => a.start - b.start);
  const images = shards.flatMap((s) => s.images_);
  const { resolve, join } = await import('node:path');
  const features = resolve(o.features);
  ctx.progress({ done: 0, total: 1, message: `assembling ${shards.length} shards` });
  const ranges = shards.map((s) => ({ index: s.index, start: s.start, end: s.start + s.images }));
  const r = await assembleFeatureCache(features, images, ranges);
  const record = createRunRecord({ tool: 'caption-extract', parameters: o, model: o.model });
  record.set('result', { done: images.length, complete: true, shards: shards.length, failed: r.failed, shardSeconds: r.seconds });
  record.finish();
  await record.save(join(features, 'run-record.json'));
  ctx.progress({ done: 1, total: 1, message: `${images.length} images in ${features}` });
  return { features, images: images.length, shards: shards.length, failed: r.failed, seconds: r.seconds };
};

export const captionExtractKind = defineJobKind({
  kind: 'caption.extract',
  title: 'Caption feature extraction, sharded',
  description: 'Encode a dataset into a feature cache across workers: shards written in place, assembled byte-identical to one extraction.',
  input: CaptionExtractInput,
  heavy: true,
  // Without a distributed queue: the same shards one after another in this process, then the same assembly.
  run: async (o, ctx) => {
    const shards = await plan(o);
    const total = shards.reduce((n, s) => n + s.items, 0);
    const results: ShardResult[] = [];
    let before = 0;
    for (const s of shards) {
      const sub: JobContext = { ...ctx, progress: (p) => ctx.progress({ ...p, done: before + p.done, total }) };
      results.push(await captionExtractShardKind.run(CaptionExtractShardInput.parse(s.input), sub));
      before += s.items;
    }
    return merge(o, results, ctx);
  },
});

Object.assign(captionExtractKind, { shards: { kind: 'caption.extract-shard', plan, merge } });

export const jobKinds: JobKind[] = [captionExtractKind as unknown as JobKind, captionExtractShardKind as unknown as JobKind];
