/**
 * convlab-deconv: flags in, library calls, files out. Every command prints the files it wrote.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConvlabError, createProgress, initEngine, type Progress } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import { METHOD_NAMES } from './attribution.js';
import { parseIntFlag, parseMethods, parseNormalization, parseNumberFlag, parseRelus, parseSize, parseTarget, parseUnits } from './cli-args.js';
import { collectImageFiles } from './images.js';
import { runAttribute, runFeatures, runFilters, runOcclusion, runProject, runReport, runSanity } from './runs.js';
import { runTop9 } from './top9/run.js';
import { zeilerFergusFigure } from './figure.js';
import { receptiveFields } from '@convlab/core';

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
  --smoothgrad-samples N (25) --smoothgrad-sigma F (0.15) --cam-layer NAME --seed N --verbose`;

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

function say(line: string): void {
  process.stderr.write(line + '\n');
}

async function imagesFrom(positionals: string[], command: string): Promise<string[]> {
  if (positionals.length === 0) throw new ConvlabError(`${command} needs at least one image`, { hint: `convlab-deconv ${command} photo.jpg [...]` });
  const files: string[] = [];
  for (const p of positionals) files.push(...(await collectImageFiles(p)));
  return files;
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'see convlab-deconv --help' });
  }
  const { values: v, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (v.help || !command) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new ConvlabError(`unknown command "${command}"`, { hint: `use one of: ${COMMANDS.join(', ')}` });
  }
  if (v.fit !== 'cover' && v.fit !== 'fill') throw new ConvlabError(`--fit "${v.fit}" should be cover or fill`);
  const fit = v.fit;
  // Validate flags before the (slow) model load.
  const size = parseSize(v.size);
  const normalization = parseNormalization(v.normalize);
  const methodOptions = {
    smoothgrad: { samples: parseIntFlag(v['smoothgrad-samples'], '--smoothgrad-samples', 25, 1), sigma: parseNumberFlag(v['smoothgrad-sigma'], '--smoothgrad-sigma', 0.15), seed: parseIntFlag(v.seed, '--seed', 0) },
    gradcam: { layer: v['cam-layer'] },
  };
  const needsTarget = ['attribute', 'project', 'occlusion', 'sanity', 'report'].includes(command);
  const target = needsTarget ? parseTarget(v) : undefined;
  const methods = parseMethods(v.methods);
  const outDir = resolve(v.out);

  await initEngine({ backend: v.backend });
  const t0 = performance.now();
  const model: ConvNet = await loadModel(v.model, { weights: v.weights, seed: parseIntFlag(v.seed, '--seed', 0) });
  say(`model ${model.name}: ${model.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  await mkdir(outDir, { recursive: true });
  const base = { model, outDir, size, fit, signal, log: say } as const;
  let written: string[] = [];
  try {
    switch (command) {
      case 'layers': {
        const inputSize = size ?? model.inputSize;
        const layers = model.layers.map((l) => (l.kind === 'input' ? { ...l, inbound: [] } : l));
        const rfs = receptiveFields(layers, inputSize);
        for (const l of model.layers) {
          const rf = rfs.get(l.name);
          const shape = l.outputShape.slice(1).join('x');
          process.stdout.write(`${l.name.padEnd(32)} ${l.kind.padEnd(15)} ${shape.padEnd(14)} ${rf ? `rf ${rf.size[0]}x${rf.size[1]} stride ${rf.stride[0]}` : ''}${l.aliases.length ? `  (${l.aliases.join(', ')})` : ''}\n`);
        }
        return;
      }
      case 'attribute': {
        const r = await runAttribute({ ...base, images: await imagesFrom(rest, command), target: target!, methods, methodOptions, normalization });
        written = r.files;
        break;
      }
      case 'project': {
        const r = await runProject({ ...base, images: await imagesFrom(rest, command), target: target!, relus: parseRelus(v.rules, ['deconvnet', 'guided']), normalization });
        written = r.files;
        break;
      }
      case 'occlusion': {
        const images = await imagesFrom(rest, command);
        let bar: Progress | undefined;
        const r = await runOcclusion({
          ...base,
          images,
          target: target!,
          occlusion: {
            size: v.square === undefined ? undefined : parseIntFlag(v.square, '--square', 0, 1),
            stride: v.stride === undefined ? undefined : parseIntFlag(v.stride, '--stride', 0, 1),
            batchSize: parseIntFlag(v.batch, '--batch', 16, 1),
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
        if (!v.images) throw new ConvlabError('top9 needs --images DIR', { hint: 'a folder of photos, e.g. --images ../shared/data/flickr8k/images' });
        if (!v.layer) throw new ConvlabError('top9 needs --layer NAME', { hint: `e.g. --layer ${model.layers.filter((l) => l.kind === 'relu').at(-3)?.name ?? 'NAME'}` });
        let scanBar: Progress | undefined;
        let renderBar: Progress | undefined;
        const r = await runTop9({
          model,
          images: v.images,
          layer: v.layer,
          units: parseUnits(v.units),
          k: parseIntFlag(v.k, '--k', 9, 1),
          limit: v.limit === undefined ? undefined : parseIntFlag(v.limit, '--limit', 0, 1),
          outDir,
          cacheDir: v.cache,
          inputSize: size,
          fit,
          batchSize: parseIntFlag(v.batch, '--batch', 8, 1),
          relus: parseRelus(v.rules, ['deconvnet']),
          normalization,
          signal,
          onScan: (p) => {
            if (!scanBar) {
              if (p.cached) say(`top9: ${p.cached} images already in the cache, ${p.total} to scan`);
              scanBar = createProgress({ total: p.total, label: 'scan', unit: 'img' });
            }
            if (p.lastError) say(`\nskipped ${p.lastError.file}: ${p.lastError.error}`);
            scanBar.update(p.done, { failed: p.failed });
          },
          onRender: (done, total) => {
            renderBar ??= createProgress({ total, label: 'render', unit: 'unit' });
            renderBar.update(done);
          },
        });
        scanBar?.stop();
        renderBar?.stop();
        if (r.failed.length) say(`top9: ${r.failed.length} file(s) could not be read and were skipped: ${r.failed.slice(0, 5).map((f) => f.file).join(', ')}${r.failed.length > 5 ? ', ...' : ''}`);
        say(`top9: scanned ${r.scanned} images (${r.imagesPerSecond.toFixed(1)} images/s), ${r.fromCache} from the cache`);
        if (!r.complete) say('top9: interrupted; the scanned images are cached: run the same command again to continue');
        written = r.files;
        break;
      }
      case 'features': {
        if (!v.layer) throw new ConvlabError('features needs --layer NAME');
        const r = await runFeatures({ ...base, images: await imagesFrom(rest, command), layer: v.layer, features: { maxChannels: v['max-channels'] === undefined ? undefined : parseIntFlag(v['max-channels'], '--max-channels', 0, 1), sortByMax: v.sort } });
        written = r.files;
        break;
      }
      case 'filters': {
        const r = await runFilters({ model, outDir, layer: v.layer });
        written = r.files;
        break;
      }
      case 'sanity': {
        const images = await imagesFrom(rest, command);
        let bar: Progress | undefined;
        const r = await runSanity({
          ...base,
          images: images.slice(0, 1),
          target: target!,
          methods: parseMethods(v.methods, ['deconvnet', 'guided', 'saliency', 'smoothgrad', 'gradcam', 'guided-gradcam']),
          steps: parseIntFlag(v.steps, '--steps', 8, 1),
          seed: parseIntFlag(v.seed, '--seed', 0),
          methodOptions: { ...methodOptions, smoothgrad: { ...methodOptions.smoothgrad, samples: parseIntFlag(v['smoothgrad-samples'], '--smoothgrad-samples', 10, 1) } },
          onStep: (done, total, label) => {
            bar ??= createProgress({ total, label: 'randomize', unit: 'step' });
            bar.update(done, { through: label });
          },
        });
        bar?.stop();
        written = r.files;
        break;
      }
      case 'report': {
        const r = await runReport({
          ...base,
          images: await imagesFrom(rest, command),
          target: target!,
          methods,
          methodOptions,
          normalization,
          occlusion: { batchSize: parseIntFlag(v.batch, '--batch', 16, 1) },
          sanity: v['sanity-steps'] ? { steps: parseIntFlag(v['sanity-steps'], '--sanity-steps', 8, 1) } : undefined,
        });
        written = r.files;
        break;
      }
      case 'figure': {
        const r = await zeilerFergusFigure({
          model,
          layers: v.layer ? v.layer.split(',').map((s) => s.trim()) : undefined,
          units: v.units ? parseUnits(v.units) : undefined,
          images: v.images,
          outDir,
          relus: parseRelus(v.rules, ['deconvnet', 'guided']),
          signal,
          log: say,
        });
        written = [...r.layers.flatMap((l) => l.files), r.record];
        say(`figure: ${r.seconds.toFixed(1)} s`);
        break;
      }
    }
  } finally {
    model.dispose();
  }
  for (const f of written) process.stdout.write(f + '\n');
}
