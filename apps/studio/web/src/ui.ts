/** Shared bits of the pages: the error banner, field rows with their error slot, status badges. */
import { ApiError, type JobStatus } from './api.js';
import { h, uid } from './dom.js';

/** Show an error in the page's banner (role=alert, so screen readers announce it). Never swallowed. */
export function showBanner(err: unknown, context?: string): void {
  const banner = document.getElementById('banner');
  const message = errorText(err);
  if (!banner) {
    console.error(context ?? '', message);
    return;
  }
  const close = h('button', { type: 'button', class: 'banner-close', 'aria-label': 'dismiss this message', onclick: () => item.remove() }, '×');
  const item = h('div', { class: 'banner-item', role: 'alert' }, h('span', {}, context ? h('strong', {}, `${context}: `) : null, message), close);
  banner.appendChild(item);
}

export function clearBanner(): void {
  document.getElementById('banner')?.replaceChildren();
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The part of an error's field that names a form field: 'input.style.0' -> 'style'. */
export function fieldName(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const parts = field.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
  if (parts[0] === 'input' && parts.length > 1) parts.shift();
  return parts[0];
}

/** A label + control + help + error slot. */
export interface FieldRow {
  el: HTMLElement;
  error(message: string | undefined): void;
}

export function fieldRow(label: string, control: HTMLElement, help?: string, opts: { inline?: boolean } = {}): FieldRow {
  const id = control.id || uid('field');
  control.id = id;
  const errId = `${id}-error`;
  const helpId = `${id}-help`;
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  const described = [help ? helpId : '', errId].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  const lab = h('label', { for: id }, label);
  const el = h(
    'div',
    { class: opts.inline ? 'field field-inline' : 'field' },
    opts.inline ? [control, lab] : [lab, control],
    help ? h('p', { class: 'help', id: helpId }, help) : null,
    err,
  );
  return {
    el,
    error(message) {
      err.textContent = message ?? '';
      err.hidden = !message;
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
  };
}

export function statusBadge(status: JobStatus): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, status);
}

/** "visualize.attribute" -> "Visualize: attribute" when the server gave no title. */
export function kindLabel(kind: string): string {
  const [a, b] = kind.split('.');
  return b ? `${a[0].toUpperCase()}${a.slice(1)} · ${b}` : kind;
}

export function pageHeader(title: string, lead?: string): HTMLElement {
  return h('header', { class: 'page-header' }, h('h1', {}, title), lead ? h('p', { class: 'lead' }, lead) : null);
}

/** "contentWeight" -> "Content weight". */
export function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return words[0].toUpperCase() + words.slice(1);
}
