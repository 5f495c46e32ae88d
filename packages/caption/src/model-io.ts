/**
 * A caption model on disk is one folder:
 *   config.json   decoder config, encoder (model, layer, input size, feature kind), max length, training info,
 *                 and the weight manifest (name, shape, dtype, byte offset)
 *   vocab.json    the vocabulary
 *   weights.bin   the weights, float32 or float16, concatenated in manifest order
 * Writes are atomic per file and the folder is written to a temporary name first, then renamed.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { tf, ConvlabError, writeFileAtomic, writeJsonAtomic } from '@convlab/core';
import type { Tensor } from '@convlab/core';
import type { CaptionDecoder, DecoderConfig } from './decoders/types.js';
import { createDecoder, EnsembleDecoder } from './decoders/index.js';
import { Vocabulary } from './vocab.js';
import { fromFloat16, toFloat16 } from './float16.js';
import type { EncoderSpec } from './features.js';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float16';
  offset: number;
}

export interface ModelConfig {
  format: 'convlab-caption-model/1';
  decoder: DecoderConfig;
  encoder: EncoderSpec;
  maxLength: number;
  /** Free-form: dataset, epochs, metrics, command. */
  training?: Record<string, unknown>;
  /** Decoding settings chosen on the dev split; `predict` and `eval` default to them. */
  decoding?: DecodingDefaults;
  weights: WeightEntry[];
}

export interface DecodingDefaults {
  lengthPenalty?: number;
}

export interface CaptionModel {
  config: ModelConfig;
  decoder: CaptionDecoder;
  vocab: Vocabulary;
  dir?: string;
}

export function encodeWeights(tensors: [string, Tensor][], dtype: 'float32' | 'float16'): { manifest: WeightEntry[]; data: Buffer } {
  const parts: Buffer[] = [];
  const manifest: WeightEntry[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const values = t.dataSync() as Float32Array;
    const bytes = dtype === 'float16' ? toFloat16(values) : values;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    manifest.push({ name, shape: t.shape, dtype, offset });
    parts.push(Buffer.from(buf));
    offset += buf.byteLength;
  }
  return { manifest, data: Buffer.concat(parts) };
}

export function decodeWeights(manifest: WeightEntry[], data: Buffer, source: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const e of manifest) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    const bytes = size * (e.dtype === 'float16' ? 2 : 4);
    if (e.offset + bytes > data.byteLength) {
      throw new ConvlabError(`${source} is truncated (weight "${e.name}" runs past the end)`, { hint: 'the file is incomplete: copy or retrain the model' });
    }
    const slice = data.subarray(e.offset, e.offset + bytes);
    const copy = new Uint8Array(slice).buffer; // aligned copy
    const values = e.dtype === 'float16' ? fromFloat16(new Uint16Array(copy)) : new Float32Array(copy);
    out.set(e.name, tf.tensor(values, e.shape));
  }
  return out;
}

export async function saveCaptionModel(
  dir: string,
  model: { decoder: CaptionDecoder; vocab: Vocabulary; encoder: EncoderSpec; maxLength: number; training?: Record<string, unknown>; decoding?: DecodingDefaults },
  options: { dtype?: 'float32' | 'float16'; extra?: [string, Tensor][] } = {},
): Promise<ModelConfig> {
  const dtype = options.dtype ?? 'float32';
  const { manifest, data } = encodeWeights([...model.decoder.params.vars.entries()], dtype);
  const config: ModelConfig = {
    format: 'convlab-caption-model/1',
    decoder: model.decoder.config,
    encoder: model.encoder,
    maxLength: model.maxLength,
    training: model.training,
    ...(model.decoding ? { decoding: model.decoding } : {}),
    weights: manifest,
  };
  await replaceDir(dir, async (tmp) => {
    await writeFileAtomic(join(tmp, 'weights.bin'), data);
    await writeJsonAtomic(join(tmp, 'vocab.json'), model.vocab.toJSON());
    await writeJsonAtomic(join(tmp, 'config.json'), config);
    if (options.extra?.length) {
      const extra = encodeWeights(options.extra, 'float32');
      await writeFileAtomic(join(tmp, 'optimizer.bin'), extra.data);
      await writeJsonAtomic(join(tmp, 'optimizer.json'), extra.manifest);
    }
  });
  return config;
}

/** Fill a sibling temporary folder, then swap it in: readers see the old folder or the complete new one. */
async function replaceDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = `${tmp}.old`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

function requireFile(dir: string, file: string): string {
  const p = join(dir, file);
  if (!existsSync(p)) {
    throw new ConvlabError(`caption model folder ${dir} is missing ${file}`, {
      hint: 'a model folder needs config.json, vocab.json and weights.bin; pass --model <folder> or restore the shipped packages/caption/pretrained',
    });
  }
  return p;
}

function readRequired(dir: string, file: string): Buffer {
  return readFileSync(requireFile(dir, file));
}

function parseJson(buf: Buffer, path: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new ConvlabError(`${path} is not valid JSON (${(err as Error).message})`, { hint: 'the model folder is damaged: restore or retrain it' });
  }
}

/**
 * A model folder's config.json and vocab.json, checked, without creating any tensor: what a CLI reads to
 * validate flags and estimate memory before loading anything heavy. Ensembles give their first member's.
 */
export function readCaptionModelFiles(dir: string): { config: ModelConfig; vocab: Vocabulary; ensemble: boolean } {
  if (!existsSync(dir)) {
    throw new ConvlabError(`caption model folder not found: ${dir}`, { hint: 'pass --model <folder> (train one with `convlab-caption train`)' });
  }
  const config = parseJson(readRequired(dir, 'config.json'), join(dir, 'config.json')) as ModelConfig | EnsembleConfig;
  if (config?.format === 'convlab-caption-ensemble/1') {
    if (!Array.isArray(config.members) || !config.members.length) {
      throw new ConvlabError(`${join(dir, 'config.json')} lists no ensemble members`, { hint: 'expected "members": ["member-1", ...]' });
    }
    const first = readCaptionModelFiles(join(dir, config.members[0]));
    return { config: { ...first.config, decoding: config.decoding }, vocab: first.vocab, ensemble: true };
  }
  if (config?.format !== 'convlab-caption-model/1' || !config.decoder || !Array.isArray(config.weights)) {
    throw new ConvlabError(`${join(dir, 'config.json')} is not a convlab caption model config`, { hint: 'expected "format": "convlab-caption-model/1"' });
  }
  const vocab = Vocabulary.fromJSON(parseJson(readRequired(dir, 'vocab.json'), join(dir, 'vocab.json')), join(dir, 'vocab.json'));
  requireFile(dir, 'weights.bin');
  return { config, vocab, ensemble: false };
}

/** Whether a folder holds a caption model or ensemble (config.json with a caption format), e.g. before replacing it. */
export function isCaptionModelDir(dir: string): boolean {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { format?: string };
    return config?.format === 'convlab-caption-model/1' || config?.format === 'convlab-caption-ensemble/1';
  } catch {
    return false;
  }
}

export function loadCaptionModel(dir: string, seed = 1): CaptionModel {
  if (!existsSync(dir)) {
    throw new ConvlabError(`caption model folder not found: ${dir}`, { hint: 'pass --model <folder> (train one with `convlab-caption train`)' });
  }
  const config = parseJson(readRequired(dir, 'config.json'), join(dir, 'config.json')) as ModelConfig | EnsembleConfig;
  if (config?.format === 'convlab-caption-ensemble/1') return loadEnsemble(dir, config, seed);
  if (config?.format !== 'convlab-caption-model/1' || !config.decoder || !Array.isArray(config.weights)) {
    throw new ConvlabError(`${join(dir, 'config.json')} is not a convlab caption model config`, { hint: 'expected "format": "convlab-caption-model/1"' });
  }
  const vocab = Vocabulary.fromJSON(parseJson(readRequired(dir, 'vocab.json'), join(dir, 'vocab.json')), join(dir, 'vocab.json'));
  if (vocab.size !== config.decoder.vocabSize) {
    throw new ConvlabError(`vocabulary mismatch in ${dir}: vocab.json has ${vocab.size} words but the decoder was trained with ${config.decoder.vocabSize}`, {
      hint: 'use the vocab.json saved with these weights',
    });
  }
  const data = readRequired(dir, 'weights.bin');
  const decoder = createDecoder(config.decoder, seed);
  const tensors = decodeWeights(config.weights, data, join(dir, 'weights.bin'));
  try {
    decoder.params.assign(tensors, join(dir, 'weights.bin'));
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { config, decoder, vocab, dir };
}

/** An ensemble folder: config.json lists member folders (each a complete model) decoded together. */
export interface EnsembleConfig {
  format: 'convlab-caption-ensemble/1';
  members: string[];
  training?: Record<string, unknown>;
  decoding?: DecodingDefaults;
}

/**
 * Write models trained on the same encoder and vocabulary as one ensemble folder (members in subfolders),
 * atomically: a reader sees the old folder or the complete new one.
 */
export async function saveCaptionEnsemble(dir: string, members: CaptionModel[], options: { dtype?: 'float32' | 'float16'; training?: Record<string, unknown>; decoding?: DecodingDefaults } = {}): Promise<void> {
  checkEnsemble(members, dir);
  const names = members.map((_, i) => `member-${i + 1}`);
  await replaceDir(dir, async (tmp) => {
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      await saveCaptionModel(join(tmp, names[i]), { decoder: m.decoder, vocab: m.vocab, encoder: m.config.encoder, maxLength: m.config.maxLength, training: m.config.training }, { dtype: options.dtype });
    }
    const config: EnsembleConfig = { format: 'convlab-caption-ensemble/1', members: names, training: options.training, ...(options.decoding ? { decoding: options.decoding } : {}) };
    await writeJsonAtomic(join(tmp, 'config.json'), config);
  });
}

function checkEnsemble(members: CaptionModel[], where: string): void {
  if (!members.length) throw new ConvlabError(`ensemble ${where} has no members`, { hint: 'list at least one model folder' });
  const [first] = members;
  for (const m of members.slice(1)) {
    if (JSON.stringify(m.config.encoder) !== JSON.stringify(first.config.encoder)) {
      throw new ConvlabError(`ensemble ${where}: ${m.dir ?? 'a member'} uses other features than ${first.dir ?? 'the first member'}`, { hint: 'ensemble models trained on the same feature cache' });
    }
    if (m.vocab.words.join('\n') !== first.vocab.words.join('\n')) {
      throw new ConvlabError(`ensemble ${where}: ${m.dir ?? 'a member'} has another vocabulary than ${first.dir ?? 'the first member'}`, { hint: 'train the members with the same --min-count on the same data' });
    }
    if (m.config.decoder.kind !== first.config.decoder.kind) {
      throw new ConvlabError(`ensemble ${where}: ${m.dir ?? 'a member'} is a ${m.config.decoder.kind} decoder, ${first.dir ?? 'the first member'} a ${first.config.decoder.kind}`, { hint: 'a shipped ensemble reads one kind of features: combine decoders of one kind (tools/eval-ensemble.ts scores mixed ones)' });
    }
  }
}

function loadEnsemble(dir: string, config: EnsembleConfig, seed: number): CaptionModel {
  if (!Array.isArray(config.members) || !config.members.length) {
    throw new ConvlabError(`${join(dir, 'config.json')} lists no ensemble members`, { hint: 'expected "members": ["member-1", ...]' });
  }
  const members = config.members.map((m) => loadCaptionModel(join(dir, m), seed));
  checkEnsemble(members, dir);
  const [first] = members;
  const decoder = new EnsembleDecoder(
    members.map((m) => m.decoder),
    { shared: true },
  );
  return {
    config: { ...first.config, decoder: decoder.config, training: { ...config.training, members: members.map((m) => m.config.training) }, decoding: config.decoding, weights: [] },
    decoder,
    vocab: first.vocab,
    dir,
  };
}

/** Optimizer state saved next to a checkpoint, if any. */
export function loadOptimizerState(dir: string): Map<string, Tensor> | undefined {
  if (!existsSync(join(dir, 'optimizer.json'))) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as WeightEntry[];
  return decodeWeights(manifest, readFileSync(join(dir, 'optimizer.bin')), join(dir, 'optimizer.bin'));
}
