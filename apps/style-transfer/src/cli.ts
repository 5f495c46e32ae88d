/**
 * convlab-style: Gram-matrix neural style transfer from the command line. Parses flags, shows progress and
 * writes files; everything else is `stylize` (./stylize.ts).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConvlabError, createRunRecord, runCli, saveImage } from '@convlab/core';
import { BACKBONES, BACKBONE_DEFAULTS, DEFAULTS, type StylizeOptions } from './options.js';
import { stylize, type StylizeProgress, type StylizeResult } from './stylize.js';
import { writeLossPlot } from './plot.js';
import { writeStyleReport } from './report.js';
import { createProgressReporter } from './progress.js';

const USAGE = `convlab-style: neural style transfer (Gatys et al.) on offline ConvNet trunks

usage: convlab-style --content photo.jpg --style painting.jpg [options]

inputs
  --content PATH            content image
  --style A[,B...]          style image(s)
  --style-blend W[,W...]    blend weights of the styles (default equal)
  --output PATH             result image (default out/stylized.png); also writes PATH.json and PATH-loss.png
  --html PATH               also write a one-file HTML page with content, style, result and losses
network and losses
  --backbone NAME           ${BACKBONES.join(', ')} (default ${DEFAULTS.backbone})
  --weights W               default | random | path to VGG .h5 / tfjs folder (default default)
  --content-layers L[,L]    default per backbone (${DEFAULTS.backbone}: ${BACKBONE_DEFAULTS[DEFAULTS.backbone].contentLayers.join(',')})
  --style-layers L[,L...]   default per backbone (${DEFAULTS.backbone}: ${BACKBONE_DEFAULTS[DEFAULTS.backbone].styleLayers.join(',')})
  --style-layer-weights W,. per-layer style weights (default equal)
  --content-weight N        (default per backbone, ${BACKBONE_DEFAULTS[DEFAULTS.backbone].contentWeight})
  --style-weight N          (default per backbone, ${BACKBONE_DEFAULTS[DEFAULTS.backbone].styleWeight})
  --tv-weight N             total-variation weight (default per backbone, ${BACKBONE_DEFAULTS[DEFAULTS.backbone].tvWeight})
  --style-loss gram|sw      Gram matrices or sliced Wasserstein (Heitz et al. 2021) (default ${DEFAULTS.styleLoss})
  --style-norm target|gatys per-layer normalisation of the style loss (default ${DEFAULTS.styleNorm})
  --content-norm variance|gatys (default ${DEFAULTS.contentNorm})
  --softmax-temperature T   softmax features (Wang et al. 2021); 0 = off (default 0)
  --sw-projections K        sliced-Wasserstein directions per layer (default: channel count)
  --pool avg|max            pooling inside the network (default ${DEFAULTS.pool})
optimisation
  --optimizer lbfgs|adam    (default ${DEFAULTS.optimizer})
  --iterations N            iterations of the final stage (default ${DEFAULTS.iterations})
  --stage-iterations N      iterations of each earlier multi-scale stage (default: --iterations)
  --lr X                    learning rate (default 1 for lbfgs, 0.03 for adam)
  --init content|style|noise (default ${DEFAULTS.init})
  --seed N                  same seed + same backend = same image bit for bit (default 0)
size and colour
  --size N                  longer side of the output in px (default ${DEFAULTS.size})
  --style-scale X           style image size relative to the output (default 1)
  --multiscale auto|on|off|S1,S2,...  coarse-to-fine stages (auto: on above 512 px)
  --preserve-color none|luminance|histogram  keep the content's colours (default none)
  --color-space yiq|yuv     for luminance-only transfer (default yiq)
run
  --backend B               auto, tensorflow, native, wasm, cpu (default auto / CONVLAB_BACKEND)
  --save-every N            checkpoint image every N iterations (PATH-iterNNNN.png)
  --max-memory-gb X         refuse runs estimated above this (default 80% of RAM)
  --quiet                   no progress bar
  --verbose                 stack traces on errors
  --help`;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConvlabError(`--${flag}: "${v}" is not a number`, { hint: `pass a number, e.g. --${flag} 1` });
  return n;
}

function nums(flag: string, v: string | undefined): number[] | undefined {
  return list(v)?.map((s) => num(flag, s)!);
}

function multiscaleFlag(v: string | undefined): StylizeOptions['multiscale'] {
  if (v === undefined || v === 'auto') return 'auto';
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  return nums('multiscale', v);
}

/** Parse argv into stylize options plus the CLI's own settings. */
export function parseCliArgs(argv: string[]): { options: StylizeOptions; output: string; html?: string; quiet: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        content: { type: 'string' },
        style: { type: 'string' },
        'style-blend': { type: 'string' },
        output: { type: 'string', short: 'o' },
        html: { type: 'string' },
        backbone: { type: 'string' },
        weights: { type: 'string' },
        'content-layers': { type: 'string' },
        'style-layers': { type: 'string' },
        'style-layer-weights': { type: 'string' },
        'content-weight': { type: 'string' },
        'style-weight': { type: 'string' },
        'tv-weight': { type: 'string' },
        'style-loss': { type: 'string' },
        'style-norm': { type: 'string' },
        'content-norm': { type: 'string' },
        'softmax-temperature': { type: 'string' },
        'sw-projections': { type: 'string' },
        pool: { type: 'string' },
        optimizer: { type: 'string' },
        iterations: { type: 'string' },
        'stage-iterations': { type: 'string' },
        lr: { type: 'string' },
        init: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        'style-scale': { type: 'string' },
        multiscale: { type: 'string' },
        'preserve-color': { type: 'string' },
        'color-space': { type: 'string' },
        backend: { type: 'string' },
        'save-every': { type: 'string' },
        'max-memory-gb': { type: 'string' },
        quiet: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'run convlab-style --help for the flags' });
  }
  const help = values.help ?? false;
  if (!help && !values.content) throw new ConvlabError('no --content image given', { hint: 'usage: convlab-style --content photo.jpg --style painting.jpg' });
  if (!help && !values.style) throw new ConvlabError('no --style image given', { hint: 'usage: convlab-style --content photo.jpg --style painting.jpg' });
  const maxGb = num('max-memory-gb', values['max-memory-gb']);
  const options: StylizeOptions = {
    content: values.content ?? '',
    style: list(values.style) ?? [],
    styleBlend: nums('style-blend', values['style-blend']),
    backbone: values.backbone as StylizeOptions['backbone'],
    weights: values.weights,
    contentLayers: list(values['content-layers']),
    styleLayers: list(values['style-layers']),
    styleLayerWeights: nums('style-layer-weights', values['style-layer-weights']),
    contentWeight: num('content-weight', values['content-weight']),
    styleWeight: num('style-weight', values['style-weight']),
    tvWeight: num('tv-weight', values['tv-weight']),
    styleLoss: values['style-loss'] as StylizeOptions['styleLoss'],
    styleNorm: values['style-norm'] as StylizeOptions['styleNorm'],
    contentNorm: values['content-norm'] as StylizeOptions['contentNorm'],
    softmaxTemperature: num('softmax-temperature', values['softmax-temperature']),
    swProjections: num('sw-projections', values['sw-projections']),
    pool: values.pool as StylizeOptions['pool'],
    optimizer: values.optimizer as StylizeOptions['optimizer'],
    iterations: num('iterations', values.iterations),
    stageIterations: num('stage-iterations', values['stage-iterations']),
    learningRate: num('lr', values.lr),
    init: values.init as StylizeOptions['init'],
    seed: num('seed', values.seed),
    size: num('size', values.size),
    styleScale: num('style-scale', values['style-scale']),
    multiscale: multiscaleFlag(values.multiscale),
    preserveColor: values['preserve-color'] as StylizeOptions['preserveColor'],
    colorSpace: values['color-space'] as StylizeOptions['colorSpace'],
    backend: values.backend,
    saveEvery: num('save-every', values['save-every']),
    maxMemoryBytes: maxGb === undefined ? undefined : maxGb * 1e9,
  };
  for (const k of Object.keys(options) as (keyof StylizeOptions)[]) if (options[k] === undefined) delete options[k];
  return { options, output: values.output ?? 'out/stylized.png', html: values.html, quiet: values.quiet ?? false, help };
}

/** Output file names derived from the image path. */
export function outputPaths(output: string): { image: string; record: string; plot: string; checkpoint: (n: number) => string } {
  const ext = extname(output);
  if (!['.png', '.jpg', '.jpeg', '.webp'].includes(ext.toLowerCase())) {
    throw new ConvlabError(`--output ${output}: unknown image extension "${ext}"`, { hint: 'end it with .png, .jpg or .webp' });
  }
  const base = output.slice(0, output.length - ext.length);
  return {
    image: output,
    record: `${base}.json`,
    plot: `${base}-loss.png`,
    checkpoint: (n) => `${base}-iter${String(n).padStart(4, '0')}${ext}`,
  };
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const { options, output, html, quiet, help } = parseCliArgs(argv);
  if (help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const startedMs = Date.now();
  const paths = outputPaths(output);
  const checkpoints: string[] = [];
  let reporter: ReturnType<typeof createProgressReporter> | undefined;
  const onProgress = (p: StylizeProgress) => {
    reporter ??= createProgressReporter(p.total, quiet);
    reporter.update(p);
  };
  let result;
  try {
    result = await stylize(options, onProgress, signal, {
      onEngine: (engine) => process.stderr.write(engine.summary + '\n'),
      onCheckpoint: async (image, done) => {
        await mkdir(dirname(paths.image), { recursive: true });
        const path = paths.checkpoint(done);
        await saveImage(image, path);
        checkpoints.push(path);
      },
    });
  } finally {
    reporter?.stop();
  }
  // Outputs are written only once the run has produced an image (or was interrupted with one).
  await mkdir(dirname(paths.image), { recursive: true });
  await saveImage(result.image, paths.image);
  await writeLossPlot(result.record, paths.plot);
  await writeRecord(result, paths, checkpoints, startedMs, html);
  if (html) {
    await mkdir(dirname(html), { recursive: true });
    await writeStyleReport(result, html);
  }
  const r = result.record;
  process.stderr.write(
    `${result.aborted ? 'interrupted: saved the current image' : 'done'}: ${paths.image} (${r.output!.width}x${r.output!.height}, ${r.iterationsDone} iterations, ${r.seconds.toFixed(1)} s, ${r.secondsPerIteration.toFixed(2)} s/iter), ${paths.record}, ${paths.plot}\n`,
  );
}

/** The run record in @convlab/core's shared format: parameters, seed, backend, model, per-iteration losses, timings. */
async function writeRecord(result: StylizeResult, paths: ReturnType<typeof outputPaths>, checkpoints: string[], startedMs: number, html?: string): Promise<void> {
  const r = result.record;
  let first = true;
  const clock = () => (first ? ((first = false), startedMs) : Date.now());
  const record = createRunRecord({ tool: 'convlab-style', parameters: r.options, seed: r.seed, backend: r.backend, model: r.model }, clock);
  let step = 0;
  r.stages.forEach((stage, si) => {
    for (const l of stage.losses) record.log(++step, { stage: si + 1, total: l.total, content: l.content, style: l.style, tv: l.tv });
  });
  r.stages.forEach((stage, si) => record.time(`stage ${si + 1} (${stage.width}x${stage.height})`, stage.seconds * 1000));
  record.set('iterationsDone', r.iterationsDone);
  record.set('secondsPerIteration', r.secondsPerIteration);
  record.set('aborted', r.aborted);
  record.set('memoryEstimateBytes', r.memoryEstimateBytes);
  record.set('stages', r.stages.map(({ losses: _losses, ...rest }) => rest));
  record.set('output', r.output);
  record.set('files', { image: paths.image, plot: paths.plot, record: paths.record, checkpoints, html });
  record.finish();
  await record.save(paths.record);
}

// Run when executed directly (bin/convlab-style.js imports this module).
await runCli(main);
