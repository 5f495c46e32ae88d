/** Terminal progress for the CLI: a bar with iteration, losses, s/iter and ETA (quiet: nothing). */
import cliProgress from 'cli-progress';
import type { StylizeProgress } from './stylize.js';

function fmt(v: number): string {
  return v >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3);
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

export function createProgressReporter(total: number, quiet: boolean) {
  if (quiet) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {value}/{total} | stage {stage} | loss {loss} (content {content}, style {style}, tv {tv}) | {spi} s/iter | ETA {eta}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      barsize: 24,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { stage: '-', loss: '-', content: '-', style: '-', tv: '-', spi: '-', eta: '?' });
  return {
    update(p: StylizeProgress) {
      bar.update(p.done, {
        stage: `${p.stage}/${p.stageCount} ${p.stageSize}px`,
        loss: fmt(p.losses.total),
        content: fmt(p.losses.content),
        style: fmt(p.losses.style),
        tv: fmt(p.losses.tv),
        spi: p.secondsPerIteration.toFixed(2),
        eta: eta(p.etaSeconds),
      });
    },
    stop() {
      bar.stop();
    },
  };
}
