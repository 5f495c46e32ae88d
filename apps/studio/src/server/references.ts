/**
 * Images by reference. A job input from a client never carries a server path: its image fields take
 * `sample:<set>/<name>` (the bundled assets/) or `upload:<id>`, and the server resolves them to absolute
 * paths before the kind's schema sees the input. This file is the one place that decides which fields are
 * images and how references map to paths and back (responses show references, not server paths).
 */
import { existsSync, readdirSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { z } from '@convlab/core/light';
import { HttpError } from './errors.js';
import { UPLOAD_ID, UPLOAD_FORMATS, type UploadStore } from './uploads.js';

/**
 * Input fields that hold images (one reference or a list): a field is an image field when its name is one of
 * these, or when its schema says so with `.meta({ image: true })`.
 */
export const IMAGE_FIELD_NAMES: readonly string[] = ['content', 'style', 'image', 'images', 'photo', 'photos'];

/** Words an image field may hold instead of a reference (e.g. top-9 over the bundled set). */
export const IMAGE_KEYWORDS: readonly string[] = ['bundled'];

/** The bundled sample sets under assets/. */
export const SAMPLE_SETS = ['content', 'style'] as const;
const SAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SAMPLE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

export interface Sample {
  ref: string;
  name: string;
  url: string;
}

/** The image fields of a kind's input schema (top-level fields of an object schema). */
export function imageFieldsOf(schema: z.ZodType): string[] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>)
    .filter(([name, field]) => IMAGE_FIELD_NAMES.includes(name) || (field.meta?.() as { image?: unknown } | undefined)?.image === true)
    .map(([name]) => name);
}

/** Top-level field names of a kind's input (to name the field of a validation error). */
export function fieldNamesOf(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

export class References {
  readonly samples: Record<(typeof SAMPLE_SETS)[number], Sample[]>;

  constructor(
    readonly assetsDir: string,
    readonly uploads: UploadStore,
  ) {
    this.samples = { content: this.listSet('content'), style: this.listSet('style') };
  }

  private listSet(set: string): Sample[] {
    const dir = join(this.assetsDir, set);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => SAMPLE_NAME.test(name) && SAMPLE_EXTENSIONS.has(extname(name).toLowerCase()))
      .sort()
      .map((name) => ({ ref: `sample:${set}/${name}`, name, url: `/samples/${set}/${name}` }));
  }

  /** The absolute path of a bundled sample, or undefined. */
  samplePath(set: string, name: string): string | undefined {
    const list = (this.samples as Record<string, Sample[] | undefined>)[set];
    return list?.some((s) => s.name === name) ? join(this.assetsDir, set, name) : undefined;
  }

  /** Resolve one reference to an absolute path; throws a 400 naming the field. */
  async resolve(ref: unknown, field: string): Promise<string> {
    const usage = `use an upload id (upload:...) or a sample (sample:content/dog.jpg)`;
    if (typeof ref !== 'string') throw new HttpError(400, `${field}: ${usage}`, { field, hint: 'image fields take references, not paths or pixels' });
    const sample = /^sample:([a-z]+)\/([^/\\]+)$/.exec(ref);
    if (sample) {
      const path = this.samplePath(sample[1], sample[2]);
      if (!path) throw new HttpError(400, `${field}: no bundled sample "${sample[1]}/${sample[2]}"`, { field, hint: 'GET /api/samples lists them' });
      return path;
    }
    const upload = /^upload:(.*)$/.exec(ref);
    if (upload) {
      const info = UPLOAD_ID.test(upload[1]) ? await this.uploads.get(upload[1]) : undefined;
      if (!info) throw new HttpError(400, `${field}: no upload with id "${upload[1]}"`, { field, hint: 'upload the image again (POST /api/uploads) and use the ref it returns' });
      return this.uploads.pathOf(info);
    }
    throw new HttpError(400, `${field}: ${usage}`, { field, hint: `got ${JSON.stringify(ref).slice(0, 80)}; the server never reads a path a client names` });
  }

  /** A copy of a job input with the image fields' references replaced by absolute paths. */
  async resolveInput(input: unknown, imageFields: readonly string[]): Promise<unknown> {
    if (input === undefined) return {};
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new HttpError(400, 'input: must be an object of the kind\'s options', { field: 'input', hint: 'GET /api/kinds gives each kind\'s schema' });
    const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    for (const field of imageFields) {
      const value = out[field];
      if (value === undefined) continue;
      if (typeof value === 'string' && IMAGE_KEYWORDS.includes(value)) continue;
      out[field] = Array.isArray(value) ? await Promise.all(value.map((v, i) => this.resolve(v, `${field}[${i}]`).catch(rethrowAs(field)))) : await this.resolve(value, field);
    }
    return out;
  }

  /** Map absolute paths under assets/ or the uploads folder back to references (for responses). */
  toRefs<T>(value: T): T {
    const map = (v: unknown): unknown => {
      if (typeof v === 'string') return this.refOf(v) ?? v;
      if (Array.isArray(v)) return v.map(map);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x)]));
      return v;
    };
    return map(value) as T;
  }

  private refOf(path: string): string | undefined {
    if (!path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path)) return undefined;
    const inAssets = relative(this.assetsDir, path);
    if (!inAssets.startsWith('..') && inAssets.split(sep).length === 2) {
      const [set, name] = inAssets.split(sep);
      if (this.samplePath(set, name)) return `sample:${set}/${name}`;
    }
    const inUploads = relative(this.uploads.dir, path);
    const m = /^([a-f0-9]{32})\.([a-z]+)$/.exec(inUploads);
    if (m && Object.values(UPLOAD_FORMATS).some((f) => f.ext === m[2])) return `upload:${m[1]}`;
    return undefined;
  }
}

/** Keep the list item's message but name the field itself (the schema's name), as the contract says. */
function rethrowAs(field: string) {
  return (err: unknown): never => {
    if (err instanceof HttpError) throw new HttpError(err.statusCode, err.message, { ...err.extra, field });
    throw err;
  };
}
