/**
 * convlab-style's fast (feed-forward) subcommands over @convlab/style (Johnson et al. 2016 + instance norm):
 *
 *   convlab-style train-fast --style IMG --content-dir DIR --out NET_DIR [--steps --batch --size --lr ...]
 *   convlab-style fast --net NET_DIR|NAME --content IMG --out OUT.png
 *
 * Flags and --help come from FastTrainOptions / FastApplyOptions; the library does the work.
 */
import { Command, CommanderError } from 'commander';
import { ConvlabError, addOptions, parseOptions, prepareOutputFile, saveImage, z } from '@convlab/core';
import { FastApplyOptions, FastTrainOptions, bundledFastNets, fastStylize, resolveFastTrainOptions, trainFastStyle } from '@convlab/style';

export const FAST_COMMANDS = ['train-fast', 'fast'] as const;

const Talk = z.object({
  quiet: z.boolean().default(false).describe('no progress bar'),
  verbose: z.boolean().default(false).describe('stack traces on errors'),
});

function command(name: string, description: string, usage: string, schema: Parameters<typeof addOptions>[1]): Command {
  const cmd = new Command(`convlab-style ${name}`).description(description).usage(usage).exitOverride().configureOutput({ writeErr: () => {} });
  return addOptions(addOptions(cmd, schema), Talk);
}

function parse(cmd: Command, argv: string[]): boolean {
  try {
    cmd.parse(argv, { from: 'user' });
    return true;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return false;
    throw new ConvlabError(err.message.replace(/^error: /, '').split('\n')[0], { hint: `run ${cmd.name()} --help for the flags` });
  }
}

export function trainFastProgram(): Command {
  return command('train-fast', 'train a feed-forward style network (Johnson et al. 2016, instance norm) on a folder of photos', '--style painting.jpg --content-dir photos/ --out nets/scream [options]', FastTrainOptions).addHelpText(
    'after',
    '\nWrites NET_DIR/manifest.json + weights.bin (float16), NET_DIR/checkpoint/ (every --checkpoint-every steps), run.json, loss.png and preview.png.\nCtrl-C or SIGTERM stops after the current step and writes a checkpoint; --resume continues from it.',
  );
}

export function fastProgram(): Command {
  const bundled = bundledFastNets();
  return command('fast', 'stylize an image of any size with a trained feed-forward network', '--net NET_DIR|NAME --content photo.jpg --out out.png', FastApplyOptions).addHelpText(
    'after',
    `\nBundled networks: ${bundled.length ? bundled.join(', ') : 'none in this install'}. Also writes OUT.json (run record with the ms per image).`,
  );
}

async function trainFast(argv: string[], signal: AbortSignal): Promise<void> {
  const cmd = trainFastProgram();
  if (!parse(cmd, argv)) return;
  const raw = cmd.opts();
  const options = resolveFastTrainOptions(parseOptions(FastTrainOptions, raw, 'cli'), 'cli');
  const { quiet } = parseOptions(Talk, raw, 'cli');
  const r = await trainFastStyle(
    options,
    {
      progressBar: !quiet,
      onEngine: (e) => process.stderr.write(e.summary + '\n'),
    },
    signal,
  );
  r.net.dispose();
  const last = r.losses.at(-1);
  process.stderr.write(
    `${r.aborted ? 'interrupted' : 'done'}: step ${r.step}/${options.steps} (${r.stepsRun} this run${last ? `, loss ${last.total.toPrecision(4)}` : ''}); network ${r.files.net}, checkpoint ${r.files.checkpoint}, ${r.files.record}, ${r.files.plot}\n`,
  );
}

async function applyFast(argv: string[]): Promise<void> {
  const cmd = fastProgram();
  if (!parse(cmd, argv)) return;
  const raw = cmd.opts();
  const o = parseOptions(FastApplyOptions, raw, 'cli');
  const record = o.out.replace(/\.[^./\\]+$/, '') + '.json';
  await prepareOutputFile(o.out, { flag: '--out', inputs: [o.content], extensions: ['.png', '.jpg', '.jpeg', '.webp'] });
  await prepareOutputFile(record, { flag: '--out', inputs: [o.content] });
  const r = await fastStylize(o, { onEngine: (e) => process.stderr.write(e.summary + '\n') });
  await saveImage(r.image, o.out);
  r.record.set('outputs', { image: o.out, record });
  await r.record.save(record);
  process.stderr.write(`done: ${o.out} (${r.image.width}x${r.image.height}, network ${r.networkMs.toFixed(0)} ms), ${record}\n`);
}

/** Run a fast subcommand; argv starts with its name. */
export async function fastMain(argv: string[], signal: AbortSignal): Promise<void> {
  const [name, ...rest] = argv;
  if (name === 'train-fast') return trainFast(rest, signal);
  return applyFast(rest);
}
