/**
 * A caption with its per-word attention maps: every word is a button; choosing one (click, ←/→, or Play) lays
 * that word's attention map over the photo.
 */
import { fileUrl } from './api.js';
import { h } from './dom.js';

export interface CaptionResult {
  caption?: string;
  words?: { word: string; attention?: string }[];
  logprob?: number;
  photo?: string;
}

export function captionViewer(jobId: string, result: CaptionResult): HTMLElement {
  const words = result.words ?? [];
  const withMaps = words.some((w) => w.attention);
  const photo = result.photo ? h('img', { class: 'photo', src: fileUrl(jobId, result.photo), alt: 'the captioned photo' }) : null;
  const overlay = h('img', { class: 'attention', alt: '', hidden: true, 'data-testid': 'attention-overlay' });
  const opacity = h('input', { type: 'range', min: 0, max: 100, value: 70, id: `opacity-${jobId}`, 'aria-label': 'overlay opacity' });
  overlay.style.opacity = '0.7';
  opacity.addEventListener('input', () => (overlay.style.opacity = String(Number(opacity.value) / 100)));
  const where = h('span', { class: 'muted', 'aria-live': 'polite' });
  let index = -1;
  let timer: ReturnType<typeof setInterval> | undefined;

  const buttons = words.map((w, i) =>
    h('button', { type: 'button', class: 'word', 'aria-pressed': 'false', disabled: !w.attention, title: w.attention ? `show where the model looked for “${w.word}”` : 'no attention map for this word', onclick: () => show(i) }, w.word),
  );

  const show = (i: number) => {
    if (words.length === 0) return;
    index = (i + words.length) % words.length;
    buttons.forEach((b, j) => b.setAttribute('aria-pressed', String(j === index)));
    const w = words[index];
    if (w.attention) {
      overlay.src = fileUrl(jobId, w.attention);
      overlay.alt = `attention map for the word “${w.word}”`;
      overlay.hidden = false;
    } else overlay.hidden = true;
    where.textContent = `word ${index + 1} of ${words.length}: “${w.word}”`;
  };
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    play.textContent = '▶ Play';
    play.setAttribute('aria-pressed', 'false');
  };
  const prev = h('button', { type: 'button', class: 'secondary', 'aria-label': 'previous word', onclick: () => (stop(), show(index - 1)) }, '←');
  const next = h('button', { type: 'button', class: 'secondary', 'aria-label': 'next word', onclick: () => (stop(), show(index + 1)) }, '→');
  const play = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, '▶ Play');
  play.addEventListener('click', () => {
    if (timer !== undefined) return stop();
    play.textContent = '❚❚ Pause';
    play.setAttribute('aria-pressed', 'true');
    if (index === -1 || index === words.length - 1) show(0);
    timer = setInterval(() => {
      if (!el.isConnected || index >= words.length - 1) return stop();
      show(index + 1);
    }, 900);
  });
  const hide = h('button', { type: 'button', class: 'secondary', onclick: () => (stop(), (overlay.hidden = true), (index = -1), buttons.forEach((b) => b.setAttribute('aria-pressed', 'false')), (where.textContent = 'photo only')) }, 'Photo only');

  const el = h(
    'div',
    { class: 'caption-viewer', 'data-testid': 'caption-viewer' },
    h('div', { class: 'overlay-stage' }, photo, overlay),
    h('div', { class: 'caption-side' },
      h('p', { class: 'caption-words', 'aria-label': 'caption; choose a word to see its attention map' }, buttons.length ? buttons : (result.caption ?? '')),
      result.logprob !== undefined ? h('p', { class: 'muted' }, `log-probability ${result.logprob.toFixed(2)}`) : null,
      withMaps
        ? [
            h('div', { class: 'controls' }, prev, play, next, hide),
            h('div', { class: 'field field-inline' }, h('label', { for: opacity.id }, 'Overlay opacity'), opacity),
            h('p', { class: 'help' }, 'Use ← and → to step through the words.'),
            where,
          ]
        : h('p', { class: 'muted' }, 'This model has no attention: no per-word maps.'),
    ),
  );
  // ←/→ step through the words anywhere on the page, except while typing in a field.
  const onKey = (e: KeyboardEvent) => {
    if (!el.isConnected) return document.removeEventListener('keydown', onKey);
    // Several captions on one page (the demo): the keys belong to the one that has the focus.
    if (document.querySelectorAll('.caption-viewer').length > 1 && !el.contains(document.activeElement)) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA') && t !== opacity) return;
    if (t === opacity) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      if (!withMaps) return;
      stop();
      show(index + (e.key === 'ArrowRight' ? 1 : -1));
      buttons[index]?.focus();
      e.preventDefault();
    }
  };
  document.addEventListener('keydown', onKey);
  if (withMaps) show(0);
  return el;
}
