/**
 * convlab-style batch: a folder of images or a video's frames, stylized with the same options into
 * --out/frame-000001.png... (and --out/stylized.mp4 for a video): each frame optimized towards --style, or in
 * fast mode (--net NET_DIR|NAME) through a trained feed-forward network. Flags and --help come from
 * @convlab/style's BatchStylizeOptions schema plus --queue below; the library (packages/style/src/batch.ts)
 * does the work. With --queue (or CONVLAB_REDIS_URL) the groups of frames run on convlab-worker machines: one
 * progress bar, Ctrl-C cancels the run everywhere, the same command resumes it.
 */
import { Command, CommanderError } from 'commander';
import { BatchFailures, ConvlabError, addOptions, createProgress, parseOptions, z, type Progress } from '@convlab/core';
import { BatchStylizeOptions, parseBatchOptions, type BatchResult } from '@convlab/style/batch';

const CliBatchOptions = z.object({
  queue: z.string().regex(/^rediss?:\/\//, 'must be a Redis URL: redis://host:port').optional().meta({ description: 'Redis URL (redis://host:port): stylize on convlab-worker machines (default: CONVLAB_REDIS_URL, else here)', placeholder: 'URL' }),
  quiet: z.boolean().default(false).describe('no progress bar'),
  verbose: z.boolean().default(false).describe('stack traces on errors'),
});

const say = (line: string): void => void process.stderr.write(line + '\n');

export function batchProgram(): Command {
  const cmd = new Command('convlab-style batch')
    .description('stylize a folder of images, or the frames of a video (ffmpeg), optimized towards a painting or through a fast network, one job per frame or group of frames, reassembled in order')
    .usage('--content DIR|VIDEO (--style painting.jpg | --net NET_DIR|NAME) --out DIR [--temporal] [--frames-per-job N] [--queue redis://host:port] [options]')
    .addHelpText(
      'after',
      '\nWrites DIR/frame-000001.png... in the order of the sorted images (or the video\'s frames), DIR/run.json (each frame\'s source, starting image, iterations, loss, ms),\nand for a video DIR/stylized.mp4 at its frame rate (frames extracted into DIR/source). An unreadable image is skipped and reported (exit code 3).\n--style: each frame optimized (Gatys); --temporal starts each frame from the previous frame\'s result; the frames of one job run in order (default: all frames in one job).\n--net: fast mode, each frame through a trained network (train-fast) at its own size (or --size); only --size, --backend and the batch flags apply;\n--temporal then averages each output with the previous ones, o_k = (1-b) y_k + b o_(k-1), b = --temporal-blend.',
    )
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  return addOptions(addOptions(cmd, BatchStylizeOptions), CliBatchOptions);
}

function report(result: BatchResult, failures: BatchFailures, total: number): void {
  for (const f of result.failed) failures.add(f.file, f.reason);
  say(`${result.aborted ? 'interrupted: kept the finished frames' : 'done'}: ${result.frames} frame(s) in ${result.out} (frame-000001.png...), run record ${result.record}${result.video ? `, video ${result.video}` : ''}`);
  if (result.videoNote) say(result.videoNote);
  failures.finish(total);
}

async function onQueue(url: string, options: z.output<typeof BatchStylizeOptions>, signal: AbortSignal): Promise<void> {
  const { createHash } = await import('node:crypto');
  const { resolve } = await import('node:path');
  const { createRedisQueue, followRun } = await import('@convlab/jobs/redis');
  const { existsSync } = await import('node:fs');
  // Paths as every worker sees them (a shared mount): absolute. A bundled network's name stays a name (each worker resolves its own).
  const net = options.net !== undefined && existsSync(options.net) ? resolve(options.net) : options.net;
  const input = { ...options, content: resolve(options.content), out: resolve(options.out), style: options.style?.map((s) => resolve(s)), net };
  const id = `style-batch-${createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16)}`;
  const queue = await createRedisQueue({ url });
  let info;
  try {
    await queue.submit('style.batch', input, { id, label: `batch ${input.content} -> ${input.out}` });
    info = await followRun(queue, id, { label: 'batch', unit: 'frame', signal });
  } finally {
    await queue.close();
  }
  if (signal.aborted) return;
  if (info.status !== 'done') {
    throw new ConvlabError(`batch run ${id} ${info.status}${info.error ? `: ${info.error.message}` : ''}`, { hint: 'run the same command again to resume it (finished groups are kept)' });
  }
  const result = info.result as BatchResult;
  report(result, new BatchFailures('frame'), result.frames + result.failed.length);
}

export async function batchMain(argv: string[], signal: AbortSignal): Promise<void> {
  const cmd = batchProgram();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return;
    throw new ConvlabError(err.message.replace(/^error: /, '').split('\n')[0], { hint: 'run convlab-style batch --help for the flags' });
  }
  const raw = cmd.opts();
  const cli = parseOptions(CliBatchOptions, raw, 'cli');
  const { queue: _queue, quiet: _quiet, verbose: _verbose, ...batchRaw } = raw;
  // Every flag checked (naming it) before a frame is read or a worker is asked.
  const { options } = parseBatchOptions(batchRaw, 'cli');
  // The Redis driver is loaded only when a queue is named (--queue or CONVLAB_REDIS_URL).
  if (cli.queue ?? process.env.CONVLAB_REDIS_URL) {
    const { redisUrlFrom } = await import('@convlab/jobs/redis');
    const url = redisUrlFrom(cli.queue);
    if (url) return onQueue(url, options, signal);
  }
  const { runBatchStylize } = await import('@convlab/style/batch');
  const failures = new BatchFailures('frame');
  let bar: Progress | undefined;
  let total = 0;
  try {
    const result = await runBatchStylize(options, {
      signal,
      onPlan: (plan) => {
        total = plan.frames.length;
        say(`batch: ${plan.frames.length} ${plan.video ? `frames of ${plan.video.path} (${plan.video.fps} fps)` : `images in ${plan.content}`}, ${plan.groups.length} job(s)${options.net ? `, fast network ${options.net}` : ''}${options.temporal ? ', temporal' : ''}`);
        if (!cli.quiet) bar = createProgress({ total: plan.frames.length, label: 'batch', unit: 'frame' });
      },
      onEngine: (() => {
        let said = false;
        return (backend: string) => {
          if (!said) say(`batch: backend ${backend}`);
          said = true;
        };
      })(),
      onProgress: (done) => bar?.update(done),
      onSkip: () => undefined,
    });
    bar?.stop();
    report(result, failures, total);
  } finally {
    bar?.stop();
  }
}
