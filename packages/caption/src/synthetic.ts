/**
 * A synthetic captioning dataset: two shapes per scene, each with a size, colour and kind, placed side by
 * side or one above the other, drawn with @napi-rs/canvas. Captions come from a small grammar, two
 * equivalent phrasings per scene ("a small red circle left of a large blue square" /
 * "a large blue square right of a small red circle"), so BLEU has two references as in real datasets.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import { encodeImage } from '@convlab/core';
import type { RgbImage } from '@convlab/core';
import { rng } from './params.js';

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export const COLOURS = { red: '#d62728', green: '#2ca02c', blue: '#1f77b4', yellow: '#e6c619' } as const;
export const SIZES = ['small', 'large'] as const;

export interface SceneObject {
  shape: (typeof SHAPES)[number];
  colour: keyof typeof COLOURS;
  size: (typeof SIZES)[number];
  x: number;
  y: number;
}

export interface Scene {
  image: RgbImage;
  objects: [SceneObject, SceneObject];
  layout: 'horizontal' | 'vertical';
  captions: string[];
}

function describe(o: SceneObject): string {
  return `${o.size} ${o.colour} ${o.shape}`;
}

export function sceneCaptions(a: SceneObject, b: SceneObject, layout: 'horizontal' | 'vertical'): string[] {
  // a is the left (or upper) object.
  return layout === 'horizontal'
    ? [`a ${describe(a)} left of a ${describe(b)}`, `a ${describe(b)} right of a ${describe(a)}`]
    : [`a ${describe(a)} above a ${describe(b)}`, `a ${describe(b)} below a ${describe(a)}`];
}

function drawShape(ctx: ReturnType<ReturnType<typeof createCanvas>['getContext']>, o: SceneObject, size: number): void {
  const r = (o.size === 'small' ? 0.09 : 0.17) * size;
  ctx.fillStyle = COLOURS[o.colour];
  ctx.beginPath();
  if (o.shape === 'circle') ctx.arc(o.x, o.y, r, 0, Math.PI * 2);
  else if (o.shape === 'square') ctx.rect(o.x - r * 0.9, o.y - r * 0.9, r * 1.8, r * 1.8);
  else {
    ctx.moveTo(o.x, o.y - r);
    ctx.lineTo(o.x + r, o.y + r * 0.8);
    ctx.lineTo(o.x - r, o.y + r * 0.8);
    ctx.closePath();
  }
  ctx.fill();
}

export function renderScene(objects: [SceneObject, SceneObject], size: number): RgbImage {
  const canvas = createCanvas(size, size);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#f0f0f0';
  ctx.fillRect(0, 0, size, size);
  for (const o of objects) drawShape(ctx, o, size);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const data = new Uint8Array(size * size * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width: size, height: size, data };
}

/** `count` random scenes, reproducible from `seed`. */
export function generateScenes(count: number, options: { seed?: number; size?: number } = {}): Scene[] {
  const size = options.size ?? 64;
  const r = rng(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const colours = Object.keys(COLOURS) as (keyof typeof COLOURS)[];
  const scenes: Scene[] = [];
  for (let i = 0; i < count; i++) {
    const layout = r() < 0.5 ? 'horizontal' : 'vertical';
    const jitter = () => (r() - 0.5) * 0.12 * size;
    const near = 0.27 * size;
    const far = 0.73 * size;
    const mid = 0.5 * size;
    const make = (x: number, y: number): SceneObject => ({ shape: pick(SHAPES), colour: pick(colours), size: pick(SIZES), x: x + jitter(), y: y + jitter() });
    const a = layout === 'horizontal' ? make(near, mid) : make(mid, near);
    const b = layout === 'horizontal' ? make(far, mid) : make(mid, far);
    scenes.push({ image: renderScene([a, b], size), objects: [a, b], layout, captions: sceneCaptions(a, b, layout) });
  }
  return scenes;
}

export interface SyntheticDatasetOptions {
  count: number;
  seed?: number;
  size?: number;
  /** Image files as PNG (default, lossless) or JPEG (exercises the decoder path real photos take). */
  format?: 'png' | 'jpg';
  /** Stop once aborted: nothing is left in `out` (a partial dataset is not a result). */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Write `count` scenes as a Karpathy-style dataset: <out>/images/scene_NNNNN.png and
 * <out>/dataset_synthetic.json (80% train, 10% val, 10% test). Everything is written into a temporary
 * folder beside the images and moved into place at the end, so `out` holds the old dataset or the whole
 * new one, never a half-written one. Returns the JSON's path, or undefined if aborted.
 */
export async function writeSyntheticDataset(out: string, options: SyntheticDatasetOptions): Promise<string | undefined> {
  const { count } = options;
  const format = options.format ?? 'png';
  const tmp = join(out, `.synth-${process.pid}-${Date.now()}.partial`);
  const jsonPath = join(out, 'dataset_synthetic.json');
  await mkdir(join(tmp, 'images'), { recursive: true });
  try {
    const scenes = generateScenes(count, { seed: options.seed ?? 1, size: options.size ?? 64 });
    const images = [];
    for (let i = 0; i < scenes.length; i++) {
      if (options.signal?.aborted) {
        await rm(tmp, { recursive: true, force: true });
        return undefined;
      }
      const filename = `scene_${String(i).padStart(5, '0')}.${format}`;
      await writeFile(join(tmp, 'images', filename), await encodeImage(scenes[i].image, format === 'png' ? 'png' : 'jpeg', 90));
      const split = i < count * 0.8 ? 'train' : i < count * 0.9 ? 'val' : 'test';
      images.push({ filename, split, sentences: scenes[i].captions.map((raw) => ({ raw, tokens: raw.split(' ') })) });
      options.onProgress?.(i + 1, count);
    }
    await writeFile(join(tmp, 'dataset_synthetic.json'), JSON.stringify({ dataset: 'synthetic-shapes', images }, null, 2) + '\n');
    // Swap in: the old images folder (if any) is moved aside first and deleted once the new one is in.
    const old = `${tmp}.old`;
    if (existsSync(join(out, 'images'))) await rename(join(out, 'images'), old);
    await rename(join(tmp, 'images'), join(out, 'images'));
    await rename(join(tmp, 'dataset_synthetic.json'), jsonPath);
    await rm(old, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
    return jsonPath;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
