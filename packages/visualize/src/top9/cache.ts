/**
 * On-disk cache of per-image, per-channel activation maxima for one (model, layer, input size).
 * It makes the top-9 scan resumable: an interrupted scan keeps every image already written, and a
 * second run only processes the rest. A later run that asks for other units of the same layer
 * needs no rescan at all, because every channel's maximum is stored.
 *
 * Layout of one cache folder:
 *   meta.json     what the numbers are (model, weights, layer, input size, channels, feature map size)
 *   maxima.bin    fixed-size records: channels x float32 maximum, then channels x uint32 argmax (y*w+x)
 *   scan.jsonl    one line per processed file: {"f": key, "s": size, "m": mtimeMs, "r": record} or
 *                 {"f": key, "s", "m", "e": "why it failed"}
 * The record is written before its line, so a line always points at complete data; on open, a
 * torn last line and any record without a line are dropped.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvlabError, writeJsonAtomic } from '@convlab/core';

export interface CacheMeta {
  model: string;
  weights: string;
  layer: string;
  /** [height, width] images are fitted to before the forward pass. */
  inputSize: [number, number];
  fit: string;
  channels: number;
  /** Feature map size [height, width] at that input size. */
  featureSize: [number, number];
}

export interface CachedImage {
  /** The file's key (its path relative to the scanned folder, or the absolute path). */
  file: string;
  size: number;
  mtimeMs: number;
  /** Record index in maxima.bin, or undefined if the file failed. */
  record?: number;
  error?: string;
}

export interface NewEntry {
  file: string;
  size: number;
  mtimeMs: number;
  /** Per-channel maxima and argmax (flat y*w+x), or an error. */
  max?: Float32Array;
  argmax?: Uint32Array;
  error?: string;
}

const VERSION = 1;

/** Folder name: readable prefix plus a hash of everything that changes the numbers. */
export function cacheFolderName(meta: CacheMeta): string {
  const hash = createHash('sha256').update(JSON.stringify({ v: VERSION, ...meta })).digest('hex').slice(0, 12);
  const slug = `${meta.model}-${meta.layer}-${meta.inputSize.join('x')}`.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${slug}-${hash}`;
}

export class MaximaCache {
  readonly dir: string;
  readonly meta: CacheMeta;
  /** Latest entry per file key. */
  private readonly byFile = new Map<string, CachedImage>();
  private values: Float32Array;
  private positions: Uint32Array;
  private records = 0;
  private bin: FileHandle | undefined;
  private log: FileHandle | undefined;

  private constructor(dir: string, meta: CacheMeta) {
    this.dir = dir;
    this.meta = meta;
    this.values = new Float32Array(0);
    this.positions = new Uint32Array(0);
  }

  get recordBytes(): number {
    return this.meta.channels * 8;
  }

  /** Open (creating if needed) the cache for meta under root; loads what an earlier scan wrote. */
  static async open(root: string, meta: CacheMeta): Promise<MaximaCache> {
    const dir = join(root, cacheFolderName(meta));
    await mkdir(dir, { recursive: true });
    const cache = new MaximaCache(dir, meta);
    await cache.load();
    return cache;
  }

  private async load(): Promise<void> {
    const metaPath = join(this.dir, 'meta.json');
    let existing: (CacheMeta & { version: number }) | undefined;
    try {
      existing = JSON.parse(await readFile(metaPath, 'utf8'));
    } catch {
      existing = undefined;
    }
    if (!existing || existing.version !== VERSION || JSON.stringify({ ...existing, version: undefined }) !== JSON.stringify({ ...this.meta, version: undefined })) {
      // New, or written by something else: start over.
      await rm(join(this.dir, 'maxima.bin'), { force: true });
      await rm(join(this.dir, 'scan.jsonl'), { force: true });
      await writeJsonAtomic(metaPath, { version: VERSION, ...this.meta });
    }
    let text = '';
    try {
      text = await readFile(join(this.dir, 'scan.jsonl'), 'utf8');
    } catch {
      text = '';
    }
    let binBytes = 0;
    try {
      binBytes = (await stat(join(this.dir, 'maxima.bin'))).size;
    } catch {
      binBytes = 0;
    }
    const available = Math.floor(binBytes / this.recordBytes);
    const lines = text.split('\n');
    let goodText = '';
    let records = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const complete = i < lines.length - 1; // the last piece has no newline after it
      if (!complete || line.length === 0) continue;
      let entry: { f: string; s: number; m: number; r?: number; e?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        break; // torn write: keep everything before it
      }
      if (entry.r !== undefined) {
        if (entry.r !== records || entry.r >= available) break;
        records += 1;
      }
      this.byFile.set(entry.f, { file: entry.f, size: entry.s, mtimeMs: entry.m, record: entry.r, error: entry.e });
      goodText += line + '\n';
    }
    if (goodText.length !== text.length) await writeFile(join(this.dir, 'scan.jsonl'), goodText);
    this.records = records;
    const bytes = records * this.recordBytes;
    if (binBytes !== bytes) {
      const fh = await open(join(this.dir, 'maxima.bin'), 'a+');
      await fh.truncate(bytes);
      await fh.close();
    }
    this.ensureCapacity(records);
    if (records > 0) {
      const buf = await readFile(join(this.dir, 'maxima.bin'));
      const c = this.meta.channels;
      for (let r = 0; r < records; r++) {
        const off = buf.byteOffset + r * this.recordBytes;
        const ab = buf.buffer.slice(off, off + this.recordBytes);
        this.values.set(new Float32Array(ab, 0, c), r * c);
        this.positions.set(new Uint32Array(ab, c * 4, c), r * c);
      }
    }
  }

  private ensureCapacity(n: number): void {
    const c = this.meta.channels;
    if (this.values.length >= n * c) return;
    const cap = Math.max(n, Math.ceil((this.values.length / c) * 1.5), 64);
    const v = new Float32Array(cap * c);
    v.set(this.values);
    const p = new Uint32Array(cap * c);
    p.set(this.positions);
    this.values = v;
    this.positions = p;
  }

  /** True if the file was already processed with this size and mtime (successfully or not). */
  has(file: string, size: number, mtimeMs: number): boolean {
    const e = this.byFile.get(file);
    return e !== undefined && e.size === size && e.mtimeMs === mtimeMs;
  }

  get(file: string): CachedImage | undefined {
    return this.byFile.get(file);
  }

  /** Every file's latest entry. */
  entries(): CachedImage[] {
    return [...this.byFile.values()];
  }

  get recordCount(): number {
    return this.records;
  }

  /** Maximum of one channel in one record. */
  value(record: number, channel: number): number {
    return this.values[record * this.meta.channels + channel];
  }

  /** Argmax position of one channel in one record as [y, x] in the feature map. */
  position(record: number, channel: number): [number, number] {
    const flat = this.positions[record * this.meta.channels + channel];
    const w = this.meta.featureSize[1];
    return [Math.floor(flat / w), flat % w];
  }

  /** Append processed files: their records first, then their lines (see the file comment). */
  async append(batch: NewEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const c = this.meta.channels;
    this.bin ??= await open(join(this.dir, 'maxima.bin'), 'r+').catch(() => open(join(this.dir, 'maxima.bin'), 'w+'));
    this.log ??= await open(join(this.dir, 'scan.jsonl'), 'a');
    const good = batch.filter((e) => !e.error);
    for (const e of good) {
      if (!e.max || !e.argmax || e.max.length !== c || e.argmax.length !== c) {
        throw new Error(`cache append: ${e.file} has ${e.max?.length} values, expected ${c}`);
      }
    }
    const buf = Buffer.alloc(good.length * this.recordBytes);
    good.forEach((e, i) => {
      Buffer.from(e.max!.buffer, e.max!.byteOffset, c * 4).copy(buf, i * this.recordBytes);
      Buffer.from(e.argmax!.buffer, e.argmax!.byteOffset, c * 4).copy(buf, i * this.recordBytes + c * 4);
    });
    if (good.length) {
      await this.bin.write(buf, 0, buf.length, this.records * this.recordBytes);
      await this.bin.datasync();
    }
    this.ensureCapacity(this.records + good.length);
    let text = '';
    for (const e of batch) {
      if (e.error) {
        text += JSON.stringify({ f: e.file, s: e.size, m: e.mtimeMs, e: e.error }) + '\n';
        this.byFile.set(e.file, { file: e.file, size: e.size, mtimeMs: e.mtimeMs, error: e.error });
      } else {
        const r = this.records++;
        this.values.set(e.max!, r * c);
        this.positions.set(e.argmax!, r * c);
        text += JSON.stringify({ f: e.file, s: e.size, m: e.mtimeMs, r }) + '\n';
        this.byFile.set(e.file, { file: e.file, size: e.size, mtimeMs: e.mtimeMs, record: r });
      }
    }
    await this.log.write(text);
  }

  async close(): Promise<void> {
    await this.bin?.close();
    await this.log?.close();
    this.bin = undefined;
    this.log = undefined;
  }
}

/** Throw if a unit index is outside the layer. */
export function checkUnits(units: number[], channels: number, layer: string): void {
  const bad = units.filter((u) => !Number.isInteger(u) || u < 0 || u >= channels);
  if (bad.length) {
    throw new ConvlabError(`unit ${bad.join(', ')} out of range for layer ${layer}`, {
      hint: `${layer} has ${channels} channels: use units 0..${channels - 1}`,
    });
  }
}
