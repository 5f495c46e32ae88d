/** Terminal progress for the CLI (@convlab/core's createProgress): iteration, losses, s/iter and ETA. */
import { createProgress, type Progress } from '@convlab/core';
import type { StylizeProgress } from './stylize.js';

function fmt(v: number): string {
  return v >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3);
}

export function createProgressReporter(total: number, quiet: boolean): { update(p: StylizeProgress): void; stop(): void } {
  const bar: Progress = createProgress({ total, label: 'stylize', unit: 'iter', mode: quiet ? 'silent' : undefined });
  return {
    update(p: StylizeProgress) {
      bar.update(p.done, {
        stage: `${p.stage}/${p.stageCount} ${p.stageSize}px`,
        loss: fmt(p.losses.total),
        content: fmt(p.losses.content),
        style: fmt(p.losses.style),
        tv: fmt(p.losses.tv),
        's/iter': p.secondsPerIteration.toFixed(2),
      });
    },
    stop: () => bar.stop(),
  };
}
