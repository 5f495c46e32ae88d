/**
 * convlab-worker: a worker of the Redis driver. Run one on every machine that should take part (it needs the
 * project installed and the images at the same path as the submitter sees them):
 *
 *   convlab-worker --queue redis://10.0.0.5:6379          (or CONVLAB_REDIS_URL=redis://...)
 *
 * It starts the compute engine, prints its host, pid, backend and the kinds it runs, then takes jobs until
 * Ctrl-C / SIGTERM (it finishes the shard it is on; a second signal quits at once and the shard is retried
 * elsewhere once its lock expires).
 */
import { hostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { ConvlabError, runCli } from '@convlab/core';
import { createRedisWorker } from './redis/worker.js';
import { redisUrlFrom, safeUrl } from './redis/connection.js';
import { defaultKindsModules, defaultRunsDir } from './redis/defaults.js';

const say = (line: string): void => void process.stderr.write(line + '\n');

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const program = new Command('convlab-worker')
    .description('Take convlab jobs (top-9 scan shards, caption feature shards, batch stylization) from a Redis queue')
    .addOption(new Option('--queue <url>', 'Redis URL, e.g. redis://10.0.0.5:6379 (default: CONVLAB_REDIS_URL)'))
    .addOption(new Option('--kinds <modules...>', 'job kinds modules to load (package specifiers or files; default: the scale-out kinds)'))
    .addOption(new Option('--runs <dir>', 'folder for job files (default: CONVLAB_RUNS, else ~/.convlab/runs)'))
    .addOption(new Option('--backend <name>', 'compute backend: auto, tensorflow, native, wasm, cpu (default: CONVLAB_BACKEND, else auto)'))
    .addOption(new Option('--lock-ms <ms>', "job lock: a dead worker's shard goes to another worker after this long").default('60000'))
    .addOption(new Option('--prefix <prefix>', 'Redis key prefix (the same on submitters and workers)').default('convlab'))
    .addOption(new Option('--queue-name <name>', 'BullMQ queue name').default('convlab'))
    .addOption(new Option('--verbose', 'print stack traces with errors'))
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return;
      throw new ConvlabError(err.message.replace(/^error: /, ''), { hint: 'see convlab-worker --help' });
    }
    throw err;
  }
  const o = program.opts<{ queue?: string; kinds?: string[]; runs?: string; backend?: string; lockMs: string; prefix: string; queueName: string }>();
  const url = redisUrlFrom(o.queue);
  if (!url) throw new ConvlabError('no queue given', { hint: 'convlab-worker --queue redis://host:6379 (or set CONVLAB_REDIS_URL)' });
  const lockMs = Number(o.lockMs);
  if (!Number.isInteger(lockMs) || lockMs < 1000) throw new ConvlabError(`--lock-ms ${o.lockMs} is out of range`, { hint: 'use an integer >= 1000 (milliseconds)' });
  const { initEngine } = await import('@convlab/core');
  const engine = await initEngine({ backend: o.backend, log: false });
  say(engine.summary);
  const modules = o.kinds ?? defaultKindsModules();
  const worker = await createRedisWorker({
    url,
    modules,
    runsDir: o.runs ?? defaultRunsDir(),
    lockMs,
    backend: engine.backend,
    prefix: o.prefix,
    queueName: o.queueName,
    log: (line) => say(`[${hostname()}:${process.pid}] ${line}`),
  });
  say(`convlab-worker on ${worker.info.host} (pid ${worker.info.pid}), backend ${engine.backend}, queue ${safeUrl(url)} (${o.queueName}), kinds: ${worker.info.kinds.join(', ')}`);
  await new Promise<void>((resolveStop) => {
    if (signal.aborted) resolveStop();
    signal.addEventListener('abort', () => resolveStop(), { once: true });
  });
  say('stopping: finishing the current job (send the signal again to quit now)');
  await worker.close();
  say(`stopped after ${worker.completed} job(s)`);
  process.exitCode = 0;
}

if (process.argv[1] && /convlab-worker(\.js)?$|worker-cli\.ts$/.test(process.argv[1])) await runCli(main);
