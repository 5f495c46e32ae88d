/**
 * Job kinds of the sharded top-9 scan (shards.ts), for the Redis driver of @convlab/jobs (and the embedded
 * one, which runs the shards one after another):
 *
 * - `top9.run`: the whole figure over a folder. Planned on the submitting machine (the folder listed once,
 *   sorted, cut into shards of --shard-size images, a multiple of the batch); merged and rendered by the
 *   parent job once every shard is done. With `render: false` the parent only merges, and returns the merged
 *   top-k for the submitter to render (the CLI does, into its own --out).
 * - `top9.scan`: one shard: its image files (relative to the folder) scanned with the same batches as a
 *   single-process scan; returns each unit's top-k (and the per-unit sums for strongest:N). Unreadable images
 *   are reported in the result and skipped, not retried.
 *
 * Every worker must see the images at the same path (a shared mount). Loads no tfjs until a job runs.
 */
import { join, relative, resolve } from 'node:path';
import { z } from '@convlab/core/light';
import type { ConvNet } from '@convlab/models';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { ModelOptions, Top9Options, pick } from '../options.js';
import type { Top9Shard } from './shards.js';

const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;

export const Top9RunInput = Top9Options.extend({
  model: ModelOptions.shape.model,
  weights: ModelOptions.shape.weights,
  seed: ModelOptions.shape.seed,
  backend: z.enum(BACKENDS).optional().describe('compute backend on the workers (default: each worker its own)'),
  shardSize: z.number().int().min(1).max(100_000).default(256).describe('images per shard (rounded up to a multiple of the batch)'),
  render: z.boolean().default(true).describe('render the figure on the worker that merges (false: return the merged top-k only)'),
});
export type Top9RunInput = z.output<typeof Top9RunInput>;

export const Top9ScanInput = Top9RunInput.extend({
  shard: z.object({
    index: z.number().int().min(0),
    /** Position of the shard's first file in the sorted list (a multiple of the batch). */
    start: z.number().int().min(0),
    /** The shard's files, relative to `images`. */
    files: z.array(z.string().min(1)).min(1),
  }),
});
export type Top9ScanInput = z.output<typeof Top9ScanInput>;

export interface Top9RunResult {
  merged: Top9Shard;
  /** Files written under the job folder (render: true). */
  files: string[];
  units: number[];
  scanned: number;
  failed: { file: string; error: string }[];
}

/** The top-9 call's own options out of a job input (planTop9 refuses unknown fields). */
const top9Options = (o: Top9RunInput) => pick(Top9Options, o as unknown as Record<string, unknown>) as z.input<typeof Top9Options>;

async function withModel<T>(o: Top9RunInput, ctx: JobContext, fn: (model: ConvNet) => Promise<T>): Promise<T> {
  const [{ initEngine }, { loadModel }] = await Promise.all([import('@convlab/core'), import('@convlab/models')]);
  const engine = await initEngine({ backend: o.backend, log: false });
  ctx.setBackend(engine.backend);
  const model = await loadModel(o.model, { weights: o.weights, seed: o.seed });
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

export const top9ScanKind = defineJobKind({
  kind: 'top9.scan',
  title: 'Top-9 scan, one shard',
  description: 'Scan one shard of an image folder for the per-unit top-k activations (a child of top9.run).',
  input: Top9ScanInput,
  heavy: true,
  async run(o, ctx): Promise<Top9Shard> {
    const { planTop9, scanTop9Shard } = await import('./shards.js');
    const root = resolve(o.images);
    return withModel(o, ctx, async (model) => {
      const plan = await planTop9(model, { ...top9Options(o), out: ctx.dir }, o.shard.files.map((f) => join(root, f)));
      return scanTop9Shard(plan, { index: o.shard.index, start: 0, end: plan.files.length }, {
        signal: ctx.signal,
        scratch: ctx.dir,
        onProgress: (p) => {
          ctx.progress({ done: p.done, total: p.total, message: `shard ${o.shard.index}: ${p.done}/${p.total} images` });
          if (p.lastError) ctx.log(`skipped ${p.lastError.file}: ${p.lastError.error}`);
        },
      });
    });
  },
});

const plan = async (o: Top9RunInput) => {
  const { collectImageFiles } = await import('../images.js');
  const { planShards } = await import('./shards.js');
  const root = resolve(o.images);
  const all = await collectImageFiles(root);
  const files = o.limit ? all.slice(0, o.limit) : all;
  return planShards(files.length, o.shardSize, o.batch).map((r) => ({
    items: r.end - r.start,
    label: `shard ${r.index}`,
    input: { ...o, images: root, shard: { index: r.index, start: r.start, files: files.slice(r.start, r.end).map((f) => relative(root, f).split('\\').join('/')) } },
  }));
};

const merge = async (o: Top9RunInput, results: unknown[], ctx: JobContext): Promise<Top9RunResult> => {
  const { mergeTop9Shards, planTop9, renderMergedTop9 } = await import('./shards.js');
  const merged = mergeTop9Shards(results as Top9Shard[]);
  if (!o.render) return { merged, files: [], units: merged.units, scanned: merged.scanned, failed: merged.failed };
  return withModel(o, ctx, async (model) => {
    const p = await planTop9(model, { ...top9Options(o), out: ctx.dir });
    const r = await renderMergedTop9(model, p, merged, { signal: ctx.signal, onRender: (done, total) => ctx.progress({ done, total, message: `rendering unit ${done}/${total}` }) });
    const files: string[] = [];
    for (const f of r.files) {
      const rel = relative(ctx.dir, f).split('\\').join('/');
      await ctx.announce(rel);
      files.push(rel);
    }
    return { merged, files, units: r.units, scanned: r.scanned, failed: r.failed };
  });
};

export const top9RunKind = defineJobKind({
  kind: 'top9.run',
  title: 'Top-9 figure over a folder, sharded',
  description: 'Zeiler & Fergus Fig. 2 over a large folder: shards scanned on any workers, merged exactly, rendered once.',
  input: Top9RunInput,
  heavy: true,
  // Without a distributed queue: the same shards one after another in this process, then the same merge.
  run: async (o, ctx) => {
    const shards = await plan(o);
    const total = shards.reduce((n, s) => n + s.items, 0);
    const results: Top9Shard[] = [];
    let before = 0;
    for (const s of shards) {
      const sub: JobContext = { ...ctx, progress: (p) => ctx.progress({ ...p, done: before + p.done, total }) };
      results.push(await top9ScanKind.run(Top9ScanInput.parse(s.input), sub));
      before += s.items;
    }
    return merge(o, results, ctx);
  },
});

const top9Sharding = { kind: 'top9.scan', plan, merge };
Object.assign(top9RunKind, { shards: top9Sharding });

export const jobKinds: JobKind[] = [top9RunKind as unknown as JobKind, top9ScanKind as unknown as JobKind];
