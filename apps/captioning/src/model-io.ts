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
import { createDecoder } from './decoders/index.js';
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
  weights: WeightEntry[];
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
  model: { decoder: CaptionDecoder; vocab: Vocabulary; encoder: EncoderSpec; maxLength: number; training?: Record<string, unknown> },
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
    weights: manifest,
  };
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await writeFileAtomic(join(tmp, 'weights.bin'), data);
  await writeJsonAtomic(join(tmp, 'vocab.json'), model.vocab.toJSON());
  await writeJsonAtomic(join(tmp, 'config.json'), config);
  if (options.extra?.length) {
    const extra = encodeWeights(options.extra, 'float32');
    await writeFileAtomic(join(tmp, 'optimizer.bin'), extra.data);
    await writeJsonAtomic(join(tmp, 'optimizer.json'), extra.manifest);
  }
  const old = `${tmp}.old`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
  return config;
}

function readRequired(dir: string, file: string): Buffer {
  const p = join(dir, file);
  if (!existsSync(p)) {
    throw new ConvlabError(`caption model folder ${dir} is missing ${file}`, {
      hint: 'a model folder needs config.json, vocab.json and weights.bin; pass --model <folder> or restore the shipped apps/captioning/pretrained',
    });
  }
  return readFileSync(p);
}

function parseJson(buf: Buffer, path: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new ConvlabError(`${path} is not valid JSON (${(err as Error).message})`, { hint: 'the model folder is damaged: restore or retrain it' });
  }
}

export function loadCaptionModel(dir: string, seed = 1): CaptionModel {
  if (!existsSync(dir)) {
    throw new ConvlabError(`caption model folder not found: ${dir}`, { hint: 'pass --model <folder> (train one with `convlab-caption train`)' });
  }
  const config = parseJson(readRequired(dir, 'config.json'), join(dir, 'config.json')) as ModelConfig;
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

/** Optimizer state saved next to a checkpoint, if any. */
export function loadOptimizerState(dir: string): Map<string, Tensor> | undefined {
  if (!existsSync(join(dir, 'optimizer.json'))) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as WeightEntry[];
  return decodeWeights(manifest, readFileSync(join(dir, 'optimizer.bin')), join(dir, 'optimizer.bin'));
}
