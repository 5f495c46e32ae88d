/** `npm start` / convlab-demo: flags only; the work is in demo.ts. */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { runCli, ConvlabError } from '@convlab/core';
import { runDemo } from './demo.js';

const usage = `usage: npm start -- [--quick] [--only models,style,deconvnet,captioning] [--out out/demo] [--backend auto|native|wasm|cpu]`;

await runCli(async (argv, signal) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        out: { type: 'string', default: 'out/demo' },
        backend: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new ConvlabError((err as Error).message, { hint: usage });
  }
  if (values.help) {
    process.stdout.write(usage + '\n');
    return;
  }
  const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
  const result = await runDemo({
    root,
    outDir: resolve(values.out),
    quick: values.quick,
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
    backend: values.backend,
    signal,
  });
  const failed = result.sections.filter((s) => !s.ok);
  process.stdout.write(`demo page: ${result.page}\n`);
  if (failed.length) throw new ConvlabError(`${failed.length} demo section(s) failed: ${failed.map((s) => s.id).join(', ')}`, { hint: 'see the messages above; run with --verbose for details' });
});
