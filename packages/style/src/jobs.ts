/**
 * The studio's style-transfer job kind, `style.stylize` (@convlab/jobs' kind interface). Its input is the
 * StylizeOptions schema with the fields a job does not take from a client left out (the backend and the
 * memory limit are the worker's; weights are 'default' or 'random', never a server path) and the images as
 * file paths (the studio resolves its image references before validating). `saveEvery` sets how often the
 * live preview `current.png` is rewritten (default: about 25 previews per run).
 *
 * Files in the job's folder: current.png (live), result.png, loss.png (when there are losses) and run.json
 * (the run record, with these files as its outputs). This module loads no tfjs: `run` imports the pipeline.
 */
import { join } from 'node:path';
import { z } from '@convlab/core/light';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { StylizeOptions, parseStylizeOptions, totalIterations } from './options.js';

/** Previews per run when `saveEvery` is not given. */
const PREVIEWS = 25;

export const StylizeJobInput = StylizeOptions.omit({ backend: true, maxMemoryGb: true, initImage: true }).extend({
  // A starting image (init 'image') is for batch --temporal (batch-kinds.ts), not the studio's one-image job.
  init: z.enum(['content', 'style', 'noise']).default('content').describe('starting image'),
  content: z.string().min(1, 'give a content image').meta({ description: 'content image', image: true }),
  style: z.array(z.string().min(1, 'give a style image')).min(1, 'give at least one style image').meta({ description: 'style image(s)', image: true }),
  weights: z.enum(['default', 'random']).default('default').describe("the backbone's shipped weights, or random ones"),
  saveEvery: StylizeOptions.shape.saveEvery.describe(`rewrite the live preview current.png every N iterations (default: about ${PREVIEWS} previews per run)`),
});
export type StylizeJobInput = z.output<typeof StylizeJobInput>;

export interface StylizeJobResult {
  image: 'result.png';
  record: 'run.json';
  lossPlot?: 'loss.png';
  /** Wall-clock seconds of the run (from the record). */
  seconds: number;
  /** True when the job was cancelled: the image is the last iterate. */
  aborted: boolean;
  iterations: { done: number; total: number };
  width: number;
  height: number;
}

const PNG = { mime: 'image/png' } as const;

async function stylizeJob(input: StylizeJobInput, ctx: JobContext): Promise<StylizeJobResult> {
  // The options are checked (and totals computed) before anything heavy is imported.
  const resolved = parseStylizeOptions(input, 'code');
  const total = totalIterations(resolved);
  const every = input.saveEvery ?? Math.max(1, Math.round(total / PREVIEWS));
  const [{ stylize }, { writeLossPlot }, { readStyleRun }, { encodeImage, saveImage }] = await Promise.all([
    import('./stylize.js'),
    import('./plot.js'),
    import('./record.js'),
    import('@convlab/core'),
  ]);
  const stages = resolved.stages.length;
  const result = await stylize(
    { ...input, saveEvery: every },
    (p) =>
      ctx.progress({
        done: p.done,
        total: p.total,
        message: `${stages > 1 ? `stage ${p.stage}/${p.stageCount} (${p.stageSize} px), ` : ''}iteration ${p.iteration}/${p.stageIterations}`,
        values: { ...p.losses },
        rate: p.secondsPerIteration > 0 ? 1 / p.secondsPerIteration : undefined,
        etaSeconds: p.etaSeconds,
      }),
    ctx.signal,
    {
      onEngine: (engine) => ctx.setBackend(engine.backend),
      onCheckpoint: async (image, done) => {
        await ctx.artifact('current.png', await encodeImage(image, 'png'), { ...PNG, label: `current image, iteration ${done}/${total}` });
      },
    },
  );
  const run = readStyleRun(result.record);
  // The preview ends on the result, so a page showing current.png shows what the job made.
  await ctx.artifact('current.png', await encodeImage(result.image, 'png'), { ...PNG, label: `result, iteration ${run.iterationsDone}/${total}` });
  await saveImage(result.image, join(ctx.dir, 'result.png'));
  await ctx.announce('result.png', { ...PNG, label: `result ${result.image.width}x${result.image.height}${result.aborted ? ' (stopped early)' : ''}` });
  await writeLossPlot(result.record, join(ctx.dir, 'loss.png'));
  const lossPlot = run.losses.length > 0 ? ('loss.png' as const) : undefined;
  if (lossPlot) await ctx.announce(lossPlot, { ...PNG, label: 'losses per iteration' });
  result.record.set('outputs', { image: 'result.png', record: 'run.json', preview: 'current.png', ...(lossPlot ? { plot: lossPlot } : {}) });
  await result.record.save(join(ctx.dir, 'run.json'));
  await ctx.announce('run.json', { mime: 'application/json', label: 'run record' });
  return {
    image: 'result.png',
    record: 'run.json',
    ...(lossPlot ? { lossPlot } : {}),
    seconds: result.record.toJSON().totalSeconds,
    aborted: result.aborted,
    iterations: { done: run.iterationsDone, total },
    width: result.image.width,
    height: result.image.height,
  };
}

export const stylizeKind = defineJobKind({
  kind: 'style.stylize',
  title: 'Style transfer',
  description: 'Neural style transfer (Gatys, Ecker & Bethge): the content image repainted with the statistics of the style image(s); live preview, loss curve and run record.',
  input: StylizeJobInput,
  heavy: true,
  run: stylizeJob,
});

export const jobKinds: JobKind[] = [stylizeKind];
