/**
 * convlab-style: the command line over @convlab/style's `stylize`. Flags and --help come from the
 * StylizeOptions schema (plus the CLI's own output flags below); this file prepares the output paths,
 * shows progress and writes the files. The entry point (cli.ts) runs `main` under @convlab/core's runCli.
 */
import { Command, CommanderError } from 'commander';
import { ConvlabError, addOptions, parseOptions, removeEmptyDirs, saveImage, z } from '@convlab/core';
import {
  StylizeOptions,
  checkInputs,
  createProgressReporter,
  prepareOutputs,
  readStyleRun,
  resolveStylizeOptions,
  stylize,
  totalIterations,
  writeOutputs,
  type StylizeProgress,
} from '@convlab/style';

/** What the command line adds to stylize's options: where to write, and how to talk. */
export const CliOptions = z.object({
  output: z.string().default('out/stylized.png').meta({ short: 'o', placeholder: 'PATH', description: 'result image, .png/.jpg/.webp; also writes PATH.json (run record) and PATH-loss.png' }),
  html: z.string().optional().meta({ placeholder: 'PATH', description: 'also write a one-file HTML page with content, style, result and losses' }),
  quiet: z.boolean().default(false).describe('no progress bar'),
  verbose: z.boolean().default(false).describe('stack traces on errors'),
});

export function program(): Command {
  const cmd = new Command('convlab-style')
    .description('neural style transfer (Gatys et al.) on offline ConvNet trunks')
    .usage('--content photo.jpg --style painting.jpg [options]\n       convlab-style batch --content DIR|VIDEO --style painting.jpg --out DIR [--temporal] (see convlab-style batch --help)')
    .addHelpText('after', '\nEvery flag is checked before any work and every output path is probed before the network loads.\nCtrl-C or SIGTERM stops after the current iteration and saves the image, its run record and loss plot.')
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  return addOptions(addOptions(cmd, StylizeOptions), CliOptions);
}

/** Parse argv: the validated stylize options (every value and cross-field rule checked, naming its flag) and the CLI's own. */
export function parseCliArgs(argv: string[]) {
  const cmd = program();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return { help: true as const };
    throw new ConvlabError(err.message.replace(/^error: /, '').split('\n')[0], { hint: 'run convlab-style --help for the flags' });
  }
  const options = parseOptions(StylizeOptions, cmd.opts(), 'cli');
  const resolved = resolveStylizeOptions(options, 'cli');
  return { help: false as const, options, resolved, ...parseOptions(CliOptions, cmd.opts(), 'cli') };
}

export async function main(argv: string[], signal: AbortSignal): Promise<void> {
  if (argv[0] === 'batch') return (await import('./batch.js')).batchMain(argv.slice(1), signal);
  if (argv[0] === 'train-fast' || argv[0] === 'fast') return (await import('./fast.js')).fastMain(argv, signal);
  const args = parseCliArgs(argv);
  if (args.help) return;
  const { options, resolved, output, html, quiet } = args;
  const prepared = await prepareOutputs(output, html, checkInputs(resolved), { every: resolved.saveEvery ?? 0, total: totalIterations(resolved) });
  const nothing = () => {
    removeEmptyDirs(prepared.created);
    process.stderr.write('interrupted before the first iteration: nothing written\n');
  };
  if (signal.aborted) return nothing();
  const checkpoints: string[] = [];
  let reporter: ReturnType<typeof createProgressReporter> | undefined;
  let result;
  try {
    result = await stylize(options, (p: StylizeProgress) => (reporter ??= createProgressReporter(p.total, quiet)).update(p), signal, {
      onEngine: (engine) => process.stderr.write(engine.summary + '\n'),
      onCheckpoint: async (image, done) => {
        checkpoints.push(prepared.paths.checkpoint(done));
        await saveImage(image, checkpoints.at(-1)!);
      },
    });
  } catch (err) {
    removeEmptyDirs(prepared.created);
    throw err;
  } finally {
    reporter?.stop();
  }
  const r = readStyleRun(result.record);
  if (result.aborted && r.iterationsDone === 0) return nothing();
  await writeOutputs(result, prepared, checkpoints);
  const { image, record, plot } = prepared.paths;
  const summary = `${result.image.width}x${result.image.height}, ${r.iterationsDone} iterations, ${r.seconds.toFixed(1)} s, ${r.secondsPerIteration.toFixed(2)} s/iter`;
  process.stderr.write(`${result.aborted ? 'interrupted: saved the current image' : 'done'}: ${image} (${summary}), ${record}, ${plot}\n`);
}
