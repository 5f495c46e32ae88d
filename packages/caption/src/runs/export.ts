/**
 * `export` as a library call: copy a trained model as float16 (the shipped models are such copies), or
 * several as one ensemble folder (per-step probabilities averaged). The destination is replaced as a
 * whole, and only when it is empty or an earlier export; `run-record.json` is written into it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConvlabError, createRunRecord, initEngine, isSameOrInside, prepareOutputDir, type z } from '@convlab/core';
import { isCaptionModelDir, loadCaptionModel, readCaptionModelFiles, saveCaptionEnsemble, saveCaptionModel } from '../model-io.js';
import { ExportOptions } from '../options.js';
import { checkInputs, hooksOf, parseGiven, type Input, type RunHooks } from './common.js';

export interface ExportRun {
  to: string;
  members: number;
  recordPath: string;
}

export async function runExport(options: z.input<typeof ExportOptions>, hooks: RunHooks = {}): Promise<ExportRun> {
  const h = hooksOf(hooks);
  // 1. options
  const { o } = parseGiven(ExportOptions, options, h);
  const from = h.name('from');
  const to = h.name('to');
  // 2. inputs
  const inputs: Input[] = o.from.map((d) => ({ flag: from, path: d, kind: 'dir' }));
  checkInputs(inputs);
  // 3. output
  for (const d of o.from) {
    if (isSameOrInside(d, o.to) || isSameOrInside(o.to, d)) throw new ConvlabError(`${to} ${o.to} would replace ${from} ${d}: convlab never writes over an input`, { hint: 'export to another folder' });
  }
  // The folder is replaced as a whole (atomically): refuse to replace one that is not a caption model.
  if (existsSync(o.to) && (!statSync(o.to).isDirectory() || (readdirSync(o.to).length > 0 && !isCaptionModelDir(o.to)))) {
    throw new ConvlabError(`${to} ${o.to} exists and is not a caption model folder; export replaces its folder as a whole`, { hint: `give ${to} a new folder (or an earlier export to overwrite)` });
  }
  // 4. small inputs
  for (const d of o.from) readCaptionModelFiles(d);
  // Pseudo file systems, writability: checked before any weights are loaded (the folder is then swapped in whole).
  await prepareOutputDir(o.to, { flag: to, inputs: o.from });
  // 5. work
  const engine = await initEngine({ backend: o.backend ?? 'cpu', log: false });
  const record = createRunRecord({ tool: 'caption-export', parameters: o, backend: engine });
  const models = o.from.map((d) => loadCaptionModel(d));
  // lengthPenalty records the value chosen on dev as the model's decoding default.
  const decoding = o.lengthPenalty === undefined ? models[0].config.decoding : { lengthPenalty: o.lengthPenalty };
  const dest = resolve(o.to);
  try {
    if (models.length > 1) {
      await saveCaptionEnsemble(dest, models, { dtype: 'float16', decoding });
      h.log(`wrote ${o.to}: ensemble of ${models.length} (float16)`);
    } else {
      const [m] = models;
      await saveCaptionModel(dest, { decoder: m.decoder, vocab: m.vocab, encoder: m.config.encoder, maxLength: m.config.maxLength, training: m.config.training, decoding }, { dtype: 'float16' });
      h.log(`wrote ${o.to} (float16)`);
    }
    record.set('members', models.map((m) => ({ dir: m.dir, decoder: m.config.decoder.kind, training: m.config.training })));
    record.set('decoding', decoding);
  } finally {
    for (const m of models) m.decoder.params.dispose();
  }
  record.finish();
  const recordPath = join(dest, 'run-record.json');
  await record.save(recordPath);
  return { to: dest, members: models.length, recordPath };
}
