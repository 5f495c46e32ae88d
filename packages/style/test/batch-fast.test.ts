/**
 * Batch stylization in fast mode (--net: src/batch.ts, src/batch-kinds.ts, `convlab-style batch --net`): a tiny
 * random transformation network (C = 4, one residual block) saved to a temporary folder, 5 generated frames.
 * - every frame written in order at its own size, frame k equal to fastStylize of source k, per-frame ms in the
 *   record, an unreadable file skipped and reported;
 * - --temporal: the exponential moving average of the outputs, checked value for value;
 * - the style.batch kind run embedded (groups of 2) writes the same bytes as the library call;
 * - the CLI writes the same bytes;
 * - cross-field checks name the flag; a missing network is refused before any frame is read;
 * - with ffmpeg: a 5-frame video in, 5 frames and a 5-frame stylized.mp4 out.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ConvlabError, initEngine, loadImage, type RgbImage } from '@convlab/core';
import { DEFAULT_TEMPORAL_BLEND, FAST_FRAMES_PER_JOB, findFfmpeg, frameName, parseBatchOptions, planBatch, runBatchStylize, type BatchResult } from '../src/batch.js';
import { styleBatchKind } from '../src/batch-kinds.js';
import { createTransformNet } from '../src/johnson.js';
import { fastStylize, saveTransformNet } from '../src/fast-io.js';
import { runKind } from '@convlab/jobs/testing';
import type { JobKind } from '@convlab/jobs/kind';

const CLI = fileURLToPath(new URL('../../../apps/style-transfer/bin/convlab-style.js', import.meta.url));
const engine = await initEngine({ log: false });
const backend = engine.backend as 'cpu';
/** Odd sizes on purpose: the network pads to a multiple of 4 and crops back. */
const W = 90;
const H = 70;
let dir = '';
let frames = '';
let net = '';
/** fastStylize of each source frame, in order: what frame k of a batch must equal. */
const expected: RgbImage[] = [];

interface FrameRecord {
  index: number;
  file: string;
  source: string;
  init: string;
  blendedWith?: { file: string; weight: number };
  iterations: number;
  ms: number;
  seconds: number;
  width: number;
  height: number;
}
interface RunJson {
  tool: string;
  parameters: Record<string, unknown>;
  model: { name: string; weights: string };
  extra: { mode: string; frames: FrameRecord[]; groups: { frames: number[] }[]; failed: { file: string }[]; video?: { fps: number; output: string } };
}
const readRecord = (out: string) => JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunJson;

/** Five frames that differ from one another (a square moving over a gradient), written with sharp. */
async function makeFrames(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (let i = 0; i < 5; i++) {
    const data = Buffer.alloc(W * H * 3);
    for (let p = 0; p < W * H; p++) {
      const x = p % W;
      const y = Math.floor(p / W);
      const inSquare = Math.abs(x - 15 - i * 14) < 9 && Math.abs(y - 35) < 9;
      data[p * 3] = inSquare ? 250 : (x * 2) % 256;
      data[p * 3 + 1] = inSquare ? 30 : (y * 3) % 256;
      data[p * 3 + 2] = inSquare ? 30 : ((x + y) * 2) % 256;
    }
    await sharp(data, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(folder, `shot-${i}.png`));
  }
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-batch-fast-'));
  frames = join(dir, 'frames');
  await makeFrames(frames);
  net = join(dir, 'net');
  const tn = createTransformNet({ channels: 4, residualBlocks: 1 }, { seed: 7 });
  await saveTransformNet(tn, net);
  tn.dispose();
  for (let i = 0; i < 5; i++) expected.push((await fastStylize({ net, content: join(frames, `shot-${i}.png`), out: 'unused.png', backend })).image);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const bytes = (folder: string, i: number) => readFileSync(join(folder, frameName(i)));

test.serial('video mode on 5 generated frames writes 5 frames in order: frame k is fastStylize of source k, at its size', async (t) => {
  const folder = join(dir, 'with-broken');
  await makeFrames(folder);
  await writeFile(join(folder, 'zz-broken.png'), 'not a png');
  const out = join(dir, 'out-plain');
  const r = await runBatchStylize({ content: folder, out, net, backend });
  t.deepEqual(r.files, [1, 2, 3, 4, 5].map(frameName));
  for (let i = 1; i <= 5; i++) t.true(existsSync(join(out, frameName(i))), frameName(i));
  t.false(existsSync(join(out, frameName(6))), 'the unreadable file is not a frame');
  t.is(r.failed.length, 1);
  t.regex(r.failed[0].file, /zz-broken\.png$/);
  // The outputs differ from one another, so matching each to its own source's stylization checks the order.
  for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) t.notDeepEqual(expected[i].data, expected[j].data);
  for (let i = 1; i <= 5; i++) {
    const img = await loadImage(join(out, frameName(i)));
    t.is(img.width, W, `frame ${i} width`);
    t.is(img.height, H, `frame ${i} height`);
    t.deepEqual(img.data, expected[i - 1].data, `frame ${i} is the network's output for shot-${i - 1}.png`);
  }
  const record = readRecord(out);
  t.is(record.tool, 'convlab-style batch');
  t.is(record.extra.mode, 'fast');
  t.is(record.model.name, 'johnson2016-instancenorm');
  t.is(record.model.weights, net);
  t.false('iterations' in record.parameters, 'no optimization options in a fast record');
  t.deepEqual(record.extra.frames.map((f) => f.source.split('/').pop()), ['shot-0.png', 'shot-1.png', 'shot-2.png', 'shot-3.png', 'shot-4.png']);
  t.true(record.extra.frames.every((f) => typeof f.ms === 'number' && f.ms > 0 && f.iterations === 0 && f.init === 'content' && f.blendedWith === undefined), JSON.stringify(record.extra.frames[0]));
  t.deepEqual(record.extra.groups.map((g) => g.frames), [[1, 2, 3, 4, 5]], `up to ${FAST_FRAMES_PER_JOB} frames per job by default in fast mode`);
  t.regex(record.extra.failed[0].file, /zz-broken\.png$/);
});

test.serial('--temporal in fast mode: each output is the moving average (1-b) y_k + b o_(k-1), b from --temporal-blend', async (t) => {
  for (const blend of [undefined, 0.6]) {
    const out = join(dir, `temporal-${blend ?? 'default'}`);
    const r = await runBatchStylize({ content: frames, out, net, backend, temporal: true, ...(blend !== undefined ? { temporalBlend: blend } : {}) });
    t.is(r.frames, 5);
    const b = blend ?? DEFAULT_TEMPORAL_BLEND;
    // The same arithmetic in float32: o_1 = y_1, o_k = (1 - b) y_k + b o_(k-1); written rounded.
    let o = Float32Array.from(expected[0].data);
    for (let k = 1; k <= 5; k++) {
      if (k > 1) {
        const y = expected[k - 1].data;
        const next = new Float32Array(o.length);
        for (let i = 0; i < o.length; i++) next[i] = (1 - b) * y[i] + b * o[i];
        o = next;
      }
      const img = await loadImage(join(out, frameName(k)));
      t.deepEqual(img.data, Uint8Array.from(o, (v) => Math.round(v)), `frame ${k}, b ${b}`);
    }
    t.notDeepEqual((await loadImage(join(out, frameName(3)))).data, expected[2].data, 'frame 3 is blended');
    const record = readRecord(out);
    t.deepEqual(record.extra.frames.map((f) => f.blendedWith), [undefined, ...[1, 2, 3, 4].map((i) => ({ file: frameName(i), weight: b }))]);
    t.is(record.parameters.temporalBlend, b);
    t.is(record.extra.groups.length, 1, 'all frames in one job by default with --temporal');
  }
});

test.serial('the style.batch kind run embedded (groups of 2, the fast input of style.batch-frames) writes the same frames', async (t) => {
  const out = join(dir, 'kind');
  const run = await runKind<BatchResult>(styleBatchKind as unknown as JobKind, { content: frames, out, net, backend, framesPerJob: 2 });
  try {
    t.is(run.result.frames, 5);
    for (let i = 1; i <= 5; i++) t.deepEqual((await loadImage(join(out, frameName(i)))).data, expected[i - 1].data, `frame ${i}`);
    t.deepEqual(readRecord(out).extra.groups.map((g) => g.frames), [[1, 2], [3, 4], [5]]);
    t.is(run.progress.filter((p) => p.total === 5).at(-1)!.done, 5);
  } finally {
    run.cleanup();
  }
});

test.serial('convlab-style batch --net NET --content DIR --out DIR writes the same frames', async (t) => {
  const out = join(dir, 'cli');
  const cli = spawn(process.execPath, [CLI, 'batch', '--net', net, '--content', frames, '--out', out, '--backend', backend, '--quiet'], {
    env: { ...process.env, CONVLAB_REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => cli.once('exit', r));
  t.is(code, 0, stderr);
  t.regex(stderr, /done: 5 frame\(s\)/);
  for (let i = 1; i <= 5; i++) t.deepEqual(bytes(out, i), bytes(join(dir, 'out-plain'), i), `frame ${i}`);
});

test.serial('options: one mode, its options only, each refusal naming the flag; a missing network refused before any frame', async (t) => {
  const cli = (raw: Record<string, unknown>) => t.throws(() => parseBatchOptions({ content: frames, out: 'x', ...raw }, 'cli'), { instanceOf: ConvlabError })!;
  const neither = cli({});
  t.regex(neither.message, /^--style: give a style image, or --net/);
  const both = cli({ net, style: 'a.jpg' });
  t.regex(both.message, /^--style with --net/);
  const iterations = cli({ net, iterations: '50' });
  t.regex(iterations.message, /^--iterations is an optimization option: it does nothing with --net/);
  const backbone = cli({ net, backbone: 'vgg19' });
  t.regex(backbone.message, /^--backbone /);
  t.regex(cli({ net, temporalBlend: '0.5' }).message, /^--temporal-blend needs --temporal/);
  t.regex(cli({ style: 'a.jpg', temporal: true, temporalBlend: '0.5' }).message, /^--temporal-blend is for fast mode \(--net\)/);
  t.regex(cli({ net, temporal: true, temporalBlend: '1.5' }).message, /--temporal-blend/);
  // Code and HTTP name the field.
  t.throws(() => parseBatchOptions({ content: frames, out: 'x', net, iterations: 50 }, 'http'), { message: /^iterations is an optimization option/ });
  // Allowed: size, backend, temporal with a blend; the stylize defaults as parsed (a queued job's options) too.
  const { options, frame } = parseBatchOptions({ content: frames, out: 'x', net, size: '64', temporal: true, temporalBlend: '0.5' }, 'cli');
  t.like(options, { net, size: 64, temporal: true, temporalBlend: 0.5 });
  t.is(frame, undefined);
  t.notThrows(() => parseBatchOptions(options as unknown as Record<string, unknown>, 'code'));

  const missing = parseBatchOptions({ content: frames, out: join(dir, 'no-net'), net: join(dir, 'nowhere') }).options;
  const err = await t.throwsAsync(planBatch(missing), { instanceOf: ConvlabError });
  t.regex(err!.message, /^--net .*nowhere: no such network folder or bundled network/);
  t.false(existsSync(join(dir, 'no-net')), 'nothing written');
  const notNet = parseBatchOptions({ content: frames, out: join(dir, 'no-net'), net: frames }).options;
  t.regex((await t.throwsAsync(planBatch(notNet), { instanceOf: ConvlabError }))!.message, /not a fast-style network: no manifest\.json/);
});

test.serial('--size in fast mode: every frame resized so its longer side is --size', async (t) => {
  const out = join(dir, 'sized');
  await runBatchStylize({ content: frames, out, net, backend, size: 45 });
  for (let i = 1; i <= 5; i++) {
    const img = await loadImage(join(out, frameName(i)));
    t.deepEqual([img.width, img.height], [45, 35]);
  }
});

const ff = findFfmpeg();
if (ff) {
  test.serial('a video (ffmpeg) in fast mode: 5 frames extracted, through the network, reassembled into a 5-frame stylized.mp4', async (t) => {
    const video = join(dir, 'clip.mp4');
    const made = spawnSync(ff.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x80:rate=5', '-frames:v', '5', '-pix_fmt', 'yuv420p', video]);
    t.is(made.status, 0, made.stderr?.toString());
    const out = join(dir, 'video-out');
    const r = await runBatchStylize({ content: video, out, net, backend });
    t.is(r.frames, 5);
    t.is(r.video, 'stylized.mp4');
    const sources = readdirSync(join(out, 'source')).filter((f) => f.endsWith('.png')).sort();
    t.deepEqual(sources, [1, 2, 3, 4, 5].map(frameName));
    for (let i = 1; i <= 5; i++) {
      const want = (await fastStylize({ net, content: join(out, 'source', frameName(i)), out: 'unused.png', backend })).image;
      const got = await loadImage(join(out, frameName(i)));
      t.deepEqual([got.width, got.height], [96, 80]);
      t.deepEqual(got.data, want.data, `frame ${i} is the network's output for source frame ${i}`);
    }
    const probe = spawnSync(ff.ffprobe ?? 'ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,avg_frame_rate,width,height', '-of', 'json', join(out, 'stylized.mp4')]);
    const stream = (JSON.parse(probe.stdout.toString()) as { streams: { nb_read_frames: string; avg_frame_rate: string; width: number; height: number }[] }).streams[0];
    t.like(stream, { nb_read_frames: '5', avg_frame_rate: '5/1', width: 96, height: 80 });
    t.like(readRecord(out).extra, { mode: 'fast', video: { fps: 5, output: 'stylized.mp4' } });
  });
} else {
  test('a video (ffmpeg) in fast mode', (t) => {
    t.log('SKIPPED: ffmpeg is not on PATH (findFfmpeg() found none; Debian: apt-get install ffmpeg, or set CONVLAB_FFMPEG); the video path was not tested');
    t.pass();
  });
}
