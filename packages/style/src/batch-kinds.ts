/**
 * Job kinds of batch stylization (./batch.ts), for @convlab/jobs' Redis driver (and the embedded one, which
 * runs the groups one after another with runShardsInline):
 *
 * - `style.batch`: a folder of images or a video into <out>/frame-000001.png... Planned on the submitting
 *   machine (options and inputs checked, the video's frames extracted into <out>/source, the frames cut into
 *   groups of --frames-per-job); the parent job writes <out>/run.json and, for a video, <out>/stylized.mp4
 *   once every group is done.
 * - `style.batch-frames`: one group, its frames stylized in order and written straight into <out>: each frame
 *   optimized (with `temporal`, from the previous result), or, in fast mode (`fast`: a network folder or a
 *   bundled name), each frame through the network loaded once for the group (with `temporal`, a moving
 *   average of the outputs). An unreadable frame is reported and skipped, not retried.
 *
 * The frames, the style images (or the --net folder; a bundled name is resolved on each worker) and --out must be at the same path on every worker (a shared mount), as for
 * the other scale-out kinds. Loads no tfjs until a job runs.
 */
import { z } from '@convlab/core/light';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import type { ShardSpec } from '@convlab/jobs/redis';
import { BatchStylizeOptions, groupFrameOptions, isFastFrame, parseBatchOptions, type BatchResult, type GroupResult, type ParsedBatchOptions } from './batch.js';
import { BACKENDS, StylizeOptions, type ParsedStylizeOptions } from './options.js';

/** A group's fast-mode options (batch.ts FastFrameOptions). */
const FastFrames = z.object({
  net: z.string().min(1),
  size: z.number().int().min(16).optional(),
  temporalBlend: z.number().min(0).max(0.99),
  backend: z.enum(BACKENDS).optional(),
});

export const StyleBatchFramesInput = z.object({
  /** Optimization mode: the per-frame stylize options (content and init image are set per frame). */
  options: z.record(z.string(), z.unknown()).optional(),
  /** Fast mode: the network and its options (instead of `options`). */
  fast: FastFrames.optional(),
  out: z.string().min(1),
  temporal: z.boolean(),
  group: z.object({
    index: z.number().int().min(0),
    frames: z.array(z.object({ index: z.number().int().min(1), path: z.string().min(1) })).min(1),
  }),
});
export type StyleBatchFramesInput = z.output<typeof StyleBatchFramesInput>;

export const styleBatchFramesKind = defineJobKind({
  kind: 'style.batch-frames',
  title: 'Batch stylization, one group of frames',
  description: 'Stylize one group of frames in order into the output folder (a child of style.batch).',
  input: StyleBatchFramesInput,
  heavy: true,
  async run(o, ctx): Promise<GroupResult> {
    const { stylizeGroup } = await import('./batch.js');
    if (!o.fast === !o.options) throw new Error('style.batch-frames takes either options (optimization) or fast (a network), not both or neither');
    const frame = o.fast ?? (StylizeOptions.omit({ content: true }).parse(o.options) as Omit<ParsedStylizeOptions, 'content'>);
    const r = await stylizeGroup(frame, o.group, o.out, o.temporal, {
      signal: ctx.signal,
      onEngine: (b) => ctx.setBackend(b),
      onProgress: (done, total, message) => ctx.progress({ done, total, message: `group ${o.group.index}: ${message}` }),
      onSkip: (file, reason) => ctx.log(`skipped ${file}: ${reason}`),
    });
    // A stopped group is not a result: the run is cancelled (or the worker stops) and the group is redone.
    if (r.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    return r;
  },
});

const plan = async (o: ParsedBatchOptions): Promise<ShardSpec[]> => {
  const { planBatch } = await import('./batch.js');
  const { options } = parseBatchOptions(o as unknown as Record<string, unknown>, 'code');
  const p = await planBatch(options);
  const frame = groupFrameOptions(options);
  return p.groups.map((g) => ({
    items: g.frames.length,
    label: `frames ${g.frames[0].index}-${g.frames.at(-1)!.index}`,
    input: { ...(isFastFrame(frame) ? { fast: frame } : { options: frame }), out: p.out, temporal: options.temporal, group: g },
  }));
};

const merge = async (o: ParsedBatchOptions, results: unknown[], ctx: JobContext) => {
  const { finishBatch, planBatch } = await import('./batch.js');
  // The video's rate is known again from <out>/source (extraction is done once and reused).
  const { video } = await planBatch(o);
  ctx.progress({ done: 0, total: 1, message: video ? 'writing the record and the video' : 'writing the record' });
  const r = await finishBatch(o, video, results as GroupResult[]);
  ctx.progress({ done: 1, total: 1, message: `${r.frames} frames in ${r.out}` });
  return r;
};

const sharding = { kind: 'style.batch-frames', plan, merge };

export const styleBatchKind = defineJobKind({
  kind: 'style.batch',
  title: 'Batch stylization (folder or video), sharded',
  description: 'Stylize a folder of images or the frames of a video (optimized towards a style image, or through a fast network with net), groups of frames on any workers, reassembled in order (optionally temporally consistent).',
  input: BatchStylizeOptions,
  heavy: true,
  // Without a distributed queue: the same groups one after another in this process, then the same finish.
  run: async (o, ctx): Promise<BatchResult> => {
    const { runShardsInline } = await import('@convlab/jobs/redis');
    return runShardsInline({ shards: sharding } as never, styleBatchFramesKind as unknown as JobKind, o, ctx) as Promise<BatchResult>;
  },
});

Object.assign(styleBatchKind, { shards: sharding });

export const jobKinds: JobKind[] = [styleBatchKind as unknown as JobKind, styleBatchFramesKind as unknown as JobKind];
