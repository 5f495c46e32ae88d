/**
 * Pick an image: a bundled sample (GET /api/samples, shown as thumbnails) or an upload (POST /api/uploads).
 * The value is a reference the server resolves (`sample:content/dog.jpg`, `upload:<id>`); the browser never
 * sends a path.
 */
import { api, samples, type Sample } from './api.js';
import { h, uid } from './dom.js';
import { errorText } from './ui.js';

export interface ImagePicker {
  el: HTMLElement;
  value(): string | undefined;
  /** URL of the chosen image (for previews). */
  url(): string | undefined;
  select(ref: string): void;
  error(message: string | undefined): void;
  onChange(listener: (ref: string) => void): void;
}

export function imagePicker(opts: { label: string; set: 'content' | 'style'; name: string; initial?: string }): ImagePicker {
  const listId = uid('picker');
  const errEl = h('p', { class: 'field-error', id: `${listId}-error`, hidden: true });
  const list = h('div', { class: 'thumbs', role: 'radiogroup', 'aria-labelledby': `${listId}-label`, 'aria-describedby': `${listId}-error`, id: listId });
  const status = h('span', { class: 'upload-status', 'aria-live': 'polite' });
  const fileInput = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp,image/gif,image/tiff', class: 'visually-hidden', id: `${listId}-file`, 'data-testid': `${opts.name}-upload` });
  const uploadLabel = h('label', { for: fileInput.id, class: 'button secondary' }, 'Upload an image…');
  let current: string | undefined;
  let currentUrl: string | undefined;
  const listeners: ((ref: string) => void)[] = [];

  const error = (message: string | undefined) => {
    errEl.textContent = message ?? '';
    errEl.hidden = !message;
  };

  const select = (ref: string) => {
    for (const b of list.querySelectorAll<HTMLButtonElement>('.thumb')) {
      const on = b.dataset.ref === ref;
      b.setAttribute('aria-checked', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on) currentUrl = b.dataset.url;
    }
    current = ref;
    error(undefined);
    for (const l of listeners) l(ref);
  };

  const addThumb = (s: Sample, prepend = false) => {
    const b = h(
      'button',
      { type: 'button', class: 'thumb', role: 'radio', 'aria-checked': 'false', tabindex: -1, title: s.name, 'data-ref': s.ref, 'data-url': s.url, onclick: () => select(s.ref) },
      h('img', { src: s.url, alt: '', loading: 'lazy', decoding: 'async' }),
      h('span', { class: 'thumb-name' }, s.name.replace(/\.[a-z]+$/i, '').replace(/_/g, ' ')),
    );
    if (prepend) list.prepend(b);
    else list.appendChild(b);
  };

  // Arrow keys move the choice, as in any radio group.
  list.addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(e.key)) return;
    const buttons = [...list.querySelectorAll<HTMLButtonElement>('.thumb')];
    const i = buttons.findIndex((b) => b.dataset.ref === current);
    const next = buttons[(i + (e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 1) + buttons.length) % buttons.length];
    if (next?.dataset.ref) {
      select(next.dataset.ref);
      next.focus();
      e.preventDefault();
    }
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    status.textContent = `uploading ${file.name}…`;
    error(undefined);
    try {
      const up = await api.upload(file);
      addThumb({ ref: up.ref, name: file.name, url: up.url }, true);
      select(up.ref);
      status.textContent = `uploaded ${file.name} (${up.width}×${up.height} ${up.format})`;
    } catch (err) {
      status.textContent = '';
      error(`${file.name}: ${errorText(err)}`);
    } finally {
      fileInput.value = '';
    }
  });

  samples()
    .then((all) => {
      for (const s of all[opts.set] ?? []) addThumb(s);
      const first = opts.initial ?? all[opts.set]?.[0]?.ref;
      if (first && current === undefined) select(first);
    })
    .catch((err) => error(`cannot list the bundled samples: ${errorText(err)}`));

  const el = h(
    'div',
    { class: 'picker', 'data-field': opts.name },
    h('div', { class: 'picker-head' }, h('span', { class: 'label', id: `${listId}-label` }, opts.label), uploadLabel, fileInput, status),
    list,
    errEl,
  );
  return {
    el,
    value: () => current,
    url: () => currentUrl,
    select,
    error,
    onChange: (l) => listeners.push(l),
  };
}
