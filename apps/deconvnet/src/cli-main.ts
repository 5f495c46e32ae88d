/**
 * convlab-deconv: flags in, library calls, files out. Every command prints the files it wrote.
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BatchFailures, ConvlabError, choiceFlag, createProgress, initEngine, prepareOutputDir, receptiveFields, type Progress } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import { METHOD_NAMES, type MethodName } from './attribution.js';
import {
  checkOcclusionFlags,
  checkSizeForModel,
  checkTargetForModel,
  checkUnitSelection,
  joinNegativeValues,
  layerChannels,
  optionalInt,
  parseIntFlag,
  parseMethods,
  parseNormalization,
  parseNumberFlag,
  parseRelus,
  parseSize,
  parseTarget,
  parseUnits,
} from './cli-args.js';
import { missingDirs, refuseInsideInputFolders, removeEmptyDirs } from './cli-output.js';
import { collectImageFiles } from './images.js';
import { checkRunMemory, type MemoryPlan } from './memory-estimate.js';
// The model registry, the runs and the figure (tfjs-layers and the rest) are imported once the flags
// and paths are known to be good, so a refused command answers without loading them.
import type { Target } from './target.js';

export const USAGE = `usage: convlab-deconv <command> [options]

commands:
  attribute IMAGE...  methods side by side for one target (PNG per map, grid, JSON, HTML report)
                      --methods ${METHOD_NAMES.join(',')} (default all)
  project IMAGE...    deconvnet projection of a unit, whole image and cropped to its receptive field
                      --rules deconvnet[,guided,gradient]
  occlusion IMAGE...  grey-square occlusion maps (Zeiler & Fergus 4.2)
                      --square PX (default size/7) --stride PX (default square/4) --batch N (16)
  top9                top-9 activations of units over a folder (Z&F Fig. 2), resumable scan
                      --images DIR --layer NAME [--units 3,17,42 | strongest:16 | spread:16] [--k 9]
                      [--rules deconvnet,guided] [--cache DIR] [--batch 8] [--limit N (first N files)]
  features IMAGE...   all channels of a layer as a grid   --layer NAME [--max-channels N] [--sort]
  filters             first-layer filters as images
  sanity IMAGE        cascading weight randomization (Adebayo et al. 2018)   --steps 8 --methods ...
  report IMAGE...     one HTML page: all methods, occlusion, feature maps [--sanity-steps N adds the sanity check]
  figure              the demo figure: top-9 of a few units of two layers on the bundled samples
  layers              the model's layers with shapes and receptive fields

target (attribute, project, occlusion, sanity):
  --layer NAME --unit N|strongest [--position y,x | argmax | all]    or    --class K (the model's head)

common:
  --model mobilenet_v2|inception_v3|vgg16|vgg19|custom (default mobilenet_v2)  --weights default|random|PATH
  --out DIR (default out/deconvnet)  --size N|H,W  --backend auto|native|wasm|cpu  --normalize robust|std|symmetric|minmax
  --smoothgrad-samples N (25) --smoothgrad-sigma F (0.15) --cam-layer NAME --seed N --verbose

Numeric flags are checked before any work (e.g. --k 1..100, --batch 1..256, --size from the model's
minimum to 8192, --smoothgrad-sigma > 0); --size is also checked against a memory estimate
(CONVLAB_MAX_MEMORY_GB overrides the budget of 80% of RAM). A batch over several images skips an
unreadable image, reports it, finishes the others and exits with code 3. Ctrl-C or SIGTERM stops
after the current step and keeps what is finished (top9: the scan cache, to continue later).`;

const OPTIONS = {
  model: { type: 'string', default: 'mobilenet_v2' },
  weights: { type: 'string' },
  out: { type: 'string', default: 'out/deconvnet' },
  size: { type: 'string' },
  backend: { type: 'string' },
  layer: { type: 'string' },
  unit: { type: 'string' },
  units: { type: 'string' },
  position: { type: 'string' },
  class: { type: 'string' },
  methods: { type: 'string' },
  rules: { type: 'string' },
  normalize: { type: 'string' },
  images: { type: 'string' },
  k: { type: 'string' },
  limit: { type: 'string' },
  cache: { type: 'string' },
  batch: { type: 'string' },
  square: { type: 'string' },
  stride: { type: 'string' },
  steps: { type: 'string' },
  seed: { type: 'string' },
  'max-channels': { type: 'string' },
  sort: { type: 'boolean', default: false },
  'smoothgrad-samples': { type: 'string' },
  'smoothgrad-sigma': { type: 'string' },
  'cam-layer': { type: 'string' },
  'sanity-steps': { type: 'string' },
  fit: { type: 'string', default: 'cover' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const COMMANDS = ['attribute', 'project', 'occlusion', 'top9', 'features', 'filters', 'sanity', 'report', 'figure', 'layers'] as const;
type Command = (typeof COMMANDS)[number];
const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
const SANITY_METHODS: MethodName[] = ['deconvnet', 'guided', 'saliency', 'smoothgrad', 'gradcam', 'guided-gradcam'];
/** Noisy copies per SmoothGrad gradient call (SmoothGrad's default batchSize). */
const SMOOTHGRAD_BATCH = 5;

function parse(argv: string[]) {
  return parseArgs({ args: joinNegativeValues(argv, OPTIONS), options: OPTIONS, allowPositionals: true, strict: true });
}
type Values = ReturnType<typeof parse>['values'];

function say(line: string): void {
  process.stderr.write(line + '\n');
}

/** The image files of the positional arguments, and which of them were folders. */
async function imagesFrom(positionals: string[], command: string): Promise<{ files: string[]; folders: string[] }> {
  if (positionals.length === 0) throw new ConvlabError(`${command} needs at least one image`, { hint: `convlab-deconv ${command} photo.jpg [...]` });
  const files: string[] = [];
  const folders: string[] = [];
  for (const p of positionals) {
    files.push(...(await collectImageFiles(p)));
    if ((await stat(p)).isDirectory()) folders.push(p);
  }
  return { files, folders };
}

/** What a command computes at most, for the memory estimate. */
function memoryPlan(command: Command, o: { target?: Target; methods: MethodName[]; size: [number, number]; batch: number; k: number; layer?: string; smoothgradSamples: number }): MemoryPlan | undefined {
  const sg = o.methods.includes('smoothgrad');
  const gradientBatch = sg ? Math.min(SMOOTHGRAD_BATCH, o.smoothgradSamples) : 1;
  const sgHint = sg ? 'leave smoothgrad out of --methods' : undefined;
  const layer = o.target ? (o.target.classIndex !== undefined ? undefined : o.target.layer) : o.layer;
  switch (command) {
    case 'attribute':
    case 'sanity':
      return { layer, size: o.size, gradientBatch, forwardBatch: 0, alternative: sgHint };
    case 'project':
      return { layer, size: o.size, gradientBatch: 1, forwardBatch: 0 };
    case 'occlusion':
      return { layer, size: o.size, gradientBatch: 0, forwardBatch: o.batch, alternative: 'a smaller --batch' };
    case 'report':
      return { layer, size: o.size, gradientBatch, forwardBatch: o.batch, alternative: sgHint ?? 'a smaller --batch' };
    case 'features':
      return { layer, size: o.size, gradientBatch: 0, forwardBatch: 1 };
    case 'top9':
      // The scan runs forward batches of --batch; the figure projects each unit's k images in one gradient pass.
      return { layer, size: o.size, gradientBatch: o.k, forwardBatch: o.batch, alternative: 'a smaller --k' };
    default:
      return undefined;
  }
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'see convlab-deconv --help' });
  }
  const { values: v, positionals } = parsed;
  const [commandName, ...rest] = positionals;
  if (v.help || !commandName) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!(COMMANDS as readonly string[]).includes(commandName)) {
    throw new ConvlabError(`unknown command "${commandName}"`, { hint: `use one of: ${COMMANDS.join(', ')}` });
  }
  const command = commandName as Command;

  // 1. Every flag, before anything is read, created or loaded.
  const fit = choiceFlag(v.fit, '--fit', ['cover', 'fill'] as const, 'cover');
  const backend = v.backend === undefined ? undefined : choiceFlag(v.backend, '--backend', BACKENDS, 'auto');
  const size = parseSize(v.size);
  const normalization = parseNormalization(v.normalize);
  const seed = parseIntFlag(v.seed, '--seed', 0);
  const smoothgradSamples = parseIntFlag(v['smoothgrad-samples'], '--smoothgrad-samples', command === 'sanity' ? 10 : 25);
  const methodOptions = {
    smoothgrad: { samples: smoothgradSamples, sigma: parseNumberFlag(v['smoothgrad-sigma'], '--smoothgrad-sigma', 0.15), seed },
    gradcam: { layer: v['cam-layer'] },
  };
  const needsTarget = ['attribute', 'project', 'occlusion', 'sanity', 'report'].includes(command);
  const target = needsTarget ? parseTarget(v) : undefined;
  const methods = parseMethods(v.methods, command === 'sanity' ? SANITY_METHODS : METHOD_NAMES);
  const relus = parseRelus(v.rules, command === 'project' || command === 'figure' ? ['deconvnet', 'guided'] : ['deconvnet']);
  const k = parseIntFlag(v.k, '--k', 9);
  const limit = optionalInt(v.limit, '--limit');
  const batch = parseIntFlag(v.batch, '--batch', command === 'top9' ? 8 : 16);
  const square = optionalInt(v.square, '--square');
  const stride = optionalInt(v.stride, '--stride');
  const steps = parseIntFlag(v.steps, '--steps', 8);
  const maxChannels = optionalInt(v['max-channels'], '--max-channels');
  const sanitySteps = optionalInt(v['sanity-steps'], '--sanity-steps');
  const units = command === 'top9' ? parseUnits(v.units) : command === 'figure' && v.units ? parseUnits(v.units) : undefined;
  if (command === 'top9' && !v.images) throw new ConvlabError('top9 needs --images DIR', { hint: 'a folder of photos, e.g. --images ../shared/data/flickr8k/images' });
  if ((command === 'top9' || command === 'features') && !v.layer) {
    throw new ConvlabError(`${command} needs --layer NAME`, { hint: 'list the layers with: convlab-deconv layers' });
  }

  // 2. Inputs: the image files (missing or empty folders are errors here).
  const positional = needsTarget || command === 'features' ? await imagesFrom(rest, command) : undefined;
  const images = positional?.files;
  const inputFolders = [...(positional?.folders ?? [])];
  if ((command === 'top9' || command === 'figure') && v.images) {
    await collectImageFiles(v.images);
    if ((await stat(v.images)).isDirectory()) inputFolders.push(v.images);
  }
  // Input images, and a weights file given by path: --out is never one of them.
  const inputFiles = [...(images ?? []), ...(v.weights !== undefined && v.weights !== 'default' && v.weights !== 'random' ? [v.weights] : [])];

  // 3. Outputs: resolved, refused on /proc and the like, created and probed before any work.
  const created: string[] = [];
  let outDir = v.out;
  let cacheDir = v.cache;
  let written: string[] = [];
  let model: ConvNet | undefined;
  try {
    if (command !== 'layers') {
      refuseInsideInputFolders(v.out, inputFolders, '--out');
      created.push(...missingDirs(v.out));
      outDir = await prepareOutputDir(v.out, { flag: '--out', inputs: inputFiles });
      if (command === 'top9' && v.cache !== undefined) {
        created.unshift(...missingDirs(v.cache));
        cacheDir = await prepareOutputDir(v.cache, { flag: '--cache', inputs: inputFiles });
      }
    }

    // 4. Engine and model, then everything the model decides, still before any image is read.
    const engine = await initEngine({ backend });
    const { loadModel } = await import('@convlab/models');
    const t0 = performance.now();
    model = await loadModel(v.model, { weights: v.weights, seed });
    say(`model ${model.name}: ${model.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const inputSize = checkSizeForModel(model, size);
    if (target) checkTargetForModel(model, target, inputSize, v['cam-layer']);
    if (command === 'occlusion' || command === 'report') checkOcclusionFlags(inputSize, square, stride);
    if (command === 'features' || command === 'top9') model.resolveLayer(v.layer!);
    if (command === 'top9' && v.units !== undefined) {
      const layer = model.resolveLayer(v.layer!);
      checkUnitSelection(units!, layerChannels(model, layer, inputSize), layer);
    }
    if (command === 'figure' && units) {
      const { DEFAULT_FIGURE_LAYERS } = await import('./figure.js');
      const layers = v.layer ? v.layer.split(',').map((s) => s.trim()) : (DEFAULT_FIGURE_LAYERS[model.name] ?? []);
      for (const l of layers) {
        const layer = model.resolveLayer(l);
        checkUnitSelection(units, layerChannels(model, layer, model.inputSize), layer);
      }
    }
    const plan = memoryPlan(command, { target, methods, size: inputSize, batch, k, layer: v.layer, smoothgradSamples });
    if (plan) checkRunMemory(model, plan, engine.backend, command);

    written = await run(command, { v, rest, model, inputSize, size, fit, signal, outDir, cacheDir, images: images ?? [], target, methods, methodOptions, normalization, relus, k, limit, batch, square, stride, steps, seed, maxChannels, sanitySteps, units });
  } catch (err) {
    // A run refused (or failed) before it wrote anything leaves no empty folders behind.
    removeEmptyDirs(created);
    throw err;
  } finally {
    model?.dispose();
  }
  for (const f of written) process.stdout.write(f + '\n');
}

interface RunContext {
  v: Values;
  rest: string[];
  model: ConvNet;
  inputSize: [number, number];
  size: [number, number] | undefined;
  fit: 'cover' | 'fill';
  signal: AbortSignal;
  outDir: string;
  cacheDir: string | undefined;
  images: string[];
  target: Target | undefined;
  methods: MethodName[];
  methodOptions: { smoothgrad: { samples: number; sigma: number; seed: number }; gradcam: { layer: string | undefined } };
  normalization: ReturnType<typeof parseNormalization>;
  relus: ReturnType<typeof parseRelus>;
  k: number;
  limit: number | undefined;
  batch: number;
  square: number | undefined;
  stride: number | undefined;
  steps: number;
  seed: number;
  maxChannels: number | undefined;
  sanitySteps: number | undefined;
  units: ReturnType<typeof parseUnits> | undefined;
}

/** Run one command; returns the files written. Batches skip unreadable images (exit code 3). */
async function run(command: Command, c: RunContext): Promise<string[]> {
  const { v, model, outDir, signal } = c;
  const { runAttribute, runFeatures, runFilters, runOcclusion, runProject, runReport, runSanity } = await import('./runs.js');
  const { runTop9 } = await import('./top9/run.js');
  const { zeilerFergusFigure } = await import('./figure.js');
  const failures = new BatchFailures('image', say);
  const base = { model, outDir, size: c.size, fit: c.fit, signal, log: say, onSkip: (file: string, err: unknown) => failures.add(file, err) } as const;
  let written: string[] = [];
  switch (command) {
    case 'layers': {
      const layers = model.layers.map((l) => (l.kind === 'input' ? { ...l, inbound: [] } : l));
      const rfs = receptiveFields(layers, c.inputSize);
      for (const l of model.layers) {
        const rf = rfs.get(l.name);
        const shape = l.outputShape.slice(1).join('x');
        process.stdout.write(`${l.name.padEnd(32)} ${l.kind.padEnd(15)} ${shape.padEnd(14)} ${rf ? `rf ${rf.size[0]}x${rf.size[1]} stride ${rf.stride[0]}` : ''}${l.aliases.length ? `  (${l.aliases.join(', ')})` : ''}\n`);
      }
      return [];
    }
    case 'attribute': {
      const r = await runAttribute({ ...base, images: c.images, target: c.target!, methods: c.methods, methodOptions: c.methodOptions, normalization: c.normalization });
      written = r.files;
      break;
    }
    case 'project': {
      const r = await runProject({ ...base, images: c.images, target: c.target!, relus: c.relus, normalization: c.normalization });
      written = r.files;
      break;
    }
    case 'occlusion': {
      let bar: Progress | undefined;
      const r = await runOcclusion({
        ...base,
        images: c.images,
        target: c.target!,
        occlusion: {
          size: c.square,
          stride: c.stride,
          batchSize: c.batch,
          onProgress: (done, total) => {
            bar ??= createProgress({ total, label: 'occlusion', unit: 'img' });
            bar.update(done);
            if (done === total) {
              bar.stop();
              bar = undefined;
            }
          },
        },
      });
      bar?.stop();
      written = r.files;
      break;
    }
    case 'top9': {
      let scanBar: Progress | undefined;
      let renderBar: Progress | undefined;
      const reported = new Set<string>();
      const r = await runTop9({
        model,
        images: v.images!,
        layer: v.layer!,
        units: c.units,
        k: c.k,
        limit: c.limit,
        outDir,
        cacheDir: c.cacheDir,
        inputSize: c.size,
        fit: c.fit,
        batchSize: c.batch,
        relus: c.relus,
        normalization: c.normalization,
        signal,
        onScan: (p) => {
          if (!scanBar) {
            if (p.cached) say(`top9: ${p.cached} images already in the cache, ${p.total} to scan`);
            scanBar = createProgress({ total: p.total, label: 'scan', unit: 'img' });
          }
          if (p.lastError) {
            process.stderr.write('\n');
            reported.add(p.lastError.file);
            failures.add(p.lastError.file, p.lastError.error);
          }
          scanBar.update(p.done, { failed: p.failed });
        },
        onRender: (done, total) => {
          renderBar ??= createProgress({ total, label: 'render', unit: 'unit' });
          renderBar.update(done);
        },
      });
      scanBar?.stop();
      renderBar?.stop();
      // Files that failed in an earlier run (kept in the cache) count too.
      for (const f of r.failed) if (!reported.has(f.file)) failures.add(f.file, `${f.error} (remembered from an earlier scan)`);
      if (r.failed.length) say(`top9: ${r.failed.length} file(s) could not be read and were skipped: ${r.failed.slice(0, 5).map((f) => f.file).join(', ')}${r.failed.length > 5 ? ', ...' : ''}`);
      say(`top9: scanned ${r.scanned} images (${r.imagesPerSecond.toFixed(1)} images/s), ${r.fromCache} from the cache`);
      if (!r.complete) say('top9: interrupted; the scanned images are cached: run the same command again to continue');
      written = r.files;
      failures.finish(r.imageCount);
      return written;
    }
    case 'features': {
      const r = await runFeatures({ ...base, images: c.images, layer: v.layer!, features: { maxChannels: c.maxChannels, sortByMax: v.sort } });
      written = r.files;
      break;
    }
    case 'filters': {
      const r = await runFilters({ model, outDir, layer: v.layer });
      written = r.files;
      break;
    }
    case 'sanity': {
      let bar: Progress | undefined;
      const r = await runSanity({
        ...base,
        images: c.images.slice(0, 1),
        target: c.target!,
        methods: c.methods,
        steps: c.steps,
        seed: c.seed,
        methodOptions: c.methodOptions,
        onStep: (done, total, label) => {
          bar ??= createProgress({ total, label: 'randomize', unit: 'step' });
          bar.update(done, { through: label });
        },
      });
      bar?.stop();
      written = r.files;
      return written;
    }
    case 'report': {
      const r = await runReport({
        ...base,
        images: c.images,
        target: c.target!,
        methods: c.methods,
        methodOptions: c.methodOptions,
        normalization: c.normalization,
        occlusion: { size: c.square, stride: c.stride, batchSize: c.batch },
        sanity: c.sanitySteps ? { steps: c.sanitySteps } : undefined,
      });
      written = r.files;
      break;
    }
    case 'figure': {
      const r = await zeilerFergusFigure({
        model,
        layers: v.layer ? v.layer.split(',').map((s) => s.trim()) : undefined,
        units: c.units,
        images: v.images,
        outDir,
        relus: c.relus,
        signal,
        log: say,
      });
      written = [...r.layers.flatMap((l) => l.files), r.record];
      say(`figure: ${r.seconds.toFixed(1)} s`);
      return written;
    }
  }
  failures.finish(c.images.length);
  return written;
}
