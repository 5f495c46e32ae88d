/**
 * Keras HDF5 weight files, read and written with h5wasm.
 *
 * Two layouts exist (Keras 2 `save_weights` / `model.save`):
 * - weights only (e.g. the Keras applications `*_notop.h5` files): root attribute `layer_names`; one group
 *   per layer with attribute `weight_names`; datasets at `<layer>/<weight name>`, e.g.
 *   `block1_conv1/block1_conv1/kernel:0`.
 * - full model: the same tree under `/model_weights`, plus a root attribute `model_config` (JSON).
 * Weights are matched to a model by layer name, then by position inside the layer (Keras itself loads
 * by position: old files name weights `block1_conv1_W_1:0`, new ones `block1_conv1/kernel:0`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { ConvlabError, tf } from '@convlab/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** One stored weight array. */
export interface StoredWeight {
  /** Name as stored, e.g. 'block1_conv1/kernel:0'. */
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Weights grouped by layer name, each list in the layer's own weight order. */
export type LayerWeights = Map<string, StoredWeight[]>;

export interface KerasH5Contents {
  layout: 'weights' | 'model';
  /** Every layer name the file lists (layers without weights included), in file order. */
  layerNames: string[];
  weights: LayerWeights;
  /** The `model_config` JSON string of a full-model file. */
  modelConfig?: string;
  kerasVersion?: string;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

let ready: Promise<unknown> | undefined;
async function h5(): Promise<typeof h5wasm> {
  ready ??= h5wasm.ready;
  await ready;
  return h5wasm;
}

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

/** Little-endian unsigned integer of 2, 4 or 8 bytes (HDF5 offsets). */
function readUint(buf: Buffer, at: number, size: number): number {
  if (size === 8) return Number(buf.readBigUInt64LE(at));
  if (size === 4) return buf.readUInt32LE(at);
  if (size === 2) return buf.readUInt16LE(at);
  throw new Error(`unsupported HDF5 offset size ${size}`);
}

/**
 * End-of-file address recorded in the HDF5 superblock (relative to the base address), or undefined for
 * superblock versions this does not know. The HDF5 library opens a truncated file without complaint and
 * fails later with cryptic errors, so truncation is detected up front from this.
 */
function superblockEof(head: Buffer): number | undefined {
  const version = head[8];
  if (version === 0 || version === 1) {
    const sizeOfOffsets = head[13];
    const base = version === 0 ? 24 : 28;
    return readUint(head, base + 2 * sizeOfOffsets, sizeOfOffsets);
  }
  if (version === 2 || version === 3) {
    const sizeOfOffsets = head[9];
    return readUint(head, 12 + 2 * sizeOfOffsets, sizeOfOffsets);
  }
  return undefined;
}

/** Check signature and length ourselves: the HDF5 library's own errors for these are cryptic. */
async function assertHdf5(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConvlabError(`weights file not found: ${path}`, { hint: 'check the path' });
    throw new ConvlabError(`cannot read weights file ${path}: ${(err as Error).message}`);
  }
  try {
    const head = Buffer.alloc(96);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    // HDF5 allows a user block before the superblock (at 512, 1024, ...); Keras files never have one.
    if (bytesRead < 8 || !head.subarray(0, 8).equals(HDF5_SIGNATURE)) {
      throw new ConvlabError(`${path} is not an HDF5 file (no HDF5 signature)`, {
        hint: 'expected a Keras .h5 weights file; re-download or re-export it',
      });
    }
    const size = (await handle.stat()).size;
    let eof: number | undefined;
    try {
      eof = bytesRead >= 64 ? superblockEof(head) : undefined;
    } catch {
      eof = undefined;
    }
    if (bytesRead < 64 || (eof !== undefined && eof > size)) {
      throw new ConvlabError(`${path} is truncated or corrupt: ${size} bytes, its header says ${eof ?? 'more'}`, {
        hint: 'the download or copy was cut short; fetch the file again (`convlab-models pull` resumes)',
      });
    }
  } finally {
    await handle.close();
  }
}

async function openH5(path: string): Promise<H5File> {
  await assertHdf5(path);
  const lib = await h5();
  try {
    return new lib.File(path, 'r');
  } catch (err) {
    throw new ConvlabError(`cannot open HDF5 file ${path} (truncated or corrupt): ${firstLine(err)}`, {
      hint: 're-download or re-export the file',
    });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
}

function toStrings(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value.replace(/\0+$/, '')]; // NULLPAD fixed-length strings
  if (value instanceof Uint8Array) return [Buffer.from(value).toString('utf8').replace(/\0+$/, '')];
  if (Array.isArray(value)) return value.flatMap((v) => toStrings(v));
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return [];
  return [String(value)];
}

/**
 * A string-list attribute. Keras splits lists too long for an HDF5 object header into `name0`,
 * `name1`, ... (load_attributes_from_hdf5_group).
 */
function stringListAttr(obj: H5Group, name: string): string[] | undefined {
  const attrs = obj.attrs;
  if (name in attrs) return toStrings(attrs[name].value);
  if (!(`${name}0` in attrs)) return undefined;
  const out: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++) out.push(...toStrings(attrs[`${name}${i}`].value));
  return out;
}

function stringAttr(obj: H5Group, name: string): string | undefined {
  if (!(name in obj.attrs)) return undefined;
  return toStrings(obj.attrs[name].value).join('');
}

/** IEEE half -> float (h5wasm returns float16 data as raw bytes). */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function datasetToFloat32(ds: H5Dataset, where: string): Float32Array {
  const value = ds.value;
  const size = (ds.shape ?? []).reduce((a, b) => a * b, 1);
  let out: Float32Array;
  if (value instanceof Float32Array) out = value;
  else if (value instanceof Float64Array) out = Float32Array.from(value);
  else if (ds.dtype === '<e' || ds.dtype === '>e' || (ds.metadata.type === 1 && ds.metadata.size === 2)) {
    const bytes = value as Uint8Array;
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    out = Float32Array.from(halves, halfToFloat);
  } else {
    throw new ConvlabError(`${where}: unsupported weight dtype ${JSON.stringify(ds.dtype)}`, {
      hint: 'weights must be float16, float32 or float64',
    });
  }
  if (out.length !== size) throw new ConvlabError(`${where}: holds ${out.length} values, its shape says ${size}`);
  return out;
}

function readLayerWeights(root: H5Group, layerName: string, path: string): StoredWeight[] {
  const group = root.get(layerName);
  if (!(group instanceof h5wasm.Group)) {
    throw new ConvlabError(`${path}: layer '${layerName}' is listed in layer_names but has no group`, {
      hint: 'the file is incomplete or corrupt; re-download or re-export it',
    });
  }
  const names = stringListAttr(group, 'weight_names') ?? [];
  return names.map((name) => {
    const ds = group.get(name);
    if (!(ds instanceof h5wasm.Dataset)) {
      throw new ConvlabError(`${path}: weight '${layerName}/${name}' is listed but missing`, {
        hint: 'the file is incomplete or corrupt; re-download or re-export it',
      });
    }
    let data: Float32Array;
    try {
      data = datasetToFloat32(ds, `${path}: ${layerName}/${name}`);
    } catch (err) {
      if (err instanceof ConvlabError) throw err;
      throw new ConvlabError(`${path}: cannot read weight '${layerName}/${name}' (truncated or corrupt file): ${firstLine(err)}`);
    }
    return { name, shape: [...(ds.shape ?? [])], data };
  });
}

/** Read every weight of a Keras .h5 file (either layout). */
export async function readKerasH5(path: string): Promise<KerasH5Contents> {
  const file = await openH5(path);
  try {
    let root: H5Group = file;
    let layout: KerasH5Contents['layout'] = 'weights';
    const modelWeights = file.get('model_weights');
    if (modelWeights instanceof h5wasm.Group) {
      root = modelWeights;
      layout = 'model';
    }
    const layerNames = stringListAttr(root, 'layer_names');
    if (!layerNames) {
      const hint =
        'expected a Keras 2 .h5 file from model.save_weights()/model.save() (Keras 3 .weights.h5 and .keras files are not supported: re-save with the legacy h5 format)';
      throw new ConvlabError(`${path} has no 'layer_names' attribute: not a Keras HDF5 weights file`, { hint });
    }
    const weights: LayerWeights = new Map();
    for (const name of layerNames) {
      const list = readLayerWeights(root, name, path);
      if (list.length) weights.set(name, list);
    }
    return {
      layout,
      layerNames,
      weights,
      modelConfig: stringAttr(file, 'model_config'),
      kerasVersion: stringAttr(root, 'keras_version') ?? stringAttr(file, 'keras_version'),
    };
  } catch (err) {
    if (err instanceof ConvlabError) throw err;
    throw new ConvlabError(`cannot read ${path} (truncated or corrupt file): ${firstLine(err)}`, { hint: 're-download or re-export the file' });
  } finally {
    file.close();
  }
}

export interface AssignOptions {
  /** Where the weights came from, for error messages. */
  source: string;
  /**
   * Layers of the full architecture the model leaves out on purpose (VGG built `upTo` a layer, a
   * classifier file loaded as a trunk): their stored weights are skipped instead of reported as unmapped.
   */
  skipLayers?: Iterable<string>;
}

export interface AssignReport {
  /** Layers whose weights were set. */
  layers: number;
  /** Weight arrays set. */
  tensors: number;
  /** Stored weights skipped through `skipLayers`. */
  skipped: number;
  /** Automatic layer-name families renumbered to the model's ('conv2d +1': the file counts from 0). */
  renumbered: string[];
}

/** Keras's automatic layer names: `conv2d_7`, and tf.keras's unnumbered first one `conv2d`. */
const AUTO_NAME = /^(conv2d|batch_normalization|activation|max_pooling2d|average_pooling2d|concatenate|dense|zero_padding2d|add|lambda|global_average_pooling2d)(?:_(\d+))?$/;

/**
 * Keras numbers unnamed layers per class across a Python session (Keras 2.0-2.2 from 1, tf.keras from 0
 * with the first unnumbered), so the same architecture saved in another session names them with an
 * offset. Where the model's and the file's numbers of a family differ by one constant, the file's names
 * are mapped onto the model's; nothing else is renamed.
 */
export function alignAutoNames(stored: LayerWeights, modelNames: Iterable<string>): { weights: LayerWeights; renumbered: string[] } {
  const families = (names: Iterable<string>) => {
    const out = new Map<string, number[]>();
    for (const name of names) {
      const m = AUTO_NAME.exec(name);
      if (!m) continue;
      const list = out.get(m[1]) ?? [];
      list.push(m[2] === undefined ? 0 : Number(m[2]));
      out.set(m[1], list);
    }
    for (const list of out.values()) list.sort((a, b) => a - b);
    return out;
  };
  const want = families(modelNames);
  const have = families(stored.keys());
  const renames = new Map<string, string>();
  const renumbered: string[] = [];
  for (const [family, mine] of want) {
    const theirs = have.get(family);
    if (!theirs || theirs.length !== mine.length) continue;
    const shift = theirs[0] - mine[0];
    if (shift === 0 || theirs.some((n, i) => n - mine[i] !== shift)) continue;
    theirs.forEach((n, i) => renames.set(n === 0 ? family : `${family}_${n}`, `${family}_${mine[i]}`));
    renumbered.push(`${family} ${shift > 0 ? '-' : '+'}${Math.abs(shift)}`);
  }
  if (!renames.size) return { weights: stored, renumbered };
  const weights: LayerWeights = new Map();
  for (const [name, list] of stored) weights.set(renames.get(name) ?? name, list);
  return { weights, renumbered };
}

/**
 * Which Keras-applications architecture a list of layer names belongs to, from names only that
 * architecture has; undefined if none is recognised.
 */
export function identifyKerasArchitecture(names: Iterable<string>): string | undefined {
  const set = new Set(names);
  const count = (re: RegExp) => [...set].filter((n) => re.test(n)).length;
  if (set.has('res2a_branch2a')) return 'the old Keras ResNet50 layout (res2a_branch2a ...; keras-applications before 1.0.7)';
  if (set.has('conv1_conv') && set.has('conv2_block1_1_conv')) {
    const blocks = count(/^conv4_block\d+_1_conv$/);
    const conv3 = count(/^conv3_block\d+_1_conv$/);
    if (set.has('conv2_block1_preact_bn')) return 'a ResNet v2';
    return blocks === 6 ? 'resnet50' : blocks === 23 ? 'resnet101' : blocks === 36 && conv3 === 8 ? 'resnet152' : `a ResNet (${blocks} conv4 blocks)`;
  }
  if (set.has('block35_1_conv')) return 'inception_resnet_v2';
  if (set.has('expanded_conv_depthwise')) return 'mobilenet_v2';
  if (set.has('mixed10') && set.has('mixed9_1')) return 'inception_v3';
  if (set.has('block5_conv4')) return 'vgg19';
  if (set.has('block5_conv3')) return 'vgg16';
  return undefined;
}

function shapeList(layer: { weights: { originalName: string; shape: (number | null)[] }[] }): string {
  return layer.weights.map((w) => `${w.originalName.split('/').pop()} [${w.shape.join(',')}]`).join(', ');
}

/**
 * Set a model's weights from stored per-layer weights, by layer name and weight order. Every weight of
 * the model must be found with the right shape, and every stored weight must be used (unless its layer
 * is in `skipLayers`); otherwise a ConvlabError lists what is missing, unmapped or mis-shaped (the first
 * 10 of each, with the shapes the model expects), and the model is left unchanged. A file whose layers
 * mostly do not match gets one line naming the architecture it is for.
 */
export function assignLayerWeights(model: LayersModel, storedIn: LayerWeights, options: AssignOptions): AssignReport {
  const skip = new Set(options.skipLayers ?? []);
  const weighted = model.layers.filter((l) => l.weights.length);
  const { weights: stored, renumbered } = alignAutoNames(storedIn, weighted.map((l) => l.name));
  const found = weighted.filter((l) => stored.has(l.name)).length;
  if (weighted.length >= 4 && found < weighted.length / 2) {
    const theirs = identifyKerasArchitecture(stored.keys());
    const mine = identifyKerasArchitecture(weighted.map((l) => l.name)) ?? model.name;
    const what = theirs && theirs !== mine ? `weights for ${theirs}, not ${mine}` : `weights for another architecture than ${mine}`;
    throw new ConvlabError(`${options.source} holds ${what}: ${found} of its model's ${weighted.length} weighted layers are in the file`, {
      hint: theirs && !theirs.includes(' ') ? `load it with the '${theirs}' model, or use the weights file made for ${mine}` : `use the weights file made for ${mine}`,
    });
  }
  const missing: string[] = [];
  const shapeErrors: string[] = [];
  const plan: { layer: (typeof model.layers)[number]; values: StoredWeight[] }[] = [];
  const modelLayers = new Set<string>();
  for (const layer of weighted) {
    const wanted = layer.weights;
    modelLayers.add(layer.name);
    const have = stored.get(layer.name);
    if (!have) {
      missing.push(`${layer.name} (${shapeList(layer)})`);
      continue;
    }
    if (have.length !== wanted.length) {
      shapeErrors.push(`${layer.name}: model has ${wanted.length} weights (${shapeList(layer)}), file has ${have.length} (${have.map((h) => `${h.name} [${h.shape}]`).join(', ')})`);
      continue;
    }
    wanted.forEach((w, i) => {
      const got = have[i].shape;
      if (got.length !== w.shape.length || got.some((d, k) => d !== w.shape[k])) {
        shapeErrors.push(`${layer.name}/${w.originalName.split('/').pop()}: model [${w.shape}] vs file [${got}] (${have[i].name})`);
      }
    });
    plan.push({ layer, values: have });
  }
  let skipped = 0;
  const unmapped: string[] = [];
  for (const [name, list] of stored) {
    if (modelLayers.has(name)) continue;
    if (skip.has(name)) skipped += list.length;
    else unmapped.push(`${name} (${list.map((w) => `${w.name} [${w.shape}]`).join(', ')})`);
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing weights for ${listShort(missing)}`);
  if (unmapped.length) problems.push(`unmapped weights in the file: ${listShort(unmapped)}`);
  if (shapeErrors.length) problems.push(`shape mismatch: ${listShort(shapeErrors)}`);
  if (problems.length) {
    throw new ConvlabError(`weights in ${options.source} do not fit model '${model.name}': ${problems.join('; ')}`, {
      hint: 'use the weights file made for this architecture',
    });
  }
  let tensors = 0;
  for (const { layer, values } of plan) {
    const ts = values.map((v) => tf.tensor(v.data, v.shape, 'float32'));
    layer.setWeights(ts);
    ts.forEach((t) => t.dispose());
    tensors += ts.length;
  }
  return { layers: plan.length, tensors, skipped, renumbered };
}

function listShort(items: string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Load a Keras .h5 file (either layout) into a model built with the same layer names. */
export async function loadKerasWeightsH5(
  model: LayersModel,
  path: string,
  options: Omit<AssignOptions, 'source'> = {},
): Promise<AssignReport & { contents: Omit<KerasH5Contents, 'weights'> }> {
  const contents = await readKerasH5(path);
  const report = assignLayerWeights(model, contents.weights, { ...options, source: path });
  const { layerNames, layout, modelConfig, kerasVersion } = contents;
  return { ...report, contents: { layerNames, layout, modelConfig, kerasVersion } };
}

export interface WriteH5Options {
  /** Also store the architecture (`model_config`) and put weights under /model_weights, like `model.save()`. */
  includeModel?: boolean;
}

/** Keras' HDF5_OBJECT_HEADER_LIMIT: longer attributes are split into name0, name1, ... */
const HEADER_LIMIT = 64512;

/**
 * Fixed-length byte strings, as numpy writes `np.array([b'...'])` (h5py reads them back as bytes), split
 * into chunks like Keras' save_attributes_to_hdf5_group when they would not fit an object header.
 */
export function writeStringList(obj: H5Group, name: string, values: string[]): void {
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  let chunks = 1;
  while (Math.ceil(values.length / chunks) * width >= HEADER_LIMIT) chunks++;
  if (chunks === 1) {
    obj.create_attribute(name, values, [values.length], `S${width}`);
    return;
  }
  const per = Math.ceil(values.length / chunks);
  for (let i = 0; i < chunks; i++) {
    const part = values.slice(i * per, (i + 1) * per);
    obj.create_attribute(`${name}${i}`, part, [part.length], `S${width}`);
  }
}

function writeWeightsTree(root: H5Group, model: LayersModel): void {
  writeStringList(
    root,
    'layer_names',
    model.layers.map((l) => l.name),
  );
  root.create_attribute('backend', 'tensorflow');
  root.create_attribute('keras_version', '2.15.0');
  for (const layer of model.layers) {
    const group = root.create_group(layer.name);
    const weights = layer.weights;
    // Keras names weights '<layer>/<var>:0' and stores them at that relative path inside the layer group.
    // originalName: tfjs appends _1, _2 to `name` when a second model reuses the layer names.
    const names = weights.map((w) => `${w.originalName}:0`);
    if (names.length) writeStringList(group, 'weight_names', names);
    else group.create_attribute('weight_names', new Float64Array(0), [0], '<d');
    const values = layer.getWeights();
    weights.forEach((w, i) => {
      const parts = names[i].split('/');
      let g: H5Group = group;
      for (const part of parts.slice(0, -1)) {
        const existing = g.get(part);
        g = existing instanceof h5wasm.Group ? existing : g.create_group(part);
      }
      g.create_dataset({ name: parts[parts.length - 1], data: values[i].dataSync() as Float32Array, shape: w.shape as number[], dtype: '<f' });
    });
  }
}

/**
 * Write a model's weights in the Keras 2 HDF5 layout (atomically: temporary file, then rename).
 * With `includeModel`, the file is a full-model file that `custom` can load without code.
 */
export async function writeKerasWeightsH5(model: LayersModel, path: string, options: WriteH5Options = {}): Promise<void> {
  const lib = await h5();
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    // libver 'earliest' (superblock v0, compact attributes) is what h5py writes by default.
    const file = new lib.File(tmp, 'w', { libver: ['earliest', 'latest'] });
    try {
      if (options.includeModel) {
        const config = model.toJSON(null, false) as { class_name: string; config: unknown };
        // Keras 2.4+ calls a functional model 'Functional'; tfjs reads both names.
        const json = { class_name: config.class_name === 'Model' ? 'Functional' : config.class_name, config: config.config, keras_version: '2.15.0', backend: 'tensorflow' };
        file.create_attribute('model_config', JSON.stringify(json));
        file.create_attribute('keras_version', '2.15.0');
        file.create_attribute('backend', 'tensorflow');
        writeWeightsTree(file.create_group('model_weights'), model);
      } else {
        writeWeightsTree(file, model);
      }
    } finally {
      file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
