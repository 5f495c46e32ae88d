/**
 * The studio's style-transfer job kinds (@convlab/jobs' kind interface):
 *
 * - `style.stylize`: Gatys et al. Its input is the StylizeOptions schema with the fields a job does not take
 *   from a client left out (the backend and the memory limit are the worker's; weights are 'default' or
 *   'random', never a server path) and the images as file paths (the studio resolves its image references
 *   before validating). `saveEvery` sets how often the live preview `current.png` is rewritten (default: about
 *   25 previews per run). Files in the job's folder: current.png (live), result.png, loss.png (when there are
 *   losses) and run.json (the run record, with these files as its outputs).
 * - `style.fast`: a photo through a bundled feed-forward network (Johnson et al. 2016, ./johnson.ts) in one
 *   forward pass. `net` is the name of a bundled network (packages/style/fast-nets/<name>/, or
 *   CONVLAB_FAST_NETS_DIR), an enum of those found when this module is imported (the studio lists them from
 *   the kind's schema), never a path. A quick job (`heavy: false`): it runs beside a long optimization instead
 *   of waiting for it. Files: result.png and run.json (the run record, with the network's milliseconds).
 *
 * This module loads no tfjs: `run` imports the pipeline.
 */
import { join } from 'node:path';
import { z } from '@convlab/core/light';
import { defineJobKind, type JobContext, type JobKind } from '@convlab/jobs/kind';
import { MAX_SIZE, StylizeOptions, parseStylizeOptions, totalIterations } from './options.js';
import { bundledFastNets, fastNetsDir, resolveFastNet, trainFastCommand } from './fast-bundled.js';

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

// ---------------------------------------------------------------------------------------------- style.fast

/** The bundled networks when this module was imported (a studio lists them from the schema; restart it to see new ones). */
export const FAST_JOB_NETS: readonly string[] = bundledFastNets();

/** Without `size`, photos whose longer side is above this are reduced to it (a forward pass at 24 MP takes minutes and GBs). */
export const FAST_JOB_DEFAULT_MAX_SIDE = 1024;

// `train` (in the JSON Schema too): the command that makes a bundled network, for a page that has none to offer.
const fastNetField = FAST_JOB_NETS.length
  ? z.enum(FAST_JOB_NETS as [string, ...string[]]).meta({ description: `bundled network: ${FAST_JOB_NETS.join(', ')}`, train: trainFastCommand() })
  : z
      .string()
      .refine(() => false, { message: `no fast networks are bundled (${fastNetsDir()} holds none); train one: ${trainFastCommand()}` })
      .meta({ description: 'bundled network (none are bundled)', train: trainFastCommand() });

export const FastJobInput = z.object({
  net: fastNetField,
  content: z.string().min(1, 'give a photo').meta({ description: 'photo to stylize', image: true }),
  size: z
    .number()
    .int()
    .min(16)
    .max(MAX_SIZE)
    .optional()
    .meta({ description: `resize the photo so its longer side is this many px first (default: its own size, at most ${FAST_JOB_DEFAULT_MAX_SIDE})`, placeholder: 'PX' }),
});
export type FastJobInput = z.output<typeof FastJobInput>;

export interface FastJobResult {
  image: 'result.png';
  record: 'run.json';
  net: string;
  /** Milliseconds of the network call alone (pad, forward, crop, read back). */
  ms: number;
  /** Wall-clock seconds of the whole job (network load, image read and write included). */
  seconds: number;
  width: number;
  height: number;
}

async function fastJob(input: FastJobInput, ctx: JobContext): Promise<FastJobResult> {
  const t0 = performance.now();
  // Checked again here: the worker may see other networks than the process that validated the input.
  const dir = resolveFastNet(input.net, 'net');
  const [{ fastStylize }, { loadImage, saveImage }] = await Promise.all([import('./fast-io.js'), import('@convlab/core')]);
  ctx.progress({ done: 0, total: 1, message: `${input.net}: loading the network` });
  const photo = await loadImage(input.content);
  const size = input.size ?? (Math.max(photo.width, photo.height) > FAST_JOB_DEFAULT_MAX_SIDE ? FAST_JOB_DEFAULT_MAX_SIDE : undefined);
  const r = await fastStylize({ net: dir, content: input.content, out: join(ctx.dir, 'result.png'), size }, { onEngine: (e) => ctx.setBackend(e.backend) });
  await saveImage(r.image, join(ctx.dir, 'result.png'));
  await ctx.announce('result.png', { ...PNG, label: `${input.net}, ${r.image.width}x${r.image.height}, network ${r.networkMs.toFixed(0)} ms` });
  r.record.set('outputs', { image: 'result.png', record: 'run.json' });
  r.record.set('job', { net: input.net, size: size ?? null });
  await r.record.save(join(ctx.dir, 'run.json'));
  await ctx.announce('run.json', { mime: 'application/json', label: 'run record' });
  ctx.progress({ done: 1, total: 1, message: `${input.net}: ${r.networkMs.toFixed(0)} ms` });
  return { image: 'result.png', record: 'run.json', net: input.net, ms: r.networkMs, seconds: (performance.now() - t0) / 1000, width: r.image.width, height: r.image.height };
}

export const fastKind = defineJobKind({
  kind: 'style.fast',
  title: 'Fast style transfer (feed-forward)',
  description: 'A photo through a bundled feed-forward network (Johnson, Alahi & Fei-Fei 2016, instance norm) in one forward pass: result.png and the run record with the milliseconds.',
  input: FastJobInput,
  heavy: false,
  run: fastJob,
});

export const jobKinds: JobKind[] = [stylizeKind, fastKind];
