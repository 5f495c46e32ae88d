/**
 * A one-file HTML page of a run: content, style(s) and result side by side, the loss curves and the run
 * record, for `npm start` (the studio) and `convlab-style --html`.
 */
import { linePlot, writeHtmlPage, type HtmlSection } from '@convlab/core';
import { lossSeries } from './plot.js';
import { readStyleRun } from './record.js';
import type { StylizeResult } from './stylize.js';

export function styleReportSections(result: StylizeResult, heading = 'Neural style transfer'): HtmlSection[] {
  const r = readStyleRun(result.record);
  const stages = r.stages.map((s) => `${s.width}x${s.height} (${s.iterations} it, ${s.seconds.toFixed(1)} s)`).join(' -> ');
  const sections: HtmlSection[] = [
    {
      heading,
      text:
        `${r.model.name} (${r.model.weights}), ${r.backend.name} backend, ${String(r.parameters.optimizer)}, ` +
        `${r.iterationsDone} iterations in ${r.seconds.toFixed(1)} s (${r.secondsPerIteration.toFixed(2)} s/iteration), stages ${stages}` +
        (r.aborted ? '. Interrupted: the image is the last iterate.' : '.'),
      figures: [
        { image: result.content, caption: 'content' },
        ...result.styles.map((s, i) => ({ image: s, caption: result.styles.length > 1 ? `style ${i + 1}` : 'style' })),
        { image: result.image, caption: 'result' },
      ],
    },
  ];
  if (r.losses.length > 1) {
    sections.push({
      heading: 'Losses',
      figures: [
        {
          image: linePlot({ series: lossSeries(result.record), xLabel: 'iteration', yLabel: 'weighted loss', logY: true, xStart: 1, width: 640, height: 360 }),
          caption: 'weighted losses per iteration',
        },
      ],
    });
  }
  // The record without its per-iteration steps (they are in the plot above and in the .json file).
  const { steps, ...rest } = result.record.toJSON();
  sections.push({ heading: 'Run record', code: JSON.stringify({ ...rest, steps: `${steps.length} per-iteration loss entries` }, null, 2) });
  return sections;
}

/** Write a self-contained HTML page of the run. */
export async function writeStyleReport(result: StylizeResult, path: string, title = 'convlab-style'): Promise<void> {
  await writeHtmlPage(path, { title, sections: styleReportSections(result) });
}
