/**
 * convlab-style's command line: parses and checks flags, prepares every output path, shows progress and
 * writes files; everything else is `stylize` (./stylize.ts). The entry point (cli.ts) runs `main`.
 */
import { existsSync, readdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConvlabError, choiceFlag, createRunRecord, numberFlag, prepareOutputFile, saveImage, type NumberRange } from '@convlab/core';
import { BACKBONES, BACKBONE_DEFAULTS, CLI_RANGES, DEFAULTS, OPTION_RANGES, resolveOptions, type StylizeOptions } from './options.js';
import { stylize, type StylizeProgress, type StylizeResult } from './stylize.js';
import { writeLossPlot } from './plot.js';
import { writeStyleReport } from './report.js';
import { createProgressReporter } from './progress.js';

export const USAGE = `convlab-style: neural style transfer (Gatys et al.) on offline ConvNet trunks

usage: convlab-style --content photo.jpg --style painting.jpg [options]

inputs
  --content PATH            content image
  --style A[,B...]          style image(s)
  --style-blend W[,W...]    blend weights of the styles (default equal)
  --output PATH             result image, .png/.jpg/.webp (default out/stylized.png); also writes PATH.json
                            (run record) and PATH-loss.png; never an input image
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
  --max-memory-gb X         refuse runs estimated above this (default CONVLAB_MAX_MEMORY_GB or 80% of RAM)
  --quiet                   no progress bar
  --verbose                 stack traces on errors
  --help

Every flag is checked before any work (numbers against their ranges, e.g. --iterations 1..100000,
--size 16..8192, --lr > 0), and every output path is created and probed for writability before the
network loads. Ctrl-C or SIGTERM stops after the current iteration and saves the current image, its
run record and loss plot (exit 130 / 143).`;

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;
const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;

const OPTIONS = {
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
} as const;

/**
 * node:util parseArgs reads "--lr -1" as a flag without its value followed by an option "-1"; join
 * such pairs ("--lr=-1") for flags that take a value, so a negative number reaches the range check.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const name = a.slice(2) as keyof typeof OPTIONS;
    if (a.startsWith('--') && !a.includes('=') && OPTIONS[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      out.push(`${a}=${next}`);
      i += 1;
    } else out.push(a);
  }
  return out;
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** A numeric flag checked against its range (the option's, or the CLI's where it differs); undefined when absent. */
function num(flag: string, option: keyof typeof OPTION_RANGES, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const range: NumberRange = CLI_RANGES[option] ?? OPTION_RANGES[option];
  const example = typeof range.example === 'number' ? range.example : 1;
  return numberFlag(v, `--${flag}`, example, range);
}

function nums(flag: string, option: keyof typeof OPTION_RANGES, v: string | undefined): number[] | undefined {
  const items = list(v);
  if (v !== undefined && items!.length === 0) throw new ConvlabError(`--${flag} is empty`, { hint: `give comma-separated numbers, e.g. --${flag} ${OPTION_RANGES[option].example}` });
  return items?.map((s) => num(flag, option, s)!);
}

function choice<T extends string>(flag: string, v: string | undefined, choices: readonly T[]): T | undefined {
  return v === undefined ? undefined : choiceFlag(v, `--${flag}`, choices, choices[0]);
}

function multiscaleFlag(v: string | undefined): StylizeOptions['multiscale'] {
  if (v === undefined || v === 'auto') return 'auto';
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  if (!/^[\d\s,.+-]+$/.test(v)) throw new ConvlabError(`--multiscale "${v}" is not auto, on, off or a list of sizes`, { hint: 'e.g. --multiscale 256,512' });
  return nums('multiscale', 'multiscale', v);
}

/** Parse argv into stylize options plus the CLI's own settings. Every value is checked here, naming its flag. */
export function parseCliArgs(argv: string[]): { options: StylizeOptions; output: string; html?: string; quiet: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({ args: joinNegativeValues(argv), strict: true, options: OPTIONS }));
  } catch (err) {
    throw new ConvlabError((err as Error).message.split('\n')[0], { hint: 'run convlab-style --help for the flags' });
  }
  const help = values.help ?? false;
  if (help) return { options: { content: '', style: [] }, output: '', quiet: false, help };
  if (!values.content) throw new ConvlabError('no --content image given', { hint: 'usage: convlab-style --content photo.jpg --style painting.jpg' });
  if (!values.style || !list(values.style)?.length) throw new ConvlabError('no --style image given', { hint: 'usage: convlab-style --content photo.jpg --style painting.jpg' });
  const maxGb = num('max-memory-gb', 'maxMemoryBytes', values['max-memory-gb']);
  const options: StylizeOptions = {
    content: values.content,
    style: list(values.style) ?? [],
    styleBlend: nums('style-blend', 'styleBlend', values['style-blend']),
    backbone: choice('backbone', values.backbone, BACKBONES),
    weights: values.weights,
    contentLayers: list(values['content-layers']),
    styleLayers: list(values['style-layers']),
    styleLayerWeights: nums('style-layer-weights', 'styleLayerWeights', values['style-layer-weights']),
    contentWeight: num('content-weight', 'contentWeight', values['content-weight']),
    styleWeight: num('style-weight', 'styleWeight', values['style-weight']),
    tvWeight: num('tv-weight', 'tvWeight', values['tv-weight']),
    styleLoss: choice('style-loss', values['style-loss'], ['gram', 'sw'] as const),
    styleNorm: choice('style-norm', values['style-norm'], ['target', 'gatys'] as const),
    contentNorm: choice('content-norm', values['content-norm'], ['variance', 'gatys'] as const),
    softmaxTemperature: num('softmax-temperature', 'softmaxTemperature', values['softmax-temperature']),
    swProjections: num('sw-projections', 'swProjections', values['sw-projections']),
    pool: choice('pool', values.pool, ['avg', 'max'] as const),
    optimizer: choice('optimizer', values.optimizer, ['lbfgs', 'adam'] as const),
    iterations: num('iterations', 'iterations', values.iterations),
    stageIterations: num('stage-iterations', 'stageIterations', values['stage-iterations']),
    learningRate: num('lr', 'learningRate', values.lr),
    init: choice('init', values.init, ['content', 'style', 'noise'] as const),
    seed: num('seed', 'seed', values.seed),
    size: num('size', 'size', values.size),
    styleScale: num('style-scale', 'styleScale', values['style-scale']),
    multiscale: multiscaleFlag(values.multiscale),
    preserveColor: choice('preserve-color', values['preserve-color'], ['none', 'luminance', 'histogram'] as const),
    colorSpace: choice('color-space', values['color-space'], ['yiq', 'yuv'] as const),
    backend: choice('backend', values.backend, BACKENDS),
    saveEvery: num('save-every', 'saveEvery', values['save-every']),
    maxMemoryBytes: maxGb === undefined ? undefined : maxGb * 1e9,
  };
  for (const k of Object.keys(options) as (keyof StylizeOptions)[]) if (options[k] === undefined) delete options[k];
  // Cross-option checks (blend counts, the last multi-scale stage, both weights 0), naming the flags.
  resolveOptions(options, 'flags');
  return { options, output: values.output ?? 'out/stylized.png', html: values.html, quiet: values.quiet ?? false, help };
}

/** Output file names derived from the image path. */
export function outputPaths(output: string): { image: string; record: string; plot: string; checkpoint: (n: number) => string } {
  const ext = extname(output);
  if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext.toLowerCase())) {
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

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** The folders creating `dir` would make, deepest first (removed again if the run fails before writing). */
function missingDirs(dir: string): string[] {
  const out: string[] = [];
  let p = resolve(dir);
  while (!existsSync(p)) {
    out.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return out;
}

function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // not empty, or gone: keep it
    }
  }
}

/** A parent of an output path that exists and is a file: no folder can be made there. */
function refuseFileParent(path: string, flag: string): void {
  let p = dirname(resolve(path));
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  if (existsSync(p) && !statSync(p).isDirectory()) {
    throw new ConvlabError(`${flag} ${path}: ${p} is a file, so it cannot hold ${basename(path)}`, { hint: `give ${flag} a path in a folder, e.g. out/${basename(path)}` });
  }
}

/** Input images must be files that exist (decoding comes later, in stylize). */
function checkInputFile(path: string, flag: string): void {
  if (!existsSync(path)) throw new ConvlabError(`${flag} ${path}: image not found`, { hint: 'check the path' });
  if (!statSync(path).isFile()) throw new ConvlabError(`${flag} ${path} is not a file`, { hint: `give ${flag} an image file` });
}

export interface PreparedOutputs {
  paths: ReturnType<typeof outputPaths>;
  html?: string;
  /** Folders created for the outputs (removed again if the run fails before writing anything). */
  created: string[];
}

/**
 * Every file the run will write, checked and prepared before any work: resolved, refused on /proc and
 * the like, never one of the input images (also through links) nor another output, folders created and
 * probed for writability. Checkpoints (PATH-iterNNNN.ext) must not be input images either.
 */
export async function prepareOutputs(output: string, html: string | undefined, inputs: string[], checkpoints: { every: number; total: number }): Promise<PreparedOutputs> {
  const paths = outputPaths(output);
  const created = [...new Set([...missingDirs(dirname(resolve(paths.image))), ...(html ? missingDirs(dirname(resolve(html))) : [])])].sort((a, b) => b.length - a.length);
  try {
    refuseFileParent(paths.image, '--output');
    if (html) refuseFileParent(html, '--html');
    await prepareOutputFile(paths.image, { flag: '--output', inputs, extensions: IMAGE_EXTENSIONS });
    await prepareOutputFile(paths.record, { flag: '--output', inputs });
    await prepareOutputFile(paths.plot, { flag: '--output', inputs });
    if (html) {
      const h = resolve(html);
      const clash = [paths.image, paths.record, paths.plot].find((p) => resolve(p) === h);
      if (clash) throw new ConvlabError(`--html ${html} is also an output of --output (${clash})`, { hint: 'give --html its own file, e.g. out/report.html' });
      await prepareOutputFile(html, { flag: '--html', inputs, extensions: ['.html', '.htm'] });
    }
    if (checkpoints.every > 0) {
      // An input with a checkpoint's name in the output folder (or a link there to one) would be written over.
      const dir = dirname(resolve(paths.image));
      const ext = extname(paths.image);
      const stem = basename(paths.image, ext);
      const inputSet = new Set(inputs.map(realOrResolved));
      for (const name of readdirSync(dir)) {
        const m = name.startsWith(`${stem}-iter`) && name.endsWith(ext) ? /^(\d+)$/.exec(name.slice(stem.length + 5, name.length - ext.length)) : null;
        if (!m) continue;
        const n = Number(m[1]);
        if (n % checkpoints.every !== 0 || n > checkpoints.total) continue;
        const input = inputSet.has(realOrResolved(join(dir, name)));
        if (input) {
          throw new ConvlabError(`--save-every ${checkpoints.every} would write checkpoint ${join(dir, name)} over an input image`, { hint: 'choose another --output name' });
        }
      }
    }
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  }
  return { paths, html, created };
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const { options, output, html, quiet, help } = parseCliArgs(argv);
  if (help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const startedMs = Date.now();
  const o = resolveOptions(options, 'flags');
  // Input images, and a weights file or folder given by path: no output may be written over any of them.
  const weights = options.weights !== undefined && options.weights !== 'default' && options.weights !== 'random' ? [options.weights] : [];
  const inputs = [options.content, ...options.style, ...weights].filter((p): p is string => typeof p === 'string');
  checkInputFile(options.content as string, '--content');
  for (const s of options.style) if (typeof s === 'string') checkInputFile(s, '--style');
  const total = o.stages.reduce((a, _, i) => a + (i === o.stages.length - 1 ? o.iterations : o.stageIterations), 0);
  const { paths, created } = await prepareOutputs(output, html, inputs, { every: o.saveEvery, total });
  if (signal.aborted) {
    removeEmptyDirs(created);
    process.stderr.write('interrupted before the first iteration: nothing written\n');
    return;
  }
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
        const path = paths.checkpoint(done);
        await saveImage(image, path);
        checkpoints.push(path);
      },
    });
  } catch (err) {
    removeEmptyDirs(created);
    throw err;
  } finally {
    reporter?.stop();
  }
  if (result.aborted && result.record.iterationsDone === 0) {
    // Stopped before the first iteration: there is no result to keep.
    removeEmptyDirs(created);
    process.stderr.write('interrupted before the first iteration: nothing written\n');
    return;
  }
  // Outputs are written only once the run has produced an image (or was interrupted with one).
  await saveImage(result.image, paths.image);
  await writeLossPlot(result.record, paths.plot);
  await writeRecord(result, paths, checkpoints, startedMs, html);
  if (html) await writeStyleReport(result, html);
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
