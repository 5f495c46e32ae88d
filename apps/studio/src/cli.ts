/**
 * `npm start` / convlab-studio: the studio (a local web app over the three pipelines) until Ctrl-C, or with
 * --demo-only the static demo page (demo.ts) written once. Flags only; the server is src/server/.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ConvlabError, runCli } from '@convlab/core/light';

const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'];
export const DEFAULT_PORT = 8765;

interface Flags {
  port: string;
  host: string;
  runs?: string;
  concurrency: string;
  backend?: string;
  demo: boolean;
  demoOnly: boolean;
  quick: boolean;
  only?: string;
  out?: string;
  verbose: boolean;
  queue?: string;
}

function program(): Command {
  return new Command('npm start --')
    .description('convlab studio: a local web app for style transfer, visualization and captioning (runs until Ctrl-C)')
    .addOption(new Option('--port <N>', 'port to listen on (0: any free port)').default(String(DEFAULT_PORT)))
    .addOption(new Option('--host <ADDR>', 'interface to bind; anything but loopback exposes the studio, which has no authentication').default('127.0.0.1'))
    .addOption(new Option('--runs <DIR>', 'runs folder: jobs, their files and uploads (default runs/studio under the repository)'))
    .addOption(new Option('--concurrency <N>', 'heavy jobs at a time').default('1'))
    .addOption(new Option('--backend <NAME>', `compute backend of the job workers: ${BACKENDS.join('|')} (default: CONVLAB_BACKEND, else auto)`))
    .addOption(new Option('--no-demo', 'do not compute the landing page demo at start'))
    .addOption(new Option('--demo-only', 'write the static demo page (out/demo/index.html) and exit, as before the studio'))
    .addOption(new Option('--quick', 'demo page: smaller, faster figures (implies --demo-only)'))
    .addOption(new Option('--only <SECTIONS>', 'demo page: only these sections, models,style,deconvnet,captioning (implies --demo-only)'))
    .addOption(new Option('--out <DIR>', 'demo page: output folder (default out/demo; implies --demo-only)'))
    .addOption(new Option('--queue <URL>', 'Redis URL (redis://host:port): run the jobs on convlab-worker machines (default: CONVLAB_REDIS_URL, else here); --runs then defaults to the workers\' (CONVLAB_RUNS, else ~/.convlab/runs)'))
    .addOption(new Option('--verbose', 'print stack traces with errors'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .allowExcessArguments(false);
}

function intFlag(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConvlabError(`${flag} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`, { hint: `e.g. ${flag} ${flag === '--port' ? DEFAULT_PORT : 1}` });
  }
  return n;
}

/** 127.0.0.0/8, ::1 and localhost stay on this machine; anything else is reachable from others. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

await runCli(async (argv, signal) => {
  const cmd = program();
  let flags: Flags;
  try {
    cmd.parse(argv, { from: 'user' });
    flags = cmd.opts<Flags>();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed the help itself.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return;
      throw new ConvlabError(err.message.replace(/^error: /, ''), { hint: 'see npm start -- --help' });
    }
    throw err;
  }
  const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
  if (flags.backend !== undefined && !BACKENDS.includes(flags.backend)) {
    throw new ConvlabError(`--backend ${JSON.stringify(flags.backend)} is not one of the choices`, { hint: `use one of: ${BACKENDS.join(', ')}` });
  }

  if (flags.demoOnly || flags.quick || flags.only !== undefined || flags.out !== undefined) {
    // The static page of before the studio, unchanged (the fresh-clone check and the README test use it).
    const { runDemo } = await import('./demo.js');
    const result = await runDemo({
      root,
      outDir: resolve(flags.out ?? 'out/demo'),
      quick: flags.quick ?? false,
      only: flags.only?.split(',').map((s) => s.trim()).filter(Boolean),
      backend: flags.backend,
      signal,
    });
    const failed = result.sections.filter((s) => !s.ok);
    process.stdout.write(`demo page: ${result.page}\n`);
    if (failed.length) throw new ConvlabError(`${failed.length} demo section(s) failed: ${failed.map((s) => s.id).join(', ')}`, { hint: 'see the messages above; run with --verbose for details' });
    return;
  }

  const port = intFlag(flags.port, '--port', 0, 65535);
  const concurrency = intFlag(flags.concurrency, '--concurrency', 1, 64);
  if (!isLoopback(flags.host)) {
    process.stderr.write(`warning: --host ${flags.host} makes the studio reachable from other machines; it has no authentication, so anyone who can reach it can run jobs and read their results\n`);
  }
  // The job workers are forked with this process's environment; engine.ts reads CONVLAB_BACKEND.
  if (flags.backend) process.env.CONVLAB_BACKEND = flags.backend;
  const { createStudio } = await import('./server/index.js');
  // The Redis driver is loaded only when a queue is named (--queue or CONVLAB_REDIS_URL).
  let redisUrl: string | undefined;
  let runsDir = flags.runs ? resolve(flags.runs) : undefined;
  if (flags.queue ?? process.env.CONVLAB_REDIS_URL) {
    const { redisUrlFrom, defaultRunsDir, safeUrl } = await import('@convlab/jobs/redis');
    redisUrl = redisUrlFrom(flags.queue);
    // The workers write job files under their --runs (default CONVLAB_RUNS, else ~/.convlab/runs): the same folder here.
    if (redisUrl) {
      runsDir ??= defaultRunsDir();
      process.stderr.write(`studio: jobs go to the Redis queue ${safeUrl(redisUrl)}; start workers with convlab-worker --queue ${safeUrl(redisUrl)} --runs ${runsDir} --kinds @convlab/style/jobs @convlab/visualize/jobs @convlab/caption/jobs\n`);
    }
  }
  const studio = await createStudio({
    root,
    redisUrl,
    runsDir,
    host: flags.host,
    port,
    concurrency,
    demo: flags.demo,
  });
  process.stdout.write(`convlab studio: ${studio.url}/\n`);
  if (studio.demo.length) process.stderr.write(`studio: ${studio.demo.length} demo jobs on the landing page (computed once, then kept in ${studio.runsDir})\n`);
  process.stderr.write('studio: Ctrl-C to stop\n');
  await new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener('abort', () => done(), { once: true })));
  await studio.close();
  process.stderr.write('studio: stopped\n');
});
