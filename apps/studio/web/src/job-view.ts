/**
 * One job, live: status, a progress bar with its ETA, the live image (e.g. style's current.png, reloaded as its
 * version bumps), the loss curve from progress values, the error of a failed job, and the result once done.
 * Feed it the job's events (`update`); it never polls.
 */
import { api, fileUrl, isFinal, type JobArtifact, type JobEvent, type JobInfo, type JobProgress } from './api.js';
import { LossChart } from './chart.js';
import { formatSeconds, h, replace } from './dom.js';
import { renderResult } from './results.js';
import { kindLabel, showBanner, statusBadge } from './ui.js';

export interface JobViewOptions {
  /** Show a Cancel button while the job runs. */
  cancel?: boolean;
  /** Show the live image artifact while running (default true). */
  live?: boolean;
  /** Draw the loss curve from progress values (default true). */
  chart?: boolean;
  /** The curve's title (default 'Loss terms'; e.g. 'Objective' for feature visualization). */
  chartTitle?: string;
  /** Heading text (default: the kind). */
  title?: string;
  /** Called once when the job reaches a final status. */
  onFinal?: (job: JobInfo) => void;
}

/** The live image among the artifacts: current.png, else the newest image. */
function liveArtifact(artifacts: JobArtifact[]): JobArtifact | undefined {
  const images = artifacts.filter((a) => a.mime.startsWith('image/'));
  return images.find((a) => /(^|\/)current\.png$/.test(a.path)) ?? images.find((a) => a.version > 1);
}

export function etaText(p: JobProgress, startedAt?: string): string {
  if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds)) return `about ${formatSeconds(p.etaSeconds)} left`;
  if (p.rate && p.rate > 0) return `about ${formatSeconds((p.total - p.done) / p.rate)} left`;
  if (startedAt && p.done > 0 && p.total > p.done) {
    const elapsed = (Date.now() - Date.parse(startedAt)) / 1000;
    if (elapsed > 0) return `about ${formatSeconds((elapsed / p.done) * (p.total - p.done))} left`;
  }
  return '';
}

export class JobView {
  readonly el: HTMLElement;
  job: JobInfo;
  private readonly head = h('div', { class: 'job-head' });
  private readonly bar = h('div', { class: 'progress-fill' });
  private readonly progressEl: HTMLElement;
  private readonly progressText = h('span', { class: 'progress-text' });
  private readonly etaEl = h('span', { class: 'progress-eta' });
  private readonly liveImg = h('img', { class: 'live-image', alt: 'the current image of the running job', 'data-testid': 'live-image' });
  private readonly liveFig: HTMLElement;
  private readonly liveCaption = h('figcaption', {});
  private readonly chart: LossChart | undefined;
  private readonly errorEl = h('div', { class: 'job-error', role: 'alert', hidden: true });
  private readonly resultEl = h('div', { class: 'job-result' });
  private readonly logEl = h('p', { class: 'job-log muted' });
  private finalSeen = false;
  private liveVersion = -1;

  constructor(
    job: JobInfo,
    private readonly options: JobViewOptions = {},
  ) {
    this.job = job;
    this.progressEl = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': 'job progress' }, this.bar);
    this.liveFig = h('figure', { class: 'live', hidden: true }, this.liveImg, this.liveCaption);
    this.chart = options.chart === false ? undefined : new LossChart(options.chartTitle ?? 'Loss terms');
    this.el = h(
      'section',
      { class: 'job', 'data-job': job.id, 'data-status': job.status, 'aria-live': 'polite', 'aria-busy': 'false' },
      this.head,
      h('div', { class: 'progress-row' }, this.progressEl, h('div', { class: 'progress-meta' }, this.progressText, this.etaEl)),
      this.logEl,
      this.errorEl,
      h('div', { class: 'job-body' }, this.liveFig, this.resultEl, this.chart?.el ?? null),
    );
    if (job.progress?.values) this.chart?.add(job.progress.done, job.progress.values);
    this.render();
  }

  update(event: JobEvent): void {
    switch (event.type) {
      case 'status':
        if (event.job.id !== this.job.id) return;
        this.job = event.job;
        if (event.job.progress?.values && this.job.status === 'running') this.chart?.add(event.job.progress.done, event.job.progress.values);
        this.render();
        break;
      case 'progress':
        if (event.id !== this.job.id) return;
        this.job = { ...this.job, progress: event.progress, status: this.job.status === 'queued' ? 'running' : this.job.status };
        if (event.progress.values) this.chart?.add(event.progress.done, event.progress.values);
        this.renderProgress();
        break;
      case 'artifact': {
        if (event.id !== this.job.id) return;
        const rest = this.job.artifacts.filter((a) => a.path !== event.artifact.path);
        this.job = { ...this.job, artifacts: [...rest, event.artifact] };
        this.renderLive();
        break;
      }
      case 'log':
        if (event.id !== this.job.id) return;
        this.logEl.textContent = event.message;
        break;
    }
  }

  private render(): void {
    const j = this.job;
    this.el.dataset.status = j.status;
    this.el.setAttribute('aria-busy', String(j.status === 'running'));
    const cancel =
      this.options.cancel && !isFinal(j.status)
        ? h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel', onclick: (e: Event) => this.cancel(e.currentTarget as HTMLButtonElement) }, 'Cancel')
        : null;
    const when = j.finishedAt && j.startedAt ? `took ${formatSeconds((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000)}` : j.status === 'queued' ? 'waiting for a worker' : '';
    const worker = j.worker ? `${j.worker.backend ? `${j.worker.backend} · ` : ''}pid ${j.worker.pid}` : '';
    replace(
      this.head,
      statusBadge(j.status),
      h('h3', { class: 'job-title' }, this.options.title ?? j.label ?? kindLabel(j.kind)),
      h('a', { class: 'job-id muted', href: `#/runs/${encodeURIComponent(j.id)}`, title: 'open this run' }, j.id.length > 14 ? `${j.id.slice(0, 12)}…` : j.id),
      h('span', { class: 'muted' }, [when, worker].filter(Boolean).join(' · ')),
      h('span', { class: 'spacer' }),
      cancel,
    );
    this.renderProgress();
    this.renderLive();
    if (j.status === 'failed' && j.error) {
      replace(this.errorEl, h('strong', {}, 'Failed: '), j.error.message, j.error.field ? ` (field: ${j.error.field})` : '', j.error.hint ? h('div', { class: 'hint' }, j.error.hint) : null);
      this.errorEl.hidden = false;
    } else if (j.status === 'cancelled') {
      replace(this.errorEl, 'Cancelled', j.error?.message ? `: ${j.error.message}` : '', '. No partial files were kept.');
      this.errorEl.hidden = false;
      this.errorEl.className = 'job-error cancelled';
    } else this.errorEl.hidden = true;
    const result = renderResult(j);
    if (result && this.resultEl.childElementCount === 0) {
      replace(this.resultEl, result);
      // A style result sits where the live image was, beside the loss curve; other results take the full width.
      this.resultEl.classList.toggle('wide', j.kind !== 'style.stylize');
    }
    if (j.status === 'done') this.liveFig.hidden = true;
    if (isFinal(j.status) && !this.finalSeen) {
      this.finalSeen = true;
      this.options.onFinal?.(j);
    }
  }

  private renderProgress(): void {
    const j = this.job;
    const p = j.progress;
    const final = isFinal(j.status);
    const frac = j.status === 'done' ? 1 : p && p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    this.bar.style.width = `${(frac * 100).toFixed(1)}%`;
    this.progressEl.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
    this.progressEl.classList.toggle('indeterminate', j.status === 'running' && (!p || p.total <= 0));
    this.progressEl.dataset.status = j.status;
    const msg = p?.message ?? (p ? `${p.done} / ${p.total}` : j.status === 'queued' ? 'queued' : '');
    this.progressText.textContent = `${Math.round(frac * 100)}%${msg ? ` · ${msg}` : ''}`;
    this.etaEl.textContent = !final && p && j.status === 'running' ? etaText(p, j.startedAt) : '';
  }

  private renderLive(): void {
    if (this.options.live === false) return;
    const a = liveArtifact(this.job.artifacts);
    if (!a || this.job.status === 'done') return;
    if (a.version !== this.liveVersion) {
      this.liveVersion = a.version;
      this.liveImg.src = fileUrl(this.job.id, a.path, a.version);
      this.liveCaption.textContent = a.label ?? `${a.path} (version ${a.version})`;
    }
    this.liveFig.hidden = false;
  }

  private async cancel(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    button.textContent = 'Cancelling…';
    try {
      const job = await api.cancel(this.job.id);
      this.update({ type: 'status', job });
    } catch (err) {
      button.disabled = false;
      button.textContent = 'Cancel';
      showBanner(err, 'cancel');
    }
  }
}

