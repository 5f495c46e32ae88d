/**
 * Batch stylization (src/batch.ts, src/batch-kinds.ts, `convlab-style batch`): 5 generated frames at 80 px on
 * the random multi-scale network, 2 iterations each.
 * - every frame written in the order of the sources, an unreadable one skipped and reported;
 * - --temporal starts frame k from frame k-1's result (hook and run record), and that changes frames 2..5;
 * - the style.batch kind run embedded (runShardsInline) writes the same bytes as the library call;
 * - with ffmpeg: a 5-frame video extracted, stylized and reassembled into a 5-frame video;
 * - without ffmpeg (an empty PATH, or CONVLAB_FFMPEG pointing nowhere): one clear line, no crash.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, initEngine, loadImage, saveImage } from '@convlab/core';
import { findFfmpeg, frameName, parseBatchOptions, planBatch, runBatchStylize, type BatchResult } from '../src/batch.js';
import { styleBatchKind } from '../src/batch-kinds.js';
import { runKind } from '@convlab/jobs/testing';
import type { JobKind } from '@convlab/jobs/kind';

const STYLE = fileURLToPath(new URL('../../../assets/style/great_wave.jpg', import.meta.url));
const CLI = fileURLToPath(new URL('../../../apps/style-transfer/bin/convlab-style.js', import.meta.url));
const engine = await initEngine({ log: false });
let dir = '';
let frames = '';

const base = () => ({ style: [STYLE], backbone: 'random_multiscale' as const, size: 80, iterations: 2, seed: 5, backend: engine.backend as 'cpu' });

/** Five 96x80 frames that differ from one another (a moving square on a gradient), and one broken file sorting last. */
async function makeFrames(folder: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const data = new Uint8Array(96 * 80 * 3);
    for (let p = 0; p < 96 * 80; p++) {
      const x = p % 96;
      const y = Math.floor(p / 96);
      const inSquare = Math.abs(x - 20 - i * 12) < 10 && Math.abs(y - 40) < 10;
      data[p * 3] = inSquare ? 250 : (x * 2) % 256;
      data[p * 3 + 1] = inSquare ? 30 : (y * 3) % 256;
      data[p * 3 + 2] = inSquare ? 30 : ((x + y) * 2) % 256;
    }
    await saveImage({ width: 96, height: 80, data }, join(folder, `shot-${i}.png`));
  }
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convlab-batch-'));
  frames = join(dir, 'frames');
  await makeFrames(frames);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const bytes = (folder: string, i: number) => readFileSync(join(folder, frameName(i)));

test.serial('a folder: 5 frames written in the order of the sources, an unreadable one skipped and reported', async (t) => {
  const folder = join(dir, 'with-broken');
  await makeFrames(folder);
  await writeFile(join(folder, 'zz-broken.png'), 'not a png');
  const out = join(dir, 'out-plain');
  const r = await runBatchStylize({ ...base(), content: folder, out, framesPerJob: 2 });
  t.deepEqual(r.files, [1, 2, 3, 4, 5].map(frameName));
  t.is(r.failed.length, 1);
  t.regex(r.failed[0].file, /zz-broken\.png$/);
  t.false(existsSync(join(out, frameName(6))));
  const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { extra: { frames: { index: number; source: string; init: string; iterations: number }[]; groups: { frames: number[] }[]; failed: unknown[] } };
  t.deepEqual(record.extra.frames.map((f) => f.source.split('/').pop()), ['shot-0.png', 'shot-1.png', 'shot-2.png', 'shot-3.png', 'shot-4.png']);
  t.deepEqual(record.extra.frames.map((f) => f.init), ['content', 'content', 'content', 'content', 'content']);
  t.true(record.extra.frames.every((f) => f.iterations === 2));
  t.deepEqual(record.extra.groups.map((g) => g.frames), [[1, 2], [3, 4], [5]]);
  // In order: the red square moves right frame by frame; find it in each output.
  const centres: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const img = await loadImage(join(out, frameName(i)));
    t.is(img.width, 80);
    let sx = 0;
    let n = 0;
    for (let p = 0; p < img.width * img.height; p++) {
      if (img.data[p * 3] > 180 && img.data[p * 3 + 1] < 110 && img.data[p * 3 + 2] < 110) {
        sx += p % img.width;
        n += 1;
      }
    }
    t.true(n > 10, `frame ${i}: the square is visible`);
    centres.push(sx / n);
  }
  for (let i = 1; i < 5; i++) t.true(centres[i] > centres[i - 1] + 4, `square moves right: ${centres.map((c) => c.toFixed(1)).join(', ')}`);
});

test.serial('--temporal: frame k starts from frame k-1 (hook and run record), frame 1 as without it, later frames differ', async (t) => {
  const plain = join(dir, 'plain');
  const temporal = join(dir, 'temporal');
  await runBatchStylize({ ...base(), content: frames, out: plain });
  const starts: string[] = [];
  const r = await runBatchStylize({ ...base(), content: frames, out: temporal, temporal: true }, { onFrameStart: (f, init) => starts.push(`${f.index}<-${init}`) });
  t.is(r.frames, 5);
  t.deepEqual(starts, ['1<-content', '2<-frame-000001.png', '3<-frame-000002.png', '4<-frame-000003.png', '5<-frame-000004.png']);
  const record = JSON.parse(readFileSync(join(temporal, 'run.json'), 'utf8')) as { extra: { frames: { init: string }[]; groups: unknown[] } };
  t.deepEqual(record.extra.frames.map((f) => f.init), ['content', ...[1, 2, 3, 4].map(frameName)]);
  t.is(record.extra.groups.length, 1, 'all frames in one job by default with --temporal');
  t.deepEqual(bytes(temporal, 1), bytes(plain, 1));
  for (let i = 2; i <= 5; i++) t.notDeepEqual(bytes(temporal, i), bytes(plain, i), `frame ${i} starts from the previous result`);

  // Groups of 2: the first frame of each group starts from its content.
  const grouped = join(dir, 'temporal-2');
  const starts2: string[] = [];
  await runBatchStylize({ ...base(), content: frames, out: grouped, temporal: true, framesPerJob: 2 }, { onFrameStart: (f, init) => starts2.push(`${f.index}<-${init}`) });
  t.deepEqual(starts2, ['1<-content', '2<-frame-000001.png', '3<-content', '4<-frame-000003.png', '5<-content']);
  t.deepEqual(bytes(grouped, 2), bytes(temporal, 2));
});

test.serial('the style.batch kind run embedded (runShardsInline) writes the same frames as the library call', async (t) => {
  const out = join(dir, 'kind');
  const run = await runKind<BatchResult>(styleBatchKind as unknown as JobKind, { ...base(), content: frames, out, temporal: true, framesPerJob: 2 });
  try {
    t.is(run.result.frames, 5);
    for (let i = 1; i <= 5; i++) t.deepEqual(bytes(out, i), bytes(join(dir, 'temporal-2'), i), `frame ${i}`);
    const last = run.progress.filter((p) => p.total === 5).at(-1)!;
    t.is(last.done, 5);
    t.deepEqual(run.backends.slice(0, 1), [engine.backend]);
  } finally {
    run.cleanup();
  }
});

test.serial('options: --init image and a bad flag are refused before any work, naming the flag', (t) => {
  const e1 = t.throws(() => parseBatchOptions({ content: frames, style: STYLE, out: 'x', init: 'image' }, 'cli'), { instanceOf: ConvlabError });
  t.regex(e1!.message, /--init image/);
  t.regex(e1!.hint ?? '', /--temporal/);
  const e2 = t.throws(() => parseBatchOptions({ content: frames, style: STYLE, out: 'x', framesPerJob: '0' }, 'cli'), { instanceOf: ConvlabError });
  t.regex(e2!.message, /--frames-per-job/);
});

const ff = findFfmpeg();
(ff ? test.serial : test.serial.skip)('a video (ffmpeg): 5 frames extracted, stylized, reassembled into a 5-frame video', async (t) => {
  const video = join(dir, 'clip.mp4');
  const made = spawnSync(ff!.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x80:rate=5', '-frames:v', '5', '-pix_fmt', 'yuv420p', video]);
  t.is(made.status, 0, made.stderr?.toString());
  const out = join(dir, 'video-out');
  const r = await runBatchStylize({ ...base(), content: video, out, temporal: true });
  t.is(r.frames, 5);
  t.is(r.video, 'stylized.mp4');
  t.deepEqual(readdirSync(join(out, 'source')).filter((f) => f.endsWith('.png')).sort(), [1, 2, 3, 4, 5].map(frameName));
  const probe = spawnSync(ff!.ffprobe ?? 'ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,avg_frame_rate', '-of', 'json', join(out, 'stylized.mp4')]);
  const stream = (JSON.parse(probe.stdout.toString()) as { streams: { nb_read_frames: string; avg_frame_rate: string }[] }).streams[0];
  t.is(stream.nb_read_frames, '5');
  t.is(stream.avg_frame_rate, '5/1');
  const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { extra: { video: { fps: number; output: string } } };
  t.like(record.extra.video, { fps: 5, output: 'stylized.mp4' });
});
if (!ff) {
  test('ffmpeg video path', (t) => {
    t.log('skipped: ffmpeg is not installed here (Debian: apt-get install ffmpeg)');
    t.pass();
  });
}

test.serial('a video without ffmpeg: one clear line from the library and the CLI, nothing extracted', async (t) => {
  const video = join(dir, 'any-video.mp4');
  await writeFile(video, 'not really a video');
  const o = parseBatchOptions({ ...base(), content: video, out: join(dir, 'no-ff') }).options;
  const err = await t.throwsAsync(planBatch(o, { PATH: '' }), { instanceOf: ConvlabError });
  t.regex(err!.message, /is a video and ffmpeg is not on PATH/);
  t.regex(err!.hint ?? '', /apt-get install ffmpeg/);
  t.is(findFfmpeg({ PATH: '', CONVLAB_FFMPEG: '/nonexistent/ffmpeg' }), undefined);

  const cli = spawn(process.execPath, [CLI, 'batch', '--content', video, '--style', STYLE, '--out', join(dir, 'no-ff-cli'), '--backbone', 'random_multiscale', '--size', '80'], {
    env: { ...process.env, CONVLAB_FFMPEG: '/nonexistent/ffmpeg', CONVLAB_REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => cli.once('exit', r));
  t.is(code, 1);
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 1, stderr);
  t.regex(lines[0], /^error: --content .*any-video\.mp4 is a video and CONVLAB_FFMPEG=\/nonexistent\/ffmpeg is not an executable.*apt-get install ffmpeg/);
  t.false(existsSync(join(dir, 'no-ff-cli', 'source')));
});
