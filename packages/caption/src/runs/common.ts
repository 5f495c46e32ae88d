/**
 * What every command call shares: hooks (signal, log lines, progress bars, skipped items), how messages
 * name an option (`--flag` for the CLI, the field for code), the checks of input paths that must exist and
 * of outputs that must not be inputs, dataset selection and caption-model resolution. Every command runs in
 * the same order: (1) options parsed and cross-checked, (2) input paths exist, (3) outputs probed
 * (prepareOutputDir / prepareOutputFile), (4) small inputs read and memory estimated, (5) only then the
 * engine starts and the heavy work begins.
 */
import { existsSync, statSync } from 'node:fs';
import { ConvlabError, fieldsOf, initEngine, kebab, parseOptions, resolvedPath, type EngineInfo, type OptionSource, type OptionsSchema, type Progress, type z } from '@convlab/core';
import { describeDataset, loadCocoCaptions, loadFlickr, loadKarpathyJson, type CaptionDataset } from '../data/index.js';
import type { DatasetOptions } from '../options.js';
import { resolveModelDir, SHIPPED_MODELS } from '../shipped-models.js';

export interface RunHooks {
  /** Stop between steps (Ctrl-C, SIGTERM): finished results are kept and returned. */
  signal?: AbortSignal;
  /** How messages name options: 'cli' -> `--max-length`, 'code' (default) -> `maxLength`. */
  source?: OptionSource;
  /** A line of news for the user (notes, summaries). The CLI writes them to stderr; default: dropped. */
  log?: (line: string) => void;
  /** A progress display for a long loop. The CLI draws bars; default: none. */
  progress?: (label: string, total: number, unit: string) => Progress;
  /** An item (image) that could not be read was skipped; the batch goes on. */
  onFailure?: (item: string, error: ConvlabError) => void;
}

const SILENT: Progress = { update: () => undefined, increment: () => undefined, stop: () => undefined };

/** The hooks with their defaults filled in, and `name(field)` for messages. */
export function hooksOf(h: RunHooks = {}) {
  const source = h.source ?? 'code';
  return {
    signal: h.signal,
    source,
    log: h.log ?? (() => undefined),
    progress: h.progress ?? (() => SILENT),
    onFailure: h.onFailure,
    /** How this caller names an option: `--grid-pool` or `gridPool`. */
    name: (field: string) => (source === 'cli' ? `--${kebab(field)}` : field),
  };
}
export type Hooks = ReturnType<typeof hooksOf>;

/** List options whose items name something, and what an item is (named when an item is empty). */
const LIST_ITEMS: Record<string, string> = { pooledLayers: 'layer name', from: 'folder name' };

/**
 * Validate a call's options against its schema (`parseOptions`; from the CLI, `source: 'cli'`, the values are
 * flag text, coerced here and named by their flags). Also returns which fields the caller gave: rules such
 * as "samples only with objective scst" and objective-dependent defaults need to know.
 */
export function parseGiven<S extends OptionsSchema>(schema: S, options: Record<string, unknown>, h: Hooks): { o: z.output<S>; given: (field: keyof z.output<S> & string) => boolean } {
  if (h.source === 'cli') {
    // Flag text "a,,b": core's list coercion would drop the empty item; a typo should be refused instead.
    for (const f of fieldsOf(schema)) {
      const text = options[f.name];
      if (f.kind === 'list' && typeof text === 'string' && text.split(',').some((s) => !s.trim())) {
        throw new ConvlabError(`${f.flag} "${text}" has an empty ${LIST_ITEMS[f.name] ?? 'item'}`, { hint: `e.g. ${f.flag} a,b` });
      }
    }
  }
  const o = parseOptions(schema, options, h.source);
  return { o, given: (field) => options[field] !== undefined };
}

/** Bring up the backend (step 5: after every check) and say which one runs. */
export async function startEngine(backend: string | undefined, h: Hooks): Promise<EngineInfo> {
  const engine = await initEngine({ backend, log: false });
  h.log(engine.summary);
  return engine;
}

// ---------------------------------------------------------------------------------------------- paths

export function samePath(a: string, b: string): boolean {
  return resolvedPath(a) === resolvedPath(b);
}

export interface Input {
  /** The option it came from, as the caller names it (`--features` or `features`). */
  flag: string;
  path: string;
  kind: 'file' | 'dir';
}

/** Inputs must exist (and be a file or a folder as expected) before anything is created or read. */
export function checkInputs(inputs: Input[]): void {
  for (const i of inputs) {
    if (!existsSync(i.path)) throw new ConvlabError(`${i.flag} ${i.path} not found`, { hint: `check the path given to ${i.flag}` });
    const isDir = statSync(i.path).isDirectory();
    if (i.kind === 'dir' && !isDir) throw new ConvlabError(`${i.flag} ${i.path} is not a folder`, { hint: `give ${i.flag} a folder` });
    if (i.kind === 'file' && isDir) throw new ConvlabError(`${i.flag} ${i.path} is a folder, not a file`, { hint: `give ${i.flag} a file` });
  }
}

/** An output folder must not be one of the inputs (or hold one that would be replaced). */
export function refuseOverInputs(out: string, flag: string, inputs: Input[]): void {
  for (const i of inputs) {
    if (samePath(out, i.path)) {
      throw new ConvlabError(`${flag} ${out} is the ${i.flag} input: convlab never writes over an input`, { hint: `choose another ${flag}` });
    }
  }
}

// -------------------------------------------------------------------------------------------- datasets

export interface DatasetChoice {
  kind: 'flickr' | 'karpathy' | 'coco';
  inputs: Input[];
  load: () => CaptionDataset;
}

function need(value: string | undefined, field: string, what: string, h: Hooks): string {
  if (value === undefined || value.trim() === '') throw new ConvlabError(`missing ${h.name(field)} (${what})`, { hint: h.source === 'cli' ? 'run convlab-caption <command> --help' : `give ${field}` });
  return value;
}

/** At most one of data, karpathy, coco (checked first: before a missing option is reported). */
export function checkOneDataset(o: Partial<Record<'data' | 'karpathy' | 'coco', unknown>>, h: Hooks): void {
  const given = (['data', 'karpathy', 'coco'] as const).filter((f) => o[f] !== undefined);
  if (given.length > 1) throw new ConvlabError(`${h.name(given[0])} and ${h.name(given[1])} both name a dataset`, { hint: `give one of ${h.name('data')}, ${h.name('karpathy')}, ${h.name('coco')}` });
}

/**
 * Which dataset the options name (no file is touched yet). For extract and train `split` only says which
 * split --coco's images belong to (default train); eval's `split` is the one it scores, and a --coco
 * file's images are taken as that split.
 */
export function chooseDataset(o: DatasetOptions, h: Hooks, command: 'extract' | 'train' | 'eval'): DatasetChoice {
  const splitOfCoco = command !== 'eval';
  checkOneDataset(o, h);
  if (splitOfCoco && o.split && !o.coco) {
    throw new ConvlabError(`${h.name('split')} applies to ${h.name('coco')} datasets (the split their images belong to) for ${command}`, { hint: 'the Flickr and Karpathy files list their own splits' });
  }
  if (o.karpathy) {
    const file = o.karpathy;
    const images = need(o.images, 'images', `the image folder of ${h.name('karpathy')}`, h);
    return {
      kind: 'karpathy',
      inputs: [
        { flag: h.name('karpathy'), path: file, kind: 'file' },
        { flag: h.name('images'), path: images, kind: 'dir' },
      ],
      load: () => loadKarpathyJson(file, images),
    };
  }
  if (o.coco) {
    const file = o.coco;
    const images = need(o.images, 'images', `the image folder of ${h.name('coco')}`, h);
    const split = o.split ?? 'train';
    return {
      kind: 'coco',
      inputs: [
        { flag: h.name('coco'), path: file, kind: 'file' },
        { flag: h.name('images'), path: images, kind: 'dir' },
      ],
      load: () => loadCocoCaptions(file, images, split),
    };
  }
  const root = need(o.data, 'data', `dataset folder with the Flickr token and split files, or ${h.name('karpathy')}/${h.name('coco')}`, h);
  return {
    kind: 'flickr',
    inputs: [{ flag: h.name('data'), path: root, kind: 'dir' }, ...(o.images ? [{ flag: h.name('images'), path: o.images, kind: 'dir' as const }] : [])],
    load: () => loadFlickr({ root, imageDir: o.images }),
  };
}

export function loadDataset(choice: DatasetChoice, h: Hooks): CaptionDataset {
  const ds = choice.load();
  h.log(describeDataset(ds));
  return ds;
}

// ------------------------------------------------------------------------------------------------ models

/** A shipped model name or a model folder; anything else is refused with the choices. */
export function chooseModel(name: string, h: Hooks): { name: string; dir: string; input: Input } {
  const dir = resolveModelDir(name);
  if (!(name in SHIPPED_MODELS) && !existsSync(dir)) {
    throw new ConvlabError(`${h.name('model')} ${name} is neither a shipped model nor a model folder`, { hint: `use one of: ${Object.keys(SHIPPED_MODELS).join(', ')}, or a folder written by train/export` });
  }
  return { name, dir, input: { flag: h.name('model'), path: dir, kind: 'dir' } };
}
