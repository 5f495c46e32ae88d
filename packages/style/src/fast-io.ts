/**
 * A transformation network on disk: a folder with `manifest.json` (format, architecture, parameter names,
 * shapes and offsets, what it was trained on) and `weights.bin` (the parameters in manifest order, IEEE 754
 * half precision little-endian for a shipped network, a few MB; float32 for a training checkpoint, which
 * also holds Adam's moments in `adam.bin` so that --resume continues exactly). Files are written
 * atomically; a manifest that does not match its weights is refused with a message naming the folder.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvlabError, createRunRecord, initEngine, loadImage, parseOptions, resizeImage, writeFileAtomic, writeJsonAtomic, type EngineInfo, type RgbImage, type RunRecord } from '@convlab/core';
import { resolveFastNet } from './fast-bundled.js';
import { FastApplyOptions } from './fast-options.js';
import { createTransformNet, parameterShapes, stylizeWithNet, type TransformNet, type TransformNetConfig } from './johnson.js';

export const FAST_NET_FORMAT = 'convlab-fast-style';
export const FAST_NET_VERSION = 1;

export type WeightDtype = 'float16' | 'float32';

export interface FastNetManifest {
  format: typeof FAST_NET_FORMAT;
  version: number;
  architecture: 'johnson2016-instancenorm';
  config: TransformNetConfig;
  dtype: WeightDtype;
  /** Parameters in file order: name, shape, offset in values (not bytes). */
  params: { name: string; shape: number[]; offset: number }[];
  /** What it was trained on and how (free-form: style image, steps, losses, command). */
  training?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------
// IEEE 754 binary16 <-> binary32

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> float16 bits, round to nearest even; overflow to +-Inf, NaN kept. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h += 1; // may carry into the exponent: still correct
  return sign | h;
}

/** float16 bits -> number. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Round every value to the nearest float16 (what saving as float16 and loading back gives). */
export function roundToHalf(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = fromHalfBits(toHalfBits(values[i]));
  return out;
}

function encode(values: Float32Array, dtype: WeightDtype): Uint8Array {
  if (dtype === 'float32') {
    const le = new Uint8Array(values.length * 4);
    const view = new DataView(le.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return le;
  }
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, toHalfBits(values[i]), true);
  return out;
}

function decode(bytes: Uint8Array, dtype: WeightDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = dtype === 'float16' ? 2 : 4;
  const out = new Float32Array(bytes.byteLength / size);
  for (let i = 0; i < out.length; i++) out[i] = dtype === 'float16' ? fromHalfBits(view.getUint16(i * 2, true)) : view.getFloat32(i * 4, true);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// networks

/** The parameters as one flat array in manifest order, and the manifest entries. */
async function flatten(net: TransformNet): Promise<{ values: Float32Array; params: FastNetManifest['params'] }> {
  const shapes = parameterShapes(net.config);
  const total = shapes.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  const values = new Float32Array(total);
  const params: FastNetManifest['params'] = [];
  let offset = 0;
  for (const { name, shape } of shapes) {
    const v = (await net.params.get(name)!.data()) as Float32Array;
    values.set(v, offset);
    params.push({ name, shape, offset });
    offset += v.length;
  }
  return { values, params };
}

/** Write a network folder: weights.bin first, then manifest.json (a folder with a manifest is complete). */
export async function saveTransformNet(net: TransformNet, dir: string, options: { dtype?: WeightDtype; training?: Record<string, unknown> } = {}): Promise<FastNetManifest> {
  const dtype = options.dtype ?? 'float16';
  const { values, params } = await flatten(net);
  const manifest: FastNetManifest = { format: FAST_NET_FORMAT, version: FAST_NET_VERSION, architecture: 'johnson2016-instancenorm', config: net.config, dtype, params, ...(options.training ? { training: options.training } : {}) };
  await writeFileAtomic(join(dir, 'weights.bin'), encode(values, dtype));
  await writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return manifest;
}

/** Read and check a network folder's manifest. */
export async function readFastNetManifest(dir: string): Promise<FastNetManifest> {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new ConvlabError(`${dir} is not a fast-style network: no manifest.json`, { hint: 'give the folder written by convlab-style train-fast, or a bundled name' });
  let m: FastNetManifest;
  try {
    m = JSON.parse(await readFile(path, 'utf8')) as FastNetManifest;
  } catch (err) {
    throw new ConvlabError(`${path}: not valid JSON (${(err as Error).message})`, { hint: 'the network folder is damaged; retrain or copy it again', cause: err });
  }
  if (m.format !== FAST_NET_FORMAT || m.version !== FAST_NET_VERSION) {
    throw new ConvlabError(`${path}: format ${String(m.format)} v${String(m.version)} is not ${FAST_NET_FORMAT} v${FAST_NET_VERSION}`, { hint: 'write it with this version of convlab-style train-fast' });
  }
  return m;
}

/** Load a network folder (float16 or float32 weights). */
export async function loadTransformNet(dir: string): Promise<{ net: TransformNet; manifest: FastNetManifest }> {
  const manifest = await readFastNetManifest(dir);
  const bytes = new Uint8Array(await readFile(join(dir, 'weights.bin')).catch((err: unknown) => {
    throw new ConvlabError(`${dir}: cannot read weights.bin (${(err as Error).message})`, { hint: 'the network folder is incomplete; retrain or copy it again', cause: err });
  }));
  const values = decode(bytes, manifest.dtype);
  const expected = parameterShapes(manifest.config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  if (values.length !== expected) {
    throw new ConvlabError(`${dir}: weights.bin holds ${values.length} values, the manifest's architecture needs ${expected}`, { hint: 'the files do not belong together; retrain or copy the folder again' });
  }
  const weights = new Map<string, Float32Array>();
  for (const p of manifest.params) weights.set(p.name, values.subarray(p.offset, p.offset + p.shape.reduce((a, b) => a * b, 1)));
  return { net: createTransformNet(manifest.config, { weights }), manifest };
}

// ---------------------------------------------------------------------------------------------------
// training checkpoints: float32 weights + Adam state + the step reached

export interface CheckpointState {
  step: number;
  /** Adam's moments, [m, v] per parameter in manifest order, and its iteration count. */
  adam?: { iterations: number; moments: Float32Array[] };
  /** Anything the trainer wants back (options, losses so far). */
  extra: Record<string, unknown>;
}

export async function saveCheckpoint(net: TransformNet, dir: string, state: CheckpointState): Promise<void> {
  if (state.adam) {
    const total = state.adam.moments.reduce((a, m) => a + m.length, 0);
    const all = new Float32Array(total);
    let o = 0;
    for (const m of state.adam.moments) {
      all.set(m, o);
      o += m.length;
    }
    await writeFileAtomic(join(dir, 'adam.bin'), encode(all, 'float32'));
  }
  await writeJsonAtomic(join(dir, 'state.json'), { step: state.step, adamIterations: state.adam?.iterations, adamSizes: state.adam?.moments.map((m) => m.length), extra: state.extra });
  await saveTransformNet(net, dir, { dtype: 'float32' });
}

export async function loadCheckpoint(dir: string): Promise<{ net: TransformNet; state: CheckpointState }> {
  if (!existsSync(join(dir, 'state.json'))) throw new ConvlabError(`no checkpoint in ${dir}`, { hint: 'train without --resume first (checkpoints are written every --checkpoint-every steps)' });
  const { net } = await loadTransformNet(dir);
  const raw = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { step: number; adamIterations?: number; adamSizes?: number[]; extra: Record<string, unknown> };
  let adam: CheckpointState['adam'];
  if (raw.adamSizes && raw.adamIterations !== undefined && existsSync(join(dir, 'adam.bin'))) {
    const all = decode(new Uint8Array(await readFile(join(dir, 'adam.bin'))), 'float32');
    const moments: Float32Array[] = [];
    let o = 0;
    for (const n of raw.adamSizes) {
      moments.push(all.slice(o, o + n));
      o += n;
    }
    adam = { iterations: raw.adamIterations, moments };
  }
  return { net, state: { step: raw.step, adam, extra: raw.extra ?? {} } };
}

// ---------------------------------------------------------------------------------------------------
// applying a saved network: by folder or by the name of a bundled one

// The bundled networks by name (packages/style/fast-nets/<name>/, or CONVLAB_FAST_NETS_DIR): light, in ./fast-bundled.ts.
export { BUNDLED_FAST_NETS_DIR, bundledFastNets, fastNetsDir, resolveFastNet, trainFastCommand } from './fast-bundled.js';

export interface FastStylizeResult {
  image: RgbImage;
  record: RunRecord;
  /** Milliseconds of the network call alone (padding, forward, crop, read back). */
  networkMs: number;
}

/** Apply a saved network to one image (FastApplyOptions): the image at the input's size (or --size) and a run record. */
export async function fastStylize(options: FastApplyOptions, hooks: { onEngine?: (e: EngineInfo) => void; net?: TransformNet } = {}): Promise<FastStylizeResult> {
  const o = parseOptions(FastApplyOptions, options as Record<string, unknown>, 'code');
  const dir = hooks.net ? o.net : resolveFastNet(o.net);
  if (!existsSync(o.content)) throw new ConvlabError(`--content ${o.content}: image not found`, { hint: 'check the path' });
  let image = await loadImage(o.content);
  if (o.size !== undefined) image = await resizeImage(image, { maxSide: o.size });
  const engine = await initEngine({ backend: o.backend, log: false });
  hooks.onEngine?.(engine);
  const loaded = hooks.net ? { net: hooks.net, manifest: undefined } : await loadTransformNet(dir);
  try {
    const record = createRunRecord({
      tool: 'convlab-style fast',
      parameters: { ...o, net: dir },
      backend: { name: engine.backend, tfBackend: engine.tfBackend, detail: engine.detail },
      model: { name: 'johnson2016-instancenorm', weights: dir, config: loaded.net.config, training: loaded.manifest?.training },
    });
    const t0 = performance.now();
    const out = await stylizeWithNet(loaded.net, image);
    const networkMs = performance.now() - t0;
    record.time('network', networkMs);
    record.set('output', { width: out.width, height: out.height });
    record.finish();
    return { image: out, record, networkMs };
  } finally {
    if (!hooks.net) loaded.net.dispose();
  }
}
