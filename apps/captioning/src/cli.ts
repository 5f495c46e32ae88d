/**
 * convlab-caption: extract | train | eval | predict | export | synth. One subcommand per library call of
 * @convlab/caption; each subcommand's flags and help are generated from that call's option schema
 * (`addOptions`), and a flag of another command is refused. The CLI hands the flag text to the call (which
 * parses it with `parseOptions(schema, flags, 'cli')`, so messages name the flags) and prints: captions and
 * scores on stdout, notes and progress on stderr; a batch with skipped images exits with code 3.
 */
import { Command, CommanderError } from 'commander';
import { addOptions, BatchFailures, ConvlabError, createProgress, fieldsOf, runCli, type OptionsSchema, type z } from '@convlab/core';
import {
  DEFAULT_MODEL,
  EvalOptions,
  ExportOptions,
  ExtractOptions,
  formatScores,
  PredictOptions,
  runEval,
  runExport,
  runExtract,
  runPredict,
  runSynth,
  runTrain,
  SHIPPED_MODELS,
  SynthOptions,
  TrainOptions,
  type RunHooks,
} from '@convlab/caption';

const PROGRAM = 'convlab-caption';

const AFTER_HELP = `
Datasets (extract, train, eval): a Flickr8k/30k folder (--data DIR: token and split files), a Karpathy
dataset_*.json (--karpathy FILE --images DIR), or a COCO captions_*.json (--coco FILE --images DIR [--split]).
Shipped models (--model of predict and eval): ${Object.entries(SHIPPED_MODELS)
  .map(([name, m]) => `${name}${name === DEFAULT_MODEL ? ' (default)' : ''}: ${m.description}`)
  .join('; ')}.
Exit codes: 0 done, 1 refused (the error line names the flag or path), 3 some images skipped (listed),
130 / 143 stopped by Ctrl-C / SIGTERM after saving finished results.
Run \`${PROGRAM} <command> --help\` for a command's flags.`;

/**
 * A command's flags as commander collected them: text, only the flags given. The library call coerces and
 * checks them against its schema (`hooks.source: 'cli'` makes its messages name the flags), fills the
 * defaults, and applies rules that need to know what was given ("--seed only with --model random-conv").
 */
function flagText<S extends OptionsSchema>(cmd: Command, _schema: S, extra: Record<string, unknown> = {}): z.input<S> {
  const { verbose: _verbose, ...flags } = cmd.opts();
  return { ...flags, ...extra } as z.input<S>;
}

function hooks(signal: AbortSignal, failures?: BatchFailures): RunHooks {
  return {
    signal,
    source: 'cli',
    log: (line) => process.stderr.write(line + '\n'),
    progress: (label, total, unit) => createProgress({ label, total, unit }),
    onFailure: failures ? (item, err) => failures.add(item, err) : undefined,
  };
}

/** The flags of a command: its schema's, and --verbose (read by runCli for stack traces). */
function command(program: Command, name: string, schema: OptionsSchema, summary: string): Command {
  const cmd = program.command(name).description(summary);
  addOptions(cmd, schema);
  cmd.option('--verbose', 'print the stack trace with an error');
  return cmd;
}

/** Every input of these commands is a flag: a stray word is refused rather than ignored. */
function noArguments(cmd: Command): void {
  if (cmd.args.length) throw new ConvlabError(`unexpected argument "${cmd.args[0]}" for ${cmd.name()}`, { hint: `every input of this command is a flag: run ${PROGRAM} ${cmd.name()} --help` });
}

/**
 * extract with --queue: the options are checked here, the shards run on the workers (one progress bar for the
 * run; Ctrl-C cancels it everywhere) and a worker assembles the cache, byte-identical to a single-process one.
 * The run id is a hash of the options, so the same command resumes a cancelled or failed run.
 */
async function extractOnQueue(url: string, flags: z.input<typeof ExtractOptions>, shardSizeText: string | undefined, signal: AbortSignal, failures: BatchFailures): Promise<void> {
  const { createHash } = await import('node:crypto');
  const { resolve } = await import('node:path');
  const { checkNumber, parseOptions } = await import('@convlab/core');
  const { createRedisQueue, followRun } = await import('@convlab/jobs/redis');
  const o = parseOptions(ExtractOptions, flags, 'cli');
  const shardSize = shardSizeText === undefined ? 512 : Number(shardSizeText);
  checkNumber(shardSize, '--shard-size', { integer: true, min: 1, max: 1_000_000, example: 512 });
  // Paths as every worker sees them (a shared mount): absolute.
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  const input = { ...o, features: abs(o.features)!, data: abs(o.data), karpathy: abs(o.karpathy), coco: abs(o.coco), images: abs(o.images), shardSize };
  const id = `extract-${createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16)}`;
  const queue = await createRedisQueue({ url });
  let info;
  try {
    await queue.submit('caption.extract', input, { id, label: `extract into ${input.features}` });
    info = await followRun(queue, id, { label: 'extract', signal });
  } finally {
    await queue.close();
  }
  if (info.status !== 'done') {
    throw new ConvlabError(`extract run ${id} ${info.status}${info.error ? `: ${info.error.message}` : ''}`, { hint: 'run the same command again to resume it (finished shards are kept)' });
  }
  const r = info.result as { features: string; images: number; shards: number; failed: { image: string; reason: string }[] };
  for (const f of r.failed) failures.add(f.image, f.reason);
  process.stderr.write(`${r.images} images in ${r.features} (${r.shards} shards on the workers)\n`);
  failures.finish(r.images);
}

function buildProgram(signal: AbortSignal): Command {
  const program = new Command(PROGRAM)
    .description('Image captioning with a ConvNet encoder and an LSTM decoder (Show and Tell; Show, Attend and Tell): caption photos with a shipped model, or extract features, train, evaluate and export your own.')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: () => undefined })
    .allowExcessArguments(true)
    .option('--verbose', 'print the stack trace with an error')
    .addHelpText('after', AFTER_HELP);

  const predict = command(program, 'predict', PredictOptions.omit({ images: true }), 'caption images with a shipped or a trained model; an unreadable image is reported and skipped (exit code 3)')
    .argument('[images...]', fieldsOf(PredictOptions).find((f) => f.name === 'images')!.description)
    .option('--json', 'print the run record (every caption with its log-probability) as JSON on stdout instead of one caption per line');
  predict.action(async (images: string[]) => {
    const { json, ...options } = flagText(predict, PredictOptions, { images }) as z.input<typeof PredictOptions> & { json?: boolean };
    const failures = new BatchFailures('image');
    const run = await runPredict(options, {
      ...hooks(signal, failures),
      // Each caption is printed as soon as it is done: an interrupted run keeps them.
      onResult: (r) => {
        if (!json) console.log(`${r.path}\t${r.caption}`);
      },
    });
    if (json) console.log(JSON.stringify(run.record, null, 2));
    failures.finish(run.images.length);
  });

  const extract = command(program, 'extract', ExtractOptions, "encode a dataset's images once into a feature cache (resumable); unreadable images are reported, recorded in the cache and left out of training (exit code 3)")
    .option('--queue <url>', 'Redis URL (redis://host:port): extract on convlab-worker machines into the shared --features folder (default: CONVLAB_REDIS_URL, else here)')
    .option('--shard-size <n>', 'with --queue: images per shard (rounded up to a multiple of --batch; default 512)');
  extract.action(async () => {
    noArguments(extract);
    const failures = new BatchFailures('image');
    const { queue, shardSize, ...flags } = flagText(extract, ExtractOptions) as z.input<typeof ExtractOptions> & { queue?: string; shardSize?: string };
    // The Redis driver is loaded only when a queue is named (--queue or CONVLAB_REDIS_URL).
    if (queue ?? process.env.CONVLAB_REDIS_URL) {
      const { redisUrlFrom } = await import('@convlab/jobs/redis');
      const url = redisUrlFrom(queue);
      if (url) {
        await extractOnQueue(url, flags, shardSize, signal, failures);
        return;
      }
    }
    const run = await runExtract(flags, hooks(signal, failures));
    failures.finish(run.total);
  });

  const train = command(
    program,
    'train',
    TrainOptions,
    'train a decoder on cached features (self-critical fine-tuning on CIDEr-D: --objective scst --init <run>/best); Ctrl-C / SIGTERM keep the finished epochs in <out>/last and <out>/best, and the same command resumes',
  );
  train.action(async () => {
    noArguments(train);
    await runTrain(flagText(train, TrainOptions), hooks(signal));
  });

  const evaluate = command(program, 'eval', EvalOptions, "score a model on a dataset split (coco-caption's BLEU-1..4, ROUGE-L, CIDEr-D); interrupted, it scores the images captioned");
  evaluate.action(async () => {
    noArguments(evaluate);
    const run = await runEval(flagText(evaluate, EvalOptions), hooks(signal));
    if (!run.captions.length) return;
    console.log(`${run.dataset} ${run.split}, ${run.decoder}, beam ${run.options.beam}, length penalty ${run.lengthPenalty}, ${run.captions.length} images${run.complete ? '' : ` of ${run.total} (interrupted)`}`);
    console.log(formatScores(run.scores));
  });

  const exporter = command(program, 'export', ExportOptions, 'copy a trained model as float16 (several --from folders: one ensemble, per-step probabilities averaged)');
  exporter.action(async () => {
    noArguments(exporter);
    await runExport(flagText(exporter, ExportOptions), hooks(signal));
  });

  const synth = command(program, 'synth', SynthOptions, 'write a synthetic shapes dataset ("a small red circle left of a large blue square"): Karpathy JSON + images');
  synth.action(async () => {
    noArguments(synth);
    await runSynth(flagText(synth, SynthOptions), hooks(signal));
  });
  return program;
}

/** Commander's parse errors as the one-line ConvlabErrors every convlab CLI prints. */
function parseError(err: CommanderError, program: Command, argv: string[]): ConvlabError {
  const text = err.message.replace(/^error: /, '').split('\n')[0];
  const name = argv[0];
  if (err.code === 'commander.unknownOption') {
    const flag = (/unknown option '([^']+)'/.exec(text)?.[1] ?? text).split('=')[0];
    const owners = program.commands.filter((c) => c.options.some((o) => o.long === flag)).map((c) => c.name());
    const sub = program.commands.find((c) => c.name() === name);
    if (!sub) return new ConvlabError(`${flag} needs a command before it`, { hint: `commands: ${program.commands.map((c) => c.name()).join(', ')}` });
    return new ConvlabError(`${flag} is not an option of ${name}${owners.length ? ` (it belongs to ${owners.join(', ')})` : ''}`, { hint: `run ${PROGRAM} ${name} --help` });
  }
  if (err.code === 'commander.unknownCommand') {
    return new ConvlabError(`unknown command "${/unknown command '([^']+)'/.exec(text)?.[1] ?? name}"`, { hint: `commands: ${program.commands.map((c) => c.name()).join(', ')}` });
  }
  return new ConvlabError(text, { hint: `run ${PROGRAM}${program.commands.some((c) => c.name() === name) ? ` ${name}` : ''} --help` });
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  const program = buildProgram(signal);
  if (!argv.length) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return; // --help, help <command>
    throw parseError(err, program, argv);
  }
}

if (process.argv[1] && /(cli\.(ts|js)|convlab-caption(\.js)?)$/.test(process.argv[1])) await runCli(main);
