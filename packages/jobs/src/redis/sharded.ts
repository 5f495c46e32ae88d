/**
 * Sharded job kinds: a kind whose work splits into independent child jobs (shards) and a merge. The Redis
 * driver runs the children on any workers (a BullMQ flow: the parent waits for its children) and the merge as
 * the parent; the embedded driver just calls the kind's `run`, which runs the same shards one after another
 * here and merges (runShardsInline). Either way the result is the merge of the same shard results.
 *
 * Shards must be deterministic functions of their input (so a shard delivered twice, or retried after its
 * worker died, gives the same result) and the merge must not depend on which worker ran what.
 */
import type { z } from '@convlab/core/light';
import type { JobContext, JobKind } from '../kind.js';

export interface ShardSpec {
  /** The child's input (validated by the child kind's schema on the worker). */
  input: unknown;
  /** Items (images, frames) the shard handles: the run's progress total is their sum. */
  items: number;
  label?: string;
}

export interface ShardedJobKind<S extends z.ZodType = z.ZodType, R = unknown> extends JobKind<S, R> {
  shards: {
    /** The child kind (declared in the same kinds module, usually not submitted on its own). */
    kind: string;
    /** The shards of a run, in order. Runs on the submitting machine, before anything is queued. */
    plan(input: z.output<S>): Promise<ShardSpec[]>;
    /** Merge the children's results (in shard order) into the run's result; writes the run's files under ctx.dir. */
    merge(input: z.output<S>, results: unknown[], ctx: JobContext): Promise<R>;
  };
}

export function isShardedKind(kind: JobKind): kind is ShardedJobKind {
  const s = (kind as Partial<ShardedJobKind>).shards;
  return !!s && typeof s.kind === 'string' && typeof s.plan === 'function' && typeof s.merge === 'function';
}

/**
 * What a sharded kind's `run` does without a distributed queue: plan, run each shard in this process with a
 * context whose progress counts the run's items, merge.
 */
export async function runShardsInline<S extends z.ZodType, R>(
  kind: Pick<ShardedJobKind<S, R>, 'shards'>,
  child: JobKind,
  input: z.output<S>,
  ctx: JobContext,
): Promise<R> {
  const plan = await kind.shards.plan(input);
  const total = plan.reduce((n, s) => n + s.items, 0);
  const results: unknown[] = [];
  let before = 0;
  for (const shard of plan) {
    if (ctx.signal.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    const parsed = child.input.parse(shard.input);
    const sub: JobContext = { ...ctx, progress: (p) => ctx.progress({ ...p, done: before + Math.min(p.done, shard.items), total }) };
    results.push(await child.run(parsed, sub));
    before += shard.items;
    ctx.progress({ done: before, total });
  }
  return kind.shards.merge(input, results, ctx);
}
