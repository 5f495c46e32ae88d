/** Shared by the tool pages: submit a job, show it live in a JobView, remember it for when the user comes back. */
import { api, ApiError, watchJob, type JobInfo } from './api.js';
import { h, replace } from './dom.js';
import { JobView, type JobViewOptions } from './job-view.js';
import { errorText, showBanner } from './ui.js';

export interface Follower {
  /** Show this job (closing the previous stream). */
  show(job: JobInfo): JobView;
  close(): void;
}

export function follower(container: HTMLElement, storageKey: string, options: JobViewOptions = {}): Follower {
  let stop: (() => void) | undefined;
  const f: Follower = {
    show(job) {
      stop?.();
      const view = new JobView(job, { cancel: true, ...options });
      replace(container, view.el);
      try {
        sessionStorage.setItem(storageKey, job.id);
      } catch {
        /* storage off: the page just will not reopen the job */
      }
      stop = watchJob(job.id, (e) => view.update(e), (message) => showBanner(message));
      return view;
    },
    close() {
      stop?.();
      stop = undefined;
    },
  };
  let last: string | null = null;
  try {
    last = sessionStorage.getItem(storageKey);
  } catch {
    last = null;
  }
  if (last) {
    api
      .job(last)
      .then((job) => {
        if (container.isConnected && !container.querySelector('.job')) f.show(job);
      })
      .catch((err) => {
        if (!(err instanceof ApiError && err.status === 404)) showBanner(err, 'reopening your last job');
      });
  }
  return f;
}

/**
 * Route an API error to where it belongs: the named field's own error slot when the page has one, else the
 * banner. Returns nothing; the error is always shown.
 */
export function showApiError(err: unknown, fieldHandlers: ((field: string | undefined, message: string) => boolean)[], context: string): void {
  const field = err instanceof ApiError ? err.field : (err as { field?: string } | undefined)?.field;
  const message = errorText(err);
  for (const handle of fieldHandlers) if (handle(field, message)) return;
  showBanner(err, context);
}

/** A disabled-while-busy async button handler. */
export function busy(button: HTMLButtonElement, label: string, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const text = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      await fn();
    } finally {
      button.disabled = false;
      button.textContent = text;
    }
  };
}

export const placeholder = (text: string): HTMLElement => h('div', { class: 'placeholder muted' }, text);
