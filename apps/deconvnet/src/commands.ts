/**
 * convlab-deconv: one commander command per @convlab/visualize call, its flags and --help generated
 * from the call's option schema (plus the model and engine flags). Each command checks its flags
 * (parseOptions), its inputs and output folders before loading anything, then loads the model and
 * calls the library, which checks what the model decides (size, target, memory) before any image is
 * read. Every command prints the files it wrote.
 */
import { Command, CommanderError } from 'commander';
import { BACKEND_ORDER, BatchFailures, ConvlabError, addOptions, createProgress, initEngine, parseOptions, z, type OptionsSchema, type Progress } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import {
  AttributeOptions,
  DeepDreamOptions,
  DossierOptions,
  FeaturesOptions,
  FeatureVizOptions,
  FigureOptions,
  FiltersOptions,
  LayersOptions,
  ModelOptions,
  OcclusionOptions,
  ProjectOptions,
  ReportOptions,
  SanityOptions,
  Top9Options,
  pick,
  targetOf,
} from '@convlab/visualize/options';
import { prepareRunIo, removeEmptyDirs, type RunIo } from '@convlab/visualize/outputs';

type Visualize = typeof import('@convlab/visualize');

const EngineOptions = z.object({
  backend: z.enum(['auto', ...BACKEND_ORDER]).optional().describe('compute backend (default: CONVLAB_BACKEND, else auto)'),
  verbose: z.boolean().default(false).describe('print stack traces with errors'),
});

const say = (line: string): void => void process.stderr.write(line + '\n');

/** Scale-out flags of the batch commands (top9): run on convlab-worker machines through Redis. */
const QueueOptions = z.object({
  queue: z.string().regex(/^rediss?:\/\//, 'must be a Redis URL: redis://host:port').optional().meta({ description: 'Redis URL (redis://host:port): scan on convlab-worker machines, render here (default: CONVLAB_REDIS_URL, else scan here)', placeholder: 'URL' }),
  shardSize: z.number().int().min(1).max(100_000).default(256).describe('with --queue: images per shard (rounded up to a multiple of --batch)'),
});

/**
 * top9 with --queue: the folder's shards are scanned by the workers (one progress bar for the run, Ctrl-C
 * cancels it everywhere), merged by a worker, and rendered here into --out exactly as a single-process run.
 * The run id is a hash of the options, so the same command resumes a cancelled or failed run.
 */
async function top9OnQueue(r: Run, url: string): Promise<{ files: string[]; done: true }> {
  const { createHash } = await import('node:crypto');
  const { resolve } = await import('node:path');
  const { createRedisQueue, followRun } = await import('@convlab/jobs/redis');
  const call = r.call(Top9Options);
  const { out, ...rest } = call;
  const input = { ...rest, images: resolve(call.images), model: r.o.model, weights: r.o.weights, seed: r.o.seed, backend: r.o.backend, shardSize: r.o.shardSize, render: false };
  const id = `top9-${createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16)}`;
  const queue = await createRedisQueue({ url });
  let info;
  try {
    await queue.submit('top9.run', input, { id, label: `top9 ${call.layer} over ${call.images}` });
    info = await followRun(queue, id, { label: 'top9', signal: r.signal });
  } finally {
    await queue.close();
  }
  if (info.status !== 'done') {
    throw new ConvlabError(`top9 run ${id} ${info.status}${info.error ? `: ${info.error.message}` : ''}`, { hint: 'run the same command again to resume it (finished shards are kept in Redis)' });
  }
  const merged = (info.result as { merged: import('@convlab/visualize').Top9Shard }).merged;
  const plan = await r.lib.planTop9(r.model, { ...call, out });
  const render = bar('render', 'unit');
  const res = await r.lib.renderMergedTop9(r.model, plan, merged, { signal: r.signal, onRender: (done, total) => render.update(done, total), workers: info.worker });
  render.stop();
  for (const f of res.failed) r.failures.add(f.file, f.error);
  say(`top9: ${res.scanned} images scanned in ${merged.shards.length} shards on the workers`);
  r.failures.finish(res.imageCount);
  return { files: res.files, done: true };
}

/** What a command's run gets: the library, the loaded model, its parsed options and checked paths. */
interface Run {
  lib: Visualize;
  model: ConvNet;
  /** Parsed flags (the call's options, the model's and the engine's). */
  o: Record<string, unknown>;
  io: RunIo;
  /** The call's own options, with the image files and the prepared output folder. */
  call<S extends OptionsSchema>(schema: S): z.input<S>;
  signal: AbortSignal;
  failures: BatchFailures;
  hooks: { signal: AbortSignal; log: typeof say; onSkip: (file: string, err: unknown) => void };
}

interface Spec {
  name: string;
  summary: string;
  schema: OptionsSchema;
  /** Positional image arguments ('IMAGE...'), or none. */
  images?: string;
  /** Commands with --layer/--unit/--class. */
  target?: boolean;
  /** The images prepareRunIo checks, when not the positionals / --images (e.g. dossier's "bundled" is none). */
  inputs?(o: Record<string, unknown>): string | string[] | undefined;
  /** Returns the files written; counts images for the batch summary unless it returns {done}. */
  run(r: Run): Promise<string[] | { files: string[]; done: true }>;
}

/** A progress bar created on the first update and stopped when done. */
function bar(label: string, unit: string) {
  let p: Progress | undefined;
  return {
    update(done: number, total: number, fields?: Record<string, string | number>) {
      p ??= createProgress({ total, label, unit });
      p.update(done, fields);
      if (done === total) this.stop();
    },
    stop() {
      p?.stop();
      p = undefined;
    },
  };
}

const SPECS: Spec[] = [
  {
    name: 'attribute',
    summary: 'methods side by side for one target (PNG per map, grid, JSON, HTML report)',
    schema: AttributeOptions,
    images: 'IMAGE...',
    target: true,
    run: async (r) => (await r.lib.runAttribute(r.model, r.call(AttributeOptions), r.hooks)).files,
  },
  {
    name: 'project',
    summary: 'deconvnet projection of a unit, whole image and cropped to its receptive field',
    schema: ProjectOptions,
    images: 'IMAGE...',
    target: true,
    run: async (r) => (await r.lib.runProject(r.model, r.call(ProjectOptions), r.hooks)).files,
  },
  {
    name: 'occlusion',
    summary: 'grey-square occlusion maps (Zeiler & Fergus 4.2)',
    schema: OcclusionOptions,
    images: 'IMAGE...',
    target: true,
    run: async (r) => {
      const progress = bar('occlusion', 'img');
      const out = await r.lib.runOcclusion(r.model, r.call(OcclusionOptions), { ...r.hooks, onProgress: (done, total) => progress.update(done, total) });
      progress.stop();
      return out.files;
    },
  },
  {
    name: 'top9',
    summary: 'top-9 activations of units over a folder (Z&F Fig. 2), resumable scan; --queue scans on worker machines',
    schema: Top9Options.extend(QueueOptions.shape),
    run: async (r) => {
      // The Redis driver is loaded only when a queue is named (--queue or CONVLAB_REDIS_URL).
      if (r.o.queue ?? process.env.CONVLAB_REDIS_URL) {
        const { redisUrlFrom } = await import('@convlab/jobs/redis');
        const url = redisUrlFrom(r.o.queue as string | undefined);
        if (url) return top9OnQueue(r, url);
      }
      const scan = bar('scan', 'img');
      const render = bar('render', 'unit');
      const reported = new Set<string>();
      let started = false;
      const res = await r.lib.runTop9(r.model, { ...r.call(Top9Options), cache: r.io.cache }, {
        signal: r.signal,
        onScan: (p) => {
          if (!started && p.cached) say(`top9: ${p.cached} images already in the cache, ${p.total} to scan`);
          started = true;
          if (p.lastError) {
            process.stderr.write('\n');
            reported.add(p.lastError.file);
            r.failures.add(p.lastError.file, p.lastError.error);
          }
          scan.update(p.done, p.total, { failed: p.failed });
        },
        onRender: (done, total) => render.update(done, total),
      });
      scan.stop();
      render.stop();
      // Files that failed in an earlier run (kept in the cache) count too.
      for (const f of res.failed) if (!reported.has(f.file)) r.failures.add(f.file, `${f.error} (remembered from an earlier scan)`);
      if (res.failed.length) say(`top9: ${res.failed.length} file(s) could not be read and were skipped: ${res.failed.slice(0, 5).map((f) => f.file).join(', ')}${res.failed.length > 5 ? ', ...' : ''}`);
      say(`top9: scanned ${res.scanned} images (${res.imagesPerSecond.toFixed(1)} images/s), ${res.fromCache} from the cache`);
      if (!res.complete) say('top9: interrupted; the scanned images are cached: run the same command again to continue');
      r.failures.finish(res.imageCount);
      return { files: res.files, done: true };
    },
  },
  {
    name: 'featureviz',
    summary: 'feature visualization by optimization (Olah et al. 2017): images that maximise a unit, channel, neuron, direction or class',
    schema: FeatureVizOptions,
    run: async (r) => {
      const progress = bar('optimize', 'step');
      const res = await r.lib.runFeatureViz(r.model, r.call(FeatureVizOptions), { ...r.hooks, onStep: (step, steps, value) => progress.update(step, steps, { objective: value.toPrecision(4) }) });
      progress.stop();
      say(`featureviz: objective ${res.start.map((v) => v.toPrecision(3)).join(', ')} -> ${res.final.map((v) => v.toPrecision(3)).join(', ')} (${res.seconds.toFixed(1)} s)`);
      return { files: res.files, done: true };
    },
  },
  {
    name: 'deepdream',
    summary: 'DeepDream (Mordvintsev et al. 2015): a photo changed to excite a layer, octave by octave',
    schema: DeepDreamOptions,
    inputs: (o) => o.image as string,
    run: async (r) => {
      const progress = bar('dream', 'step');
      const res = await r.lib.runDeepDream(r.model, r.call(DeepDreamOptions), { ...r.hooks, onStep: (step, steps, value) => progress.update(step, steps, { objective: value.toPrecision(4) }) });
      progress.stop();
      say(`deepdream: objective ${res.start[0].toPrecision(3)} -> ${res.final[0].toPrecision(3)} (${res.seconds.toFixed(1)} s)`);
      return { files: res.files, done: true };
    },
  },
  {
    name: 'dossier',
    summary: 'one HTML report on a unit: top-9 with deconvnet and guided projections, feature visualization, receptive field; maps with faithfulness and sanity check (for --class)',
    schema: DossierOptions,
    inputs: (o) => (o.images === 'bundled' ? undefined : (o.images as string)),
    run: async (r) => {
      const res = await r.lib.runDossier(r.model, r.call(DossierOptions), { ...r.hooks, onStage: () => undefined });
      say(`dossier: ${Object.entries(res.timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}; report ${res.report}`);
      return { files: res.files, done: true };
    },
  },
  {
    name: 'features',
    summary: 'all channels of a layer as a grid',
    schema: FeaturesOptions,
    images: 'IMAGE...',
    run: async (r) => (await r.lib.runFeatures(r.model, r.call(FeaturesOptions), r.hooks)).files,
  },
  {
    name: 'filters',
    summary: 'first-layer filters as images',
    schema: FiltersOptions,
    run: async (r) => (await r.lib.runFilters(r.model, r.call(FiltersOptions))).files,
  },
  {
    name: 'sanity',
    summary: 'cascading weight randomization (Adebayo et al. 2018) on the first image',
    schema: SanityOptions,
    images: 'IMAGE',
    target: true,
    run: async (r) => {
      const progress = bar('randomize', 'step');
      const out = await r.lib.runSanity(r.model, { ...r.call(SanityOptions), images: r.io.files.slice(0, 1) }, { ...r.hooks, onStep: (done, total, through) => progress.update(done, total, { through }) });
      progress.stop();
      return { files: out.files, done: true };
    },
  },
  {
    name: 'report',
    summary: 'one HTML page: all methods, occlusion, feature maps (--sanity-steps N adds the sanity check)',
    schema: ReportOptions,
    images: 'IMAGE...',
    target: true,
    run: async (r) => (await r.lib.runReport(r.model, r.call(ReportOptions), r.hooks)).files,
  },
  {
    name: 'figure',
    summary: 'the demo figure: top-9 of a few units of two layers on the bundled samples',
    schema: FigureOptions,
    run: async (r) => {
      const res = await r.lib.zeilerFergusFigure(r.model, r.call(FigureOptions), r.hooks);
      say(`figure: ${res.seconds.toFixed(1)} s`);
      return { files: [...res.layers.flatMap((l) => l.files), res.record], done: true };
    },
  },
  {
    name: 'layers',
    summary: "the model's layers with shapes, receptive fields and roles (@early, @mid, @late, @last-conv)",
    schema: LayersOptions,
    run: async (r) => {
      for (const line of r.lib.formatLayers(r.lib.describeLayers(r.model, r.call(LayersOptions)))) process.stdout.write(line + '\n');
      return { files: [], done: true };
    },
  },
];

/** Every flag of a command: its call's options, the model's and the engine's. */
function flagsOf(spec: Spec): OptionsSchema {
  return z.object({ ...spec.schema.shape, ...ModelOptions.shape, ...EngineOptions.shape });
}

async function execute(spec: Spec, positionals: string[], flags: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  // 1. Every flag, before anything is read, created or loaded.
  if (spec.images && positionals.length === 0) throw new ConvlabError(`${spec.name} needs at least one image`, { hint: `convlab-deconv ${spec.name} photo.jpg [...]` });
  const o = parseOptions(flagsOf(spec), spec.images ? { ...flags, images: positionals } : flags, 'cli') as Record<string, unknown>;
  if (spec.target) targetOf(o);
  // 2. Inputs and outputs: image files found, output folders refused or created and probed.
  const writes = 'out' in spec.schema.shape;
  const io = await prepareRunIo({ images: spec.inputs ? spec.inputs(o) : (o.images as string | string[] | undefined), out: writes ? (o.out as string) : undefined, cache: o.cache as string | undefined, weights: o.weights as string | undefined });
  let model: ConvNet | undefined;
  let written: string[] | { files: string[]; done: true };
  const failures = new BatchFailures('image', say);
  try {
    // 3. Engine and model (imported only now: a refused command answers without loading them).
    await initEngine({ backend: o.backend as string | undefined });
    const [lib, { loadModel }] = await Promise.all([import('@convlab/visualize'), import('@convlab/models')]);
    const t0 = performance.now();
    model = await loadModel(o.model as string, { weights: o.weights as string | undefined, seed: o.seed as number });
    say(`model ${model.name}: ${model.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const call = <S extends OptionsSchema>(schema: S) => ({ ...pick(schema, o), ...(spec.images ? { images: io.files } : {}), ...(writes ? { out: io.out } : {}) }) as z.input<S>;
    const hooks = { signal, log: say, onSkip: (file: string, err: unknown) => failures.add(file, err) };
    written = await spec.run({ lib, model, o, io, call, signal, failures, hooks });
  } catch (err) {
    // A run refused (or failed) before it wrote anything leaves no empty folders behind.
    removeEmptyDirs(io.created);
    throw err;
  } finally {
    model?.dispose();
  }
  const files = Array.isArray(written) ? written : written.files;
  if (Array.isArray(written)) failures.finish(io.files.length);
  for (const f of files) process.stdout.write(f + '\n');
}

const NOTES = `
Layers are given by name, alias or role (@early, @mid, @late, @last-conv: see convlab-deconv layers).
Flags are checked before any work; --size also against the model's minimum and a memory estimate
(CONVLAB_MAX_MEMORY_GB overrides the budget of 80% of RAM). A batch over several images skips an
unreadable image, reports it, finishes the others and exits with code 3. Ctrl-C or SIGTERM stops
after the current step and keeps what is finished (top9: the scan cache, to continue later).`;

/** The program: one subcommand per spec, flags and help generated from the schemas. */
export function buildProgram(signal: AbortSignal): Command {
  const program = new Command('convlab-deconv')
    .description('Feature visualization and attribution: deconvnet (Zeiler & Fergus 2013), top-9, occlusion, guided backprop, saliency, SmoothGrad, Grad-CAM, sanity checks')
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', NOTES);
  for (const spec of SPECS) {
    const cmd = program.command(spec.name).summary(spec.summary).description(spec.summary).addHelpText('after', NOTES);
    if (spec.images) cmd.argument(`[${spec.images === 'IMAGE' ? 'image' : 'images...'}]`, spec.images === 'IMAGE' ? 'an image file (or a folder: its first image)' : 'image files or folders');
    addOptions(cmd, spec.images ? flagsOf(spec).omit({ images: true }) : flagsOf(spec));
    cmd.action(async (...args: unknown[]) => {
      const c = args.at(-1) as Command;
      const first = c.processedArgs[0] as string | string[] | undefined;
      await execute(spec, first === undefined ? [] : ([] as string[]).concat(first), c.opts(), signal);
    });
  }
  return program;
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const program = buildProgram(signal);
  if (argv.length === 0 || (argv.length === 1 && ['-h', '--help', 'help'].includes(argv[0]))) {
    process.stdout.write(program.helpInformation());
    return;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return; // --help, help COMMAND
    const command = program.commands.find((c) => c.name() === argv.find((a) => !a.startsWith('-')));
    if (err.code === 'commander.unknownCommand') {
      throw new ConvlabError(`unknown command "${argv.find((a) => !a.startsWith('-'))}"`, { hint: `use one of: ${SPECS.map((s) => s.name).join(', ')}` });
    }
    throw new ConvlabError(err.message.replace(/^error: /, ''), { hint: `see convlab-deconv ${command ? `${command.name()} ` : ''}--help` });
  }
}
