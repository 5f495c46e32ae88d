/**
 * `synth` as a library call: write a synthetic shapes dataset ("a small red circle left of a large blue
 * square", synthetic.ts) as a Karpathy-format dataset, with `run-record.json` beside it. Interrupted, it
 * leaves no partial dataset.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConvlabError, createRunRecord, prepareOutputDir, type z } from '@convlab/core';
import { SynthOptions } from '../options.js';
import { writeSyntheticDataset } from '../synthetic.js';
import { hooksOf, parseGiven, type RunHooks } from './common.js';

export interface SynthRun {
  /** dataset_synthetic.json, or undefined when interrupted (nothing was written). */
  json?: string;
  images: string;
  recordPath?: string;
}

export async function runSynth(options: z.input<typeof SynthOptions>, hooks: RunHooks = {}): Promise<SynthRun> {
  const h = hooksOf(hooks);
  const { o } = parseGiven(SynthOptions, options, h);
  const out = h.name('out');
  if (existsSync(join(o.out, 'images')) && !existsSync(join(o.out, 'dataset_synthetic.json'))) {
    throw new ConvlabError(`${out} ${o.out} already has an images/ folder that synth did not write`, { hint: `give ${out} a new folder` });
  }
  const dir = await prepareOutputDir(o.out, { flag: out });
  const record = createRunRecord({ tool: 'caption-synth', parameters: o, seed: o.seed });
  const progress = h.progress('synth', o.count, 'img');
  let json: string | undefined;
  try {
    json = await writeSyntheticDataset(dir, { count: o.count, seed: o.seed, size: o.size, format: o.format, signal: h.signal, onProgress: (d) => progress.update(d) });
  } finally {
    progress.stop();
  }
  if (!json) {
    h.log(`interrupted: no dataset written to ${o.out} (a partial one would not be a usable result)`);
    return { images: join(dir, 'images') };
  }
  record.set('dataset', { json, images: join(dir, 'images'), count: o.count });
  record.finish();
  const recordPath = join(dir, 'run-record.json');
  await record.save(recordPath);
  h.log(`wrote ${o.count} scenes to ${o.out} (use --karpathy ${join(o.out, 'dataset_synthetic.json')} --images ${join(o.out, 'images')})`);
  return { json, images: join(dir, 'images'), recordPath };
}
