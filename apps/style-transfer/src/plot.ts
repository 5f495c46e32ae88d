/** The loss-curve PNG of a run: total, content, style and TV losses per iteration, stages marked. */
import { linePlot, saveImage } from '@convlab/core';
import { allLosses, type StyleRunRecord } from './record.js';

export async function writeLossPlot(record: StyleRunRecord, path: string): Promise<void> {
  const losses = allLosses(record);
  const pick = (k: 'total' | 'content' | 'style' | 'tv') => losses.map((l) => l[k]);
  const series = (['total', 'content', 'style', 'tv'] as const)
    .map((name) => ({ name, values: pick(name) }))
    .filter((s) => s.values.some((v) => v > 0));
  if (losses.length === 0 || series.length === 0) return;
  const stageTitle = record.stages.map((s) => `${s.width}x${s.height}`).join(' -> ');
  const image = linePlot({
    series,
    title: `${record.model.name}, ${stageTitle}, ${record.backend.name}`,
    xLabel: 'iteration',
    yLabel: 'weighted loss',
    logY: true,
    xStart: 1,
    width: 720,
    height: 420,
  });
  await saveImage(image, path);
}
