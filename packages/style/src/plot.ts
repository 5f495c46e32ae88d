/** The loss-curve PNG of a run: total, content, style and TV losses per iteration, stages in the title. */
import { linePlot, saveImage, type RunRecord, type RunRecordJson } from '@convlab/core';
import { readStyleRun } from './record.js';

const PARTS = ['total', 'content', 'style', 'tv'] as const;

/** The weighted losses per iteration as plot series (parts that stay 0 are left out). */
export function lossSeries(record: RunRecord | RunRecordJson): { name: string; values: number[] }[] {
  const losses = readStyleRun(record).losses;
  return PARTS.map((name) => ({ name, values: losses.map((l) => l[name]) })).filter((s) => s.values.some((v) => v > 0));
}

/** Write the loss plot of a run record (a live RunRecord or its parsed JSON); nothing when there are no losses. */
export async function writeLossPlot(record: RunRecord | RunRecordJson, path: string): Promise<void> {
  const run = readStyleRun(record);
  const series = lossSeries(record);
  if (run.losses.length === 0 || series.length === 0) return;
  const stageTitle = run.stages.map((s) => `${s.width}x${s.height}`).join(' -> ');
  const image = linePlot({
    series,
    title: `${run.model.name}, ${stageTitle}, ${run.backend.name}`,
    xLabel: 'iteration',
    yLabel: 'weighted loss',
    logY: true,
    xStart: 1,
    width: 720,
    height: 420,
  });
  await saveImage(image, path);
}
