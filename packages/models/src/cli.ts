/**
 * convlab-models: list | info <name> | pull <name> | verify <name>.
 * Parses flags and prints; the work is in registry.ts, pull.ts and weights-cache.ts.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConvlabError, createProgress, runCli, type Progress } from '@convlab/core';
import { PREPROCESSING_NAMES, type CustomLoadOptions, type PreprocessingName } from './custom.js';
import { pullWeights } from './pull.js';
import { getModelEntry, listModels } from './registry.js';
import type { ConvNet, LayerInfo, ModelEntry } from './types.js';
import { KNOWN_WEIGHTS, cachedWeightsPath, convlabHome, fileExists, modelCacheDir, verifyCachedWeights } from './weights-cache.js';

const USAGE = `usage: convlab-models <command> [options]

commands:
  list                 every model, and whether its weights are on this machine (and where)
  info <name>          layers with output shapes, aliases and geometry
      --weights <path|default|random>   weights to load (custom: required)
      --size <H>x<W>    output shapes for this input size (default: the model's own)
      --preprocessing <${PREPROCESSING_NAMES.join('|')}>  custom models only (default tf)
  pull <name>          download Keras-applications ImageNet weights into ${'$'}CONVLAB_HOME/models/<name>
                       (md5-checked where Keras publishes a hash, sha256 recorded, resumable)
      --top / --notop   with the 1000-class classifier / the trunk only (default: vgg16/vgg19 --notop,
                        the others --top); offline it prints which file to place where
      --force           download again even if a verified file is present
  verify <name>        re-hash the cached weights file against the published md5 / recorded sha256
      --top / --notop   which file (as for pull)

options: --verbose (stack traces), --help
cache: ${'$'}CONVLAB_HOME, else ${'$'}XDG_CACHE_HOME/convlab, else ~/.cache/convlab (now: ${convlabHome()})
mirror: ${'$'}CONVLAB_WEIGHTS_MIRROR=<base URL> downloads <base>/<model>/<file> instead of the Keras URL`;

export type Print = (line: string) => void;

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

function preprocessingName(entry: ModelEntry, weights?: string): string {
  const p = entry.transforms?.(weights).preprocessing;
  if (!p) return '';
  return p.kind === 'unit' ? 'x/255' : p.kind;
}

export async function listCommand(print: Print): Promise<void> {
  const rows = [['name', 'family', 'input', 'prep', 'weights', 'imagenet (Keras applications)']];
  const missing: string[] = [];
  for (const entry of listModels()) {
    const { available, where } = await entry.weightsAvailable();
    const pullable = entry.name in KNOWN_WEIGHTS;
    const nsfwjs = entry.name === 'mobilenet_v2' || entry.name === 'inception_v3';
    const bundled = where.split('; ImageNet: ')[0];
    const state = nsfwjs
      ? available ? `nsfwjs: ${bundled}` : bundled
      : available ? `present: ${where}` : pullable ? `missing: ${where} (convlab-models pull ${entry.name})` : `${where}`;
    let imagenet = '';
    if (pullable) {
      const parts: string[] = [];
      for (const variant of ['top', 'notop'] as const) {
        const key = `${entry.name}:${variant}`;
        const path = cachedWeightsPath(key);
        const present = await fileExists(path);
        parts.push(`${variant} ${present ? 'present' : 'missing'}`);
        if (!present) missing.push(`${entry.name} --${variant}: place ${KNOWN_WEIGHTS[key].file} in ${modelCacheDir(entry.name)}`);
      }
      imagenet = `${parts.join(', ')} (${preprocessingName(entry, 'imagenet')})`;
    }
    rows.push([entry.name, entry.family, `${entry.inputSize[0]}x${entry.inputSize[1]}`, preprocessingName(entry), state, imagenet]);
  }
  table(rows).forEach((l) => print(l));
  if (missing.length) {
    print('');
    print(`ImageNet weights not on this machine: \`convlab-models pull <name> [--top|--notop]\` fetches them; offline, copy the file there:`);
    missing.forEach((m) => print(`  ${m}`));
  }
}

function parseSize(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)(?:x(\d+))?$/.exec(value);
  if (!m) throw new ConvlabError(`bad --size '${value}'`, { hint: 'use HxW, e.g. 224x224, or one number for a square' });
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function geometry(l: LayerInfo): string {
  if (!l.kernel) return '';
  const pad = typeof l.padding === 'string' ? l.padding : JSON.stringify(l.padding);
  const dil = l.dilation && (l.dilation[0] !== 1 || l.dilation[1] !== 1) ? ` d${l.dilation.join('x')}` : '';
  return `k${l.kernel.join('x')} s${l.strides?.join('x') ?? '1x1'}${dil} ${pad}`;
}

export async function infoCommand(
  name: string,
  options: { weights?: string; size?: string; preprocessing?: string },
  print: Print,
): Promise<void> {
  const entry = getModelEntry(name);
  const askedSize = parseSize(options.size);
  let weights = options.weights;
  let note = '';
  if (weights === undefined && entry.name !== 'custom') {
    const { available } = await entry.weightsAvailable();
    if (!available) {
      weights = 'random';
      note = ' (no weights on this machine: architecture shown with random weights)';
    }
  }
  const loadOptions: CustomLoadOptions = { weights };
  if (options.preprocessing !== undefined) {
    if (entry.name !== 'custom') throw new ConvlabError('--preprocessing applies to the custom model only');
    loadOptions.preprocessing = options.preprocessing as PreprocessingName;
  }
  const net: ConvNet = await entry.load(loadOptions);
  try {
    const size = askedSize ?? net.inputSize;
    print(`${net.name} (${net.family}): ${entry.description}`);
    print(`weights: ${net.weights.source}: ${net.weights.description}${note}`);
    print(
      `input: ${size[0]}x${size[1]} (native ${net.inputSize[0]}x${net.inputSize[1]}, minimum ${net.minInputSize}, ${net.anySize ? 'any size' : 'fixed size'})` +
        (net.headLayer
          ? `; head: ${net.headLayer}${net.classNames ? ` [${net.classNames.length > 10 ? `${net.classNames.length} ImageNet classes: ${net.classNames.slice(0, 3).join(', ')}, ...` : net.classNames.join(', ')}]` : ''}`
          : ''),
    );
    const rows = [['layer', 'class', 'output', 'geometry', 'activation', 'aliases']];
    for (const l of net.layers) {
      let shape: string;
      try {
        shape = `[${net.outputShapeFor(l.name, size).join(', ')}]`;
      } catch {
        shape = '(too small)';
      }
      rows.push([l.name, l.className, shape, geometry(l), l.activation ?? '', l.aliases.join(', ')]);
    }
    table(rows).forEach((line) => print(line));
    const features = new Map(net.featureInfo(size).map((f) => [f.name, f]));
    const roles = Object.entries(net.layerRoles()).map(([role, name]) => {
      const f = features.get(name);
      return `${role} ${name}` + (f?.reduction ? ` (/${f.reduction}, rf ${f.receptiveField?.[0] ?? '?'} px, ${f.channels} ch)` : '');
    });
    print(`roles (layer '@<role>'): ${roles.join('; ')}`);
    const params = net.model.countParams();
    print(`${net.layers.length} layers, ${params.toLocaleString('en-US')} parameters`);
  } finally {
    net.dispose();
  }
}

function downloadProgress(name: string): { onProgress: (done: number, total: number | undefined) => void; stop: () => void } {
  let bar: Progress | undefined;
  return {
    onProgress(done, total) {
      // Progress counts in units of 0.1 MB so the bar reads "12.3/80.1 MB".
      bar ??= createProgress({ total: total ? Math.round(total / 1e5) / 10 : 0, label: `pull ${name}`, unit: 'MB' });
      bar.update(Math.round(done / 1e5) / 10);
    },
    stop: () => bar?.stop(),
  };
}

function downloadable(): string {
  return [...new Set(Object.values(KNOWN_WEIGHTS).map((k) => k.model))].join(', ');
}

function variantKey(name: string, options: { top?: boolean; notop?: boolean }): string {
  if (options.top && options.notop) throw new ConvlabError('--top and --notop exclude each other', { hint: 'pull one file at a time' });
  return options.top ? `${name}:top` : options.notop ? `${name}:notop` : name;
}

export async function pullCommand(name: string, options: { force?: boolean; top?: boolean; notop?: boolean; signal?: AbortSignal }, print: Print): Promise<void> {
  getModelEntry(name);
  if (!(name in KNOWN_WEIGHTS)) {
    throw new ConvlabError(`'${name}' has no downloadable weights`, {
      hint: name === 'custom' ? 'pass --weights <path> instead' : `downloadable: ${downloadable()}`,
    });
  }
  const key = variantKey(name, options);
  const progress = downloadProgress(name);
  try {
    const result = await pullWeights(key, { force: options.force, signal: options.signal, onProgress: progress.onProgress });
    progress.stop();
    if (result.alreadyPresent) print(`${name}: already present and verified: ${result.path}`);
    else {
      const resumed = result.resumedFrom ? ` (resumed at ${(result.resumedFrom / 1e6).toFixed(1)} MB)` : '';
      print(`${name}: downloaded ${(result.bytes / 1e6).toFixed(1)} MB${resumed} to ${result.path}`);
    }
    const md5 = KNOWN_WEIGHTS[key].md5 ? 'matches the published hash' : 'Keras publishes no hash for this file: the sha256 recorded now is checked from here on';
    print(`md5 ${result.md5} (${md5}); sha256 ${result.sha256} (recorded in ${result.path}.json)`);
  } finally {
    progress.stop();
  }
}

export async function verifyCommand(name: string, options: { top?: boolean; notop?: boolean }, print: Print): Promise<void> {
  getModelEntry(name);
  if (!(name in KNOWN_WEIGHTS)) throw new ConvlabError(`'${name}' has no cached weights to verify`, { hint: `verifiable: ${downloadable()}` });
  const result = await verifyCachedWeights(variantKey(name, options));
  if (!result.ok) {
    throw new ConvlabError(`${result.path} failed verification: ${result.problem}`, { hint: `delete it and run \`convlab-models pull ${name}\`` });
  }
  print(`${name}: ok: ${result.path} (${(result.bytes / 1e6).toFixed(1)} MB)`);
  print(`md5 ${result.md5}${result.md5Checked ? ' matches the published hash' : ' (no published hash)'}; sha256 ${result.sha256}${result.recordedSha256 ? ' matches the record' : ' (now recorded)'}`);
}

export async function main(argv: string[], signal: AbortSignal, print: Print = (l) => process.stdout.write(l + '\n')): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        weights: { type: 'string' },
        size: { type: 'string' },
        preprocessing: { type: 'string' },
        force: { type: 'boolean' },
        top: { type: 'boolean' },
        notop: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: 'see convlab-models --help' });
  }
  const { values, positionals } = parsed;
  const [command, name, ...rest] = positionals;
  if (values.help || !command) {
    print(USAGE);
    return;
  }
  if (rest.length) throw new ConvlabError(`unexpected arguments: ${rest.join(' ')}`, { hint: 'see convlab-models --help' });
  const needName = (): string => {
    if (!name) throw new ConvlabError(`${command} needs a model name`, { hint: `one of: ${listModels().map((e) => e.name).join(', ')}` });
    return name;
  };
  switch (command) {
    case 'list':
      return listCommand(print);
    case 'info':
      return infoCommand(needName(), values, print);
    case 'pull':
      return pullCommand(needName(), { force: values.force, top: values.top, notop: values.notop, signal }, print);
    case 'verify':
      return verifyCommand(needName(), { top: values.top, notop: values.notop }, print);
    default:
      throw new ConvlabError(`unknown command '${command}'`, { hint: 'use list, info, pull or verify (see --help)' });
  }
}

// Run when executed (bin shim, or `tsx src/cli.ts`), not when imported by tests.
const entry = process.argv[1] ? resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url) || /[\\/]convlab-models(\.js)?$/.test(entry)) {
  await runCli((argv, signal) => main(argv, signal));
}
