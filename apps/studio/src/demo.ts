/**
 * The `npm start` job: runs each capability on the bundled samples with the offline default model
 * and writes one self-contained HTML page (plus the images and run records each app writes).
 */
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { ConvlabError, initEngine, prepareOutputDir, writeHtmlPage, writeJsonAtomic } from '@convlab/core';
import type { DemoContext, DemoSection, DemoSectionResult } from './sections.js';
import { allSections } from './registry.js';

export interface DemoOptions {
  root: string;
  outDir: string;
  quick?: boolean;
  only?: string[];
  backend?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface DemoResult {
  page: string;
  sections: { id: string; ok: boolean; seconds: number; error?: string }[];
}

function pickSections(only: string[] | undefined): DemoSection[] {
  if (!only || only.length === 0) return allSections;
  const known = new Map(allSections.map((s) => [s.id, s]));
  return only.map((id) => {
    const s = known.get(id);
    if (!s) throw new ConvlabError(`unknown demo section "${id}"`, { hint: `use one of: ${[...known.keys()].join(', ')}` });
    return s;
  });
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const sections = pickSections(options.only);
  const outDir = await prepareOutputDir(options.outDir, { flag: '--out' });
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const engine = await initEngine({ backend: options.backend });
  const signal = options.signal ?? new AbortController().signal;
  const ctx: DemoContext = { outDir, root: resolve(options.root), quick: options.quick ?? false, signal, log };

  const results: { section: DemoSection; result?: DemoSectionResult; error?: string; seconds: number }[] = [];
  for (const section of sections) {
    if (signal.aborted) break;
    log(`demo: ${section.title}...`);
    const t0 = performance.now();
    try {
      const result = await section.run(ctx);
      results.push({ section, result, seconds: result.seconds });
      log(`demo: ${section.title} done in ${result.seconds.toFixed(1)} s`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results.push({ section, error: message, seconds: (performance.now() - t0) / 1000 });
      log(`demo: ${section.title} failed: ${message}`);
    }
  }

  const page = join(outDir, 'index.html');
  await writeHtmlPage(page, {
    title: 'convlab demo',
    intro: `Backend: ${engine.summary.replace(/^convlab: /, '')}. Every figure below was computed just now on the bundled sample images (assets/) with the offline default models.${signal.aborted ? ' Interrupted: only the finished sections are shown.' : ''}`,
    sections: results.map(({ section, result, error, seconds }) =>
      result
        ? {
            heading: `${section.title} (${seconds.toFixed(1)} s)`,
            text: result.text,
            figures: result.figures,
            table: result.table,
          }
        : { heading: `${section.title}: failed`, text: `This section failed: ${error}` },
    ),
  });
  const summary = results.map(({ section, error, seconds }) => ({ id: section.id, ok: !error, seconds, ...(error ? { error } : {}) }));
  await writeJsonAtomic(join(outDir, 'demo.json'), { backend: engine.backend, detail: engine.detail, quick: ctx.quick, sections: summary });
  return { page, sections: summary };
}
