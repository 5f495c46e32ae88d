/**
 * Batch stylization: a folder of images, or the frames of a video (extracted with ffmpeg), each stylized
 * with the same options and written in order as <out>/frame-000001.png, frame-000002.png, ... (and, for a
 * video, reassembled into <out>/stylized.mp4 at the video's frame rate).
 *
 * Two modes, one option schema:
 * - optimization (--style): each frame is a Gatys run (./stylize.ts) with the stylize options;
 * - fast (--net NET_DIR|NAME): each frame goes through a trained transformation network (Johnson et al. 2016,
 *   ./johnson.ts) in one forward pass, at the frame's own size (or --size). The network is loaded once per
 *   group (once for the whole batch in this process).
 *
 * The frames are cut into groups of --frames-per-job; a group is one job (one shard of the `style.batch` kind
 * in ./batch-kinds.ts), so groups run on any workers of the Redis driver or one after another here.
 * With --temporal each frame is linked to the previous one, which keeps a video from flickering and makes the
 * frames of one group run in order; the first frame of each group starts afresh. In optimization mode each
 * frame starts from the previous frame's result (init 'image'); the first from its own content (--init).
 * A network is deterministic per frame, so in fast mode --temporal smooths the outputs over time instead, an
 * exponential moving average with b = --temporal-blend (default 0.3):
 *
 *   o_1 = y_1,   o_k = (1 - b) y_k + b o_{k-1}        (y_k: the network's output for frame k)
 *
 * which damps frame-to-frame flicker of static regions (by (1-b)/(1+b) in variance for independent flicker)
 * at the price of a fading trail (b, b^2, ...) behind what moves. A frame that cannot be read is reported
 * and skipped (the next temporal frame starts from the last good result).
 *
 * This module loads no tfjs at import (the kinds module imports it): the heavy parts are imported inside the
 * functions that run.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { ConvlabError, kebab, parseOptions, z, type OptionSource } from '@convlab/core/light';
import type { RgbImage } from '@convlab/core';
import { MAX_SIZE, StylizeOptions, resolveStylizeOptions, type ParsedStylizeOptions, type ResolvedStylizeOptions } from './options.js';
import type { FeatureNet } from './features.js';
import type { TransformNet } from './johnson.js';
import { resolveFastNet } from './fast-bundled.js';

/** Fast mode with --temporal: weight of the previous output in the moving average when --temporal-blend is not given. */
export const DEFAULT_TEMPORAL_BLEND = 0.3;
/**
 * Frames per job in fast mode without --temporal when --frames-per-job is not given: a frame is one forward
 * pass, so a job of one frame would spend about as long loading the network as using it.
 */
export const FAST_FRAMES_PER_JOB = 24;
/** The stylize --size default (optimization mode; fast mode keeps each frame's size unless --size). */
const DEFAULT_SIZE = StylizeOptions.shape.size.parse(undefined);

/** The batch's options: the stylize options of every frame, and where the frames come from and go. */
export const BatchStylizeOptions = StylizeOptions.omit({ content: true, style: true, initImage: true, saveEvery: true }).extend({
  content: z.string().min(1, 'give a folder of images or a video').meta({ description: 'folder of images, or a video (its frames are extracted with ffmpeg)', placeholder: 'DIR|VIDEO' }),
  style: z.array(z.string().min(1)).min(1, 'give a style image').optional().meta({ description: 'style image(s): each frame optimized (Gatys); or --net instead', placeholder: 'A[,B...]' }),
  net: z.string().min(1).optional().meta({ description: 'fast mode: a trained network folder (convlab-style train-fast) or a bundled name; each frame in one forward pass instead of --style', placeholder: 'NET_DIR|NAME' }),
  size: z.number().int().min(16).max(MAX_SIZE).optional().meta({ description: `longer side of each output frame in px (default ${DEFAULT_SIZE}; with --net the frame's own size)`, placeholder: 'PX' }),
  out: z.string().min(1).meta({ short: 'o', description: 'output folder: frame-000001.png..., run.json, and stylized.mp4 for a video', placeholder: 'DIR' }),
  temporal: z.boolean().default(false).describe("link each frame to the previous one (the frames of one job run in order): start from the previous result; with --net, a moving average of the outputs"),
  temporalBlend: z.number().min(0).max(0.99).optional().meta({ description: `with --net --temporal: weight b of the previous output, o_k = (1-b) y_k + b o_(k-1) (default ${DEFAULT_TEMPORAL_BLEND}; 0 = off)`, placeholder: 'B' }),
  framesPerJob: z.number().int().min(1).max(1_000_000).optional().meta({ description: `frames per job (default 1, with --net ${FAST_FRAMES_PER_JOB}; with --temporal all frames in one job)`, placeholder: 'N' }),
  fps: z.number().gt(0).max(240).optional().meta({ description: "video: frames per second to extract and to write (default the video's rate)", placeholder: 'FPS' }),
  maxFrames: z.number().int().min(1).max(10_000_000).optional().meta({ description: 'only the first N images or frames', placeholder: 'N' }),
});
export type BatchStylizeOptions = z.input<typeof BatchStylizeOptions>;
export type ParsedBatchOptions = z.output<typeof BatchStylizeOptions>;

/** Fields of BatchStylizeOptions that are not stylize options. */
const BATCH_FIELDS = ['content', 'out', 'net', 'temporal', 'temporalBlend', 'framesPerJob', 'fps', 'maxFrames'] as const;
/** Fields fast mode (--net) uses; any other stylize option set to something but its default is refused with --net. */
const FAST_FIELDS: readonly string[] = [...BATCH_FIELDS, 'size', 'backend'];

export const VIDEO_NAME = 'stylized.mp4';
export const RECORD_NAME = 'run.json';
/** Where a video's frames are extracted to, under --out. */
export const SOURCE_DIR = 'source';
const EXTRACTED = '.extracted.json';

/** frame-000001.png for frame 1. */
export const frameName = (index: number): string => `frame-${String(index).padStart(6, '0')}.png`;

/** The per-frame stylize options of a batch in optimization mode (its content and init are set per frame). */
export function frameOptions(o: ParsedBatchOptions): Omit<ParsedStylizeOptions, 'content'> {
  const out: Record<string, unknown> = { ...o, size: o.size ?? DEFAULT_SIZE };
  for (const k of BATCH_FIELDS) delete out[k];
  return out as Omit<ParsedStylizeOptions, 'content'>;
}

/** What a group needs in fast mode: the network (a folder, absolute, or a bundled name), size, blend, backend. */
export interface FastFrameOptions {
  net: string;
  /** Longer side of each output frame; undefined keeps the frame's size. */
  size?: number;
  /** Weight of the previous output with --temporal (0 = none). */
  temporalBlend: number;
  backend?: ParsedBatchOptions['backend'];
}

/** A group's options: optimization (stylize options) or fast (a network). */
export type GroupFrameOptions = Omit<ParsedStylizeOptions, 'content'> | FastFrameOptions;

export const isFastFrame = (f: GroupFrameOptions): f is FastFrameOptions => typeof (f as { net?: unknown }).net === 'string';

/** The per-frame options of a batch in fast mode. A folder becomes absolute (workers share the mount); a bundled name stays a name. */
export function fastFrameOptions(o: ParsedBatchOptions): FastFrameOptions {
  if (!o.net) throw new ConvlabError('fastFrameOptions: the batch has no --net');
  return { net: existsSync(o.net) ? resolve(o.net) : o.net, size: o.size, temporalBlend: o.temporal ? (o.temporalBlend ?? DEFAULT_TEMPORAL_BLEND) : 0, backend: o.backend };
}

/** The per-frame options of either mode. */
export const groupFrameOptions = (o: ParsedBatchOptions): GroupFrameOptions => (o.net ? fastFrameOptions(o) : frameOptions(o));

/** Fast mode (--net) or optimization mode (--style). */
export const batchMode = (o: ParsedBatchOptions): 'fast' | 'optimization' => (o.net ? 'fast' : 'optimization');

/**
 * Validate a batch's options (CLI text, HTTP or code): one mode, --style or --net, and the options that go
 * with it; in optimization mode the stylize options are checked as one frame would (`frame`).
 */
export function parseBatchOptions(raw: Record<string, unknown>, source: OptionSource = 'code'): { options: ParsedBatchOptions; frame?: ResolvedStylizeOptions } {
  const options = parseOptions(BatchStylizeOptions, raw, source);
  const name = (f: string) => (source === 'cli' ? `--${kebab(f)}` : f);
  if (options.init === 'image') {
    throw new ConvlabError(`${name('init')} image: a batch sets each frame's starting image itself`, { hint: `use ${name('temporal')} to start each frame from the previous result, or another ${name('init')}` });
  }
  if (options.net !== undefined) {
    if (options.style !== undefined) {
      throw new ConvlabError(`${name('style')} with ${name('net')}: a fast network carries its own style`, { hint: `drop ${name('style')} for fast mode, or drop ${name('net')} to optimize each frame towards the style image` });
    }
    const shape = BatchStylizeOptions.shape as Record<string, z.ZodType>;
    for (const field of Object.keys(shape)) {
      if (FAST_FIELDS.includes(field)) continue;
      const value = (options as Record<string, unknown>)[field];
      const fallback = shape[field].safeParse(undefined);
      if (value === undefined || (fallback.success && JSON.stringify(fallback.data) === JSON.stringify(value))) continue;
      throw new ConvlabError(`${name(field)} is an optimization option: it does nothing with ${name('net')} (fast mode runs the network once per frame)`, {
        hint: `drop ${name(field)}, or drop ${name('net')} and give ${name('style')} to optimize each frame`,
      });
    }
    if (options.temporalBlend !== undefined && !options.temporal) {
      throw new ConvlabError(`${name('temporalBlend')} needs ${name('temporal')}`, { hint: `add ${name('temporal')} to average each output with the previous ones` });
    }
    return { options };
  }
  if (options.style === undefined) {
    throw new ConvlabError(`${name('style')}: give a style image, or ${name('net')} NET_DIR|NAME for fast mode`, { hint: `${name('style')} optimizes each frame (Gatys); ${name('net')} runs a trained network over each frame` });
  }
  if (options.temporalBlend !== undefined) {
    throw new ConvlabError(`${name('temporalBlend')} is for fast mode (${name('net')})`, { hint: `with ${name('style')}, ${name('temporal')} starts each frame from the previous result; drop ${name('temporalBlend')}` });
  }
  const frame = resolveStylizeOptions({ ...frameOptions(options), content: options.content } as ParsedStylizeOptions, source);
  return { options, frame };
}

// ---------------------------------------------------------------------------------------------- ffmpeg

export interface Ffmpeg {
  ffmpeg: string;
  /** ffprobe next to it or on PATH, for the video's frame rate. */
  ffprobe?: string;
}

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** ffmpeg from CONVLAB_FFMPEG (a path), else from PATH; undefined when there is none. */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): Ffmpeg | undefined {
  const onPath = (name: string) => (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name)).find(executable);
  let ffmpeg: string | undefined;
  if (env.CONVLAB_FFMPEG !== undefined) ffmpeg = env.CONVLAB_FFMPEG !== '' && executable(env.CONVLAB_FFMPEG) ? env.CONVLAB_FFMPEG : undefined;
  else ffmpeg = onPath('ffmpeg');
  if (!ffmpeg) return undefined;
  const sibling = join(dirname(ffmpeg), 'ffprobe');
  return { ffmpeg, ffprobe: executable(sibling) ? sibling : onPath('ffprobe') };
}

/** The one-line error for a video without ffmpeg. */
export function ffmpegMissing(video: string, flag = '--content', env: NodeJS.ProcessEnv = process.env): ConvlabError {
  const where = env.CONVLAB_FFMPEG !== undefined ? `CONVLAB_FFMPEG=${env.CONVLAB_FFMPEG} is not an executable` : 'ffmpeg is not on PATH';
  return new ConvlabError(`${flag} ${video} is a video and ${where}, so its frames cannot be extracted`, {
    hint: 'install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg) or set CONVLAB_FFMPEG to its path; or extract the frames into a folder yourself and pass the folder',
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** The video's frame rate (avg_frame_rate, else r_frame_rate), or undefined when it cannot be read. */
export async function videoFps(tools: Ffmpeg, video: string): Promise<number | undefined> {
  if (!tools.ffprobe) return undefined;
  const r = await run(tools.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=avg_frame_rate,r_frame_rate', '-of', 'json', video]);
  if (r.code !== 0) return undefined;
  try {
    const s = (JSON.parse(r.stdout) as { streams?: { avg_frame_rate?: string; r_frame_rate?: string }[] }).streams?.[0];
    for (const v of [s?.avg_frame_rate, s?.r_frame_rate]) {
      const [a, b] = (v ?? '').split('/').map(Number);
      const fps = b ? a / b : a;
      if (Number.isFinite(fps) && fps > 0) return fps;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Extract a video's frames into <out>/source/frame-000001.png... (once: a second call with the same video and
 * options reuses them). Returns the frame files in order and the frame rate.
 */
export async function extractFrames(tools: Ffmpeg, video: string, out: string, options: { fps?: number; maxFrames?: number } = {}): Promise<{ dir: string; files: string[]; fps: number }> {
  const dir = join(out, SOURCE_DIR);
  const st = statSync(video);
  const key = { video, bytes: st.size, mtimeMs: st.mtimeMs, fps: options.fps ?? null, maxFrames: options.maxFrames ?? null };
  const { listImageFiles } = await import('@convlab/core');
  try {
    const seen = JSON.parse(await readFile(join(dir, EXTRACTED), 'utf8')) as typeof key & { rate: number };
    if (JSON.stringify({ ...seen, rate: undefined }) === JSON.stringify({ ...key, rate: undefined })) return { dir, files: await listImageFiles(dir), fps: seen.rate };
  } catch {
    // not extracted yet
  }
  const rate = options.fps ?? (await videoFps(tools, video)) ?? 25;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', video, ...(options.fps ? ['-vf', `fps=${options.fps}`] : []), '-fps_mode', 'passthrough'];
  if (options.maxFrames) args.push('-frames:v', String(options.maxFrames));
  args.push('-start_number', '1', join(tmp, 'frame-%06d.png'));
  const r = await run(tools.ffmpeg, args);
  if (r.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new ConvlabError(`ffmpeg could not read the video ${video}: ${r.stderr.trim().split('\n').at(-1) ?? `exit code ${r.code}`}`, { hint: 'check that the file is a video ffmpeg can decode (ffmpeg -i FILE)' });
  }
  await writeFile(join(tmp, EXTRACTED), JSON.stringify({ ...key, rate }));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return { dir, files: await listImageFiles(dir), fps: rate };
}

/**
 * Frames (in order) into an H.264 video at `fps` (sides padded to even numbers, yuv420p so players take it).
 * Written to a temporary name and renamed.
 */
export async function assembleVideo(tools: Ffmpeg, frames: string[], fps: number, path: string): Promise<void> {
  const list = `${path}.frames-${process.pid}.txt`;
  const tmp = `${path}.tmp-${process.pid}.mp4`;
  const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  // The concat demuxer keeps the order (and the timing across skipped frames) exactly; the last file is listed twice, as it asks.
  const lines = ['ffconcat version 1.0', ...frames.flatMap((f) => [`file ${quote(f)}`, `duration ${(1 / fps).toFixed(6)}`])];
  if (frames.length) lines.push(`file ${quote(frames[frames.length - 1])}`);
  await writeFile(list, lines.join('\n') + '\n');
  try {
    const r = await run(tools.ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'concat', '-safe', '0', '-i', list,
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-r', String(fps), '-frames:v', String(frames.length), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-f', 'mp4', tmp,
    ]);
    if (r.code !== 0) throw new ConvlabError(`ffmpeg could not write the video ${path}: ${r.stderr.trim().split('\n').at(-1) ?? `exit code ${r.code}`}`, { hint: 'the frames are written; assemble them yourself with ffmpeg -i frame-%06d.png' });
    await rename(tmp, path);
  } finally {
    await rm(list, { force: true });
    await rm(tmp, { force: true });
  }
}

// ------------------------------------------------------------------------------------------ plan / run

export interface BatchFrame {
  /** Output number (1-based, in the sorted order of the sources). */
  index: number;
  /** Absolute path of the source image. */
  path: string;
}

export interface BatchGroup {
  index: number;
  frames: BatchFrame[];
}

export interface BatchPlan {
  options: ParsedBatchOptions;
  content: string;
  out: string;
  video?: { path: string; fps: number; source: string };
  frames: BatchFrame[];
  groups: BatchGroup[];
}

/**
 * Check the inputs, list the images (or extract the video's frames into <out>/source) and cut them into groups.
 * Throws ConvlabError naming the input before any stylization.
 */
export async function planBatch(options: ParsedBatchOptions, env: NodeJS.ProcessEnv = process.env): Promise<BatchPlan> {
  const content = resolve(options.content);
  const out = resolve(options.out);
  if (!existsSync(content)) throw new ConvlabError(`content ${options.content} does not exist`, { hint: 'give a folder of images or a video file' });
  for (const s of options.style ?? []) if (!existsSync(s)) throw new ConvlabError(`style image ${s} does not exist`, { hint: 'check the path' });
  if (options.net !== undefined) {
    // The network is checked (folder or bundled name, manifest readable) before any frame is extracted.
    const { readFastNetManifest } = await import('./fast-io.js');
    await readFastNetManifest(resolveFastNet(options.net, '--net', env));
  }
  const rel = relative(content, out);
  if (rel === '' || (statSync(content).isDirectory() && !rel.startsWith('..') && !rel.startsWith('/'))) {
    throw new ConvlabError(`out ${options.out} is inside the content folder ${options.content}`, { hint: 'write the frames to another folder (inputs are never written over)' });
  }
  const tools = statSync(content).isDirectory() ? undefined : findFfmpeg(env);
  if (!statSync(content).isDirectory() && !tools) throw ffmpegMissing(options.content, '--content', env);
  await mkdir(out, { recursive: true });
  let files: string[];
  let video: BatchPlan['video'];
  if (!tools) {
    const { listImageFiles } = await import('@convlab/core');
    files = await listImageFiles(content);
    if (files.length === 0) throw new ConvlabError(`content folder ${options.content} has no images`, { hint: 'put .png/.jpg/.webp frames in it, or pass a video' });
  } else {
    const x = await extractFrames(tools, content, out, { fps: options.fps, maxFrames: options.maxFrames });
    files = x.files;
    video = { path: content, fps: x.fps, source: x.dir };
    if (files.length === 0) throw new ConvlabError(`ffmpeg found no frames in ${options.content}`, { hint: 'check the video (ffmpeg -i FILE)' });
  }
  if (options.maxFrames) files = files.slice(0, options.maxFrames);
  const frames = files.map((path, i) => ({ index: i + 1, path }));
  const size = options.framesPerJob ?? (options.temporal ? frames.length : options.net !== undefined ? FAST_FRAMES_PER_JOB : 1);
  const groups: BatchGroup[] = [];
  for (let i = 0; i < frames.length; i += size) groups.push({ index: groups.length, frames: frames.slice(i, i + size) });
  return { options, content, out, video, frames, groups };
}

export interface FrameResult {
  index: number;
  /** Output file name under --out. */
  file: string;
  source: string;
  /**
   * What the frame started from: the init option, or the previous frame's output file (--temporal). In fast
   * mode always 'content' (the network sees the frame itself).
   */
  init: string;
  /** Fast mode with --temporal: the previous output this one was averaged with, and its weight b. */
  blendedWith?: { file: string; weight: number };
  /** Optimization iterations (0 in fast mode). */
  iterations: number;
  /** The whole frame: read, stylize, write. */
  seconds: number;
  /** Milliseconds of the stylization alone: the network call in fast mode (pad, forward, crop, read back), the optimization otherwise. */
  ms: number;
  /** Final total loss. */
  loss?: number;
  width: number;
  height: number;
  backend: string;
}

export interface GroupResult {
  group: number;
  frames: FrameResult[];
  failed: { file: string; reason: string }[];
  /** True when the signal stopped the group (the frames listed are finished). */
  aborted: boolean;
}

export interface GroupHooks {
  signal?: AbortSignal;
  /** A feature network loaded once for many groups (optimization mode). */
  net?: FeatureNet;
  /** A transformation network loaded once for many groups (fast mode); without it each group loads its own. */
  transformNet?: TransformNet;
  /** Frames of the group done (finished or skipped), and a line about the current one. */
  onProgress?: (done: number, total: number, message: string) => void;
  onSkip?: (file: string, reason: string) => void;
  onEngine?: (backend: string) => void;
  /** Called with each frame's options just before it is stylized (tests check the starting images). */
  onFrameStart?: (frame: BatchFrame, init: string) => void;
}

/** Stylize one group's frames in order into `out` (frame-NNNNNN.png each, written atomically), in either mode. */
export async function stylizeGroup(frame: GroupFrameOptions, group: BatchGroup, out: string, temporal: boolean, hooks: GroupHooks = {}): Promise<GroupResult> {
  if (isFastFrame(frame)) return fastGroup(frame, group, out, temporal, hooks);
  const [{ loadImage, saveImage }, { stylize }, { readStyleRun }] = await Promise.all([import('@convlab/core'), import('./stylize.js'), import('./record.js')]);
  const result: GroupResult = { group: group.index, frames: [], failed: [], aborted: false };
  let prev: { image: RgbImage; file: string } | undefined;
  const total = group.frames.length;
  for (const [k, f] of group.frames.entries()) {
    if (hooks.signal?.aborted) {
      result.aborted = true;
      break;
    }
    const t0 = performance.now();
    let content: RgbImage;
    try {
      content = await loadImage(f.path);
    } catch (err) {
      skip(result, hooks, f, err, k, total);
      continue;
    }
    const start = temporal && prev ? { init: 'image' as const, initImage: prev.image } : {};
    const init = start.initImage ? prev!.file : frame.init;
    hooks.onFrameStart?.(f, init);
    const r = await stylize(
      { ...frame, content, ...start },
      (p) => hooks.onProgress?.(k, total, `frame ${f.index} (${k + 1}/${total}), iteration ${p.done}/${p.total}`),
      hooks.signal,
      { net: hooks.net, onEngine: (e) => hooks.onEngine?.(e.backend) },
    );
    if (r.aborted) {
      result.aborted = true;
      break;
    }
    const file = frameName(f.index);
    await saveImage(r.image, join(out, file));
    const run = readStyleRun(r.record);
    result.frames.push({
      index: f.index,
      file,
      source: f.path,
      init,
      iterations: run.iterationsDone,
      seconds: (performance.now() - t0) / 1000,
      ms: run.seconds * 1000,
      loss: run.losses.at(-1)?.total,
      width: r.image.width,
      height: r.image.height,
      backend: run.backend.name,
    });
    prev = { image: r.image, file };
    hooks.onProgress?.(k + 1, total, `frame ${f.index} done`);
  }
  return result;
}

function skip(result: GroupResult, hooks: GroupHooks, f: BatchFrame, err: unknown, k: number, total: number): void {
  const reason = (err as Error).message.split('\n')[0];
  result.failed.push({ file: f.path, reason });
  hooks.onSkip?.(f.path, reason);
  hooks.onProgress?.(k + 1, total, `skipped ${f.path}`);
}

/**
 * Fast mode: the group's frames through one transformation network, in order; with --temporal (blend b > 0)
 * each output averaged with the previous one as in the header (reset when the frame size changes).
 */
async function fastGroup(frame: FastFrameOptions, group: BatchGroup, out: string, temporal: boolean, hooks: GroupHooks): Promise<GroupResult> {
  const [{ initEngine, loadImage, resizeImage, saveImage }, { loadTransformNet }, { stylizeWithNet }] = await Promise.all([import('@convlab/core'), import('./fast-io.js'), import('./johnson.js')]);
  const result: GroupResult = { group: group.index, frames: [], failed: [], aborted: false };
  const engine = await initEngine({ backend: frame.backend, log: false });
  hooks.onEngine?.(engine.backend);
  const own = hooks.transformNet ? undefined : (await loadTransformNet(resolveFastNet(frame.net))).net;
  const net = (hooks.transformNet ?? own)!;
  const blend = temporal ? frame.temporalBlend : 0;
  let prev: { values: Float32Array; width: number; height: number; file: string } | undefined;
  const total = group.frames.length;
  try {
    for (const [k, f] of group.frames.entries()) {
      if (hooks.signal?.aborted) {
        result.aborted = true;
        break;
      }
      const t0 = performance.now();
      let image: RgbImage;
      try {
        image = await loadImage(f.path);
        if (frame.size !== undefined) image = await resizeImage(image, { maxSide: frame.size });
      } catch (err) {
        skip(result, hooks, f, err, k, total);
        continue;
      }
      hooks.onFrameStart?.(f, 'content');
      hooks.onProgress?.(k, total, `frame ${f.index} (${k + 1}/${total})`);
      const tn = performance.now();
      const y = await stylizeWithNet(net, image);
      const ms = performance.now() - tn;
      const values = Float32Array.from(y.data);
      let blendedWith: FrameResult['blendedWith'];
      if (blend > 0 && prev && prev.width === y.width && prev.height === y.height) {
        for (let i = 0; i < values.length; i++) values[i] = (1 - blend) * values[i] + blend * prev.values[i];
        blendedWith = { file: prev.file, weight: blend };
      }
      const data = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) data[i] = Math.round(values[i]);
      const file = frameName(f.index);
      await saveImage({ width: y.width, height: y.height, data }, join(out, file));
      result.frames.push({
        index: f.index,
        file,
        source: f.path,
        init: 'content',
        ...(blendedWith ? { blendedWith } : {}),
        iterations: 0,
        seconds: (performance.now() - t0) / 1000,
        ms,
        width: y.width,
        height: y.height,
        backend: engine.backend,
      });
      if (blend > 0) prev = { values, width: y.width, height: y.height, file };
      hooks.onProgress?.(k + 1, total, `frame ${f.index} done (${ms.toFixed(0)} ms)`);
    }
  } finally {
    own?.dispose();
  }
  return result;
}

export interface BatchResult {
  out: string;
  /** Frames written, in order (file names under out). */
  files: string[];
  frames: number;
  failed: { file: string; reason: string }[];
  /** The video (under out), when the content was a video and ffmpeg was found. */
  video?: string;
  /** Why no video was written for a video input. */
  videoNote?: string;
  record: string;
  aborted: boolean;
  seconds: number;
}

/**
 * Put the groups' results together: the batch's run record (<out>/run.json: the options, and each frame's
 * source, starting image, iterations, time and final loss) and, for a video, the stylized video.
 */
export async function finishBatch(
  options: ParsedBatchOptions,
  video: BatchPlan['video'],
  groups: GroupResult[],
  extra: { seconds: number; env?: NodeJS.ProcessEnv } = { seconds: 0 },
): Promise<BatchResult> {
  const { createRunRecord } = await import('@convlab/core');
  const out = resolve(options.out);
  const sorted = groups.slice().sort((a, b) => a.group - b.group);
  const frames = sorted.flatMap((g) => g.frames).sort((a, b) => a.index - b.index);
  const failed = sorted.flatMap((g) => g.failed);
  const aborted = sorted.some((g) => g.aborted);
  const result: BatchResult = { out, files: frames.map((f) => f.file), frames: frames.length, failed, record: RECORD_NAME, aborted, seconds: extra.seconds };
  if (video && !aborted && frames.length > 0) {
    const tools = findFfmpeg(extra.env);
    if (tools) {
      await assembleVideo(tools, frames.map((f) => join(out, f.file)), video.fps, join(out, VIDEO_NAME));
      result.video = VIDEO_NAME;
    } else {
      result.videoNote = `no ${VIDEO_NAME}: ffmpeg is not on PATH here (the frames are written; assemble them with ffmpeg -framerate ${video.fps} -i frame-%06d.png ${VIDEO_NAME})`;
    }
  }
  const fast = options.net !== undefined;
  let parameters: Record<string, unknown>;
  if (fast) {
    // Only what fast mode uses (the optimization options' defaults would say nothing true).
    const used = Object.fromEntries(FAST_FIELDS.map((k) => [k, (options as Record<string, unknown>)[k]]).filter(([, v]) => v !== undefined));
    parameters = { ...used, content: resolve(options.content), out, temporalBlend: options.temporal ? (options.temporalBlend ?? DEFAULT_TEMPORAL_BLEND) : undefined };
  } else {
    parameters = { ...options, size: options.size ?? DEFAULT_SIZE, content: resolve(options.content), out, style: (options.style ?? []).map((s) => resolve(s)) };
  }
  const record = createRunRecord({
    tool: 'convlab-style batch',
    parameters,
    seed: fast ? undefined : options.seed,
    backend: frames[0]?.backend,
    model: fast ? { name: 'johnson2016-instancenorm', weights: netFolder(options.net!, extra.env) } : { name: options.backbone, weights: options.weights },
  });
  record.set('mode', batchMode(options));
  record.set('frames', frames);
  record.set('groups', sorted.map((g) => ({ group: g.group, frames: g.frames.map((f) => f.index), failed: g.failed.length })));
  record.set('failed', failed);
  record.set('aborted', aborted);
  if (video) record.set('video', { source: video.path, fps: video.fps, output: result.video ?? null, note: result.videoNote });
  record.set('seconds', extra.seconds);
  record.finish();
  await record.save(join(out, RECORD_NAME));
  return result;
}

export interface BatchHooks {
  signal?: AbortSignal;
  onPlan?: (plan: BatchPlan) => void;
  /** Frames done (finished or skipped) of all. */
  onProgress?: (done: number, total: number, message: string) => void;
  onSkip?: (file: string, reason: string) => void;
  onEngine?: (backend: string) => void;
  onFrameStart?: GroupHooks['onFrameStart'];
}

/** The network folder a --net value names (for the record), or the value itself when it no longer resolves. */
function netFolder(net: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return resolve(resolveFastNet(net, '--net', env));
  } catch {
    return net;
  }
}

/** The whole batch in this process: plan, the groups one after another (one network for all), finish. */
export async function runBatchStylize(raw: BatchStylizeOptions | Record<string, unknown>, hooks: BatchHooks = {}, source: OptionSource = 'code'): Promise<BatchResult> {
  const t0 = performance.now();
  const { options } = parseBatchOptions(raw as Record<string, unknown>, source);
  const plan = await planBatch(options);
  hooks.onPlan?.(plan);
  const frame = groupFrameOptions(options);
  const { initEngine } = await import('@convlab/core');
  await initEngine({ backend: options.backend, log: false });
  let loaded: { net?: FeatureNet; transformNet?: TransformNet };
  if (isFastFrame(frame)) {
    const { loadTransformNet } = await import('./fast-io.js');
    loaded = { transformNet: (await loadTransformNet(resolveFastNet(frame.net))).net };
  } else {
    const { loadFeatureNet } = await import('./stylize.js');
    loaded = { net: await loadFeatureNet(options.backbone, options.weights, options.seed) };
  }
  const results: GroupResult[] = [];
  try {
    let before = 0;
    for (const g of plan.groups) {
      if (hooks.signal?.aborted) break;
      const r = await stylizeGroup(frame, g, plan.out, options.temporal, {
        signal: hooks.signal,
        ...loaded,
        onProgress: (done, _total, message) => hooks.onProgress?.(before + done, plan.frames.length, message),
        onSkip: hooks.onSkip,
        onEngine: hooks.onEngine,
        onFrameStart: hooks.onFrameStart,
      });
      results.push(r);
      before += g.frames.length;
      if (r.aborted) break;
    }
  } finally {
    loaded.net?.dispose();
    loaded.transformNet?.dispose();
  }
  if (hooks.signal?.aborted && !results.some((r) => r.aborted)) results.push({ group: plan.groups.length, frames: [], failed: [], aborted: true });
  return finishBatch(options, plan.video, results, { seconds: (performance.now() - t0) / 1000 });
}
