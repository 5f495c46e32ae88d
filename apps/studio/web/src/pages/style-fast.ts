/**
 * #/style/fast : fast (feed-forward) style transfer (Johnson et al. 2016) as a quick job, `style.fast`. Pick a
 * bundled network and a photo (a sample or an upload); every change of either (or of the size) submits a job
 * by itself and the result replaces the preview as soon as it is done. The networks are the enum of the
 * kind's `net` field (the server lists its bundled folder when it starts); with none, the page says so and
 * shows the command that trains one.
 */
import { api, kindInfo, samples, type JobInfo, type JsonSchema, type Samples } from '../api.js';
import { h } from '../dom.js';
import { follower, placeholder, showApiError } from '../follow.js';
import { imagePicker } from '../picker.js';
import { fieldName, fieldRow, pageHeader, showBanner } from '../ui.js';
import { styleModes } from './style.js';

const KIND = 'style.fast';
/** Wait this long after a change before submitting (a burst of arrow keys makes one job). */
const SETTLE_MS = 150;

/** "the_scream" -> "The scream". */
const netLabel = (name: string): string => {
  const words = name.replace(/[_-]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** The bundled painting a network is named after, for its thumbnail (the_scream -> sample style/the_scream.jpg). */
const paintingOf = (name: string, all: Samples | undefined): string | undefined => all?.style.find((s) => s.name.replace(/\.[a-z]+$/i, '') === name)?.url;

export function fastStylePage(root: HTMLElement): () => void {
  const netList = h('div', { class: 'thumbs net-thumbs', role: 'radiogroup', 'aria-labelledby': 'fast-net-label', 'data-testid': 'fast-nets' });
  const netError = h('p', { class: 'field-error', hidden: true });
  const netPicker = h('div', { class: 'picker', 'data-field': 'net' }, h('div', { class: 'picker-head' }, h('span', { class: 'label', id: 'fast-net-label' }, 'Network (one per painting)')), netList, netError);
  const photo = imagePicker({ label: 'Photo', set: 'content', name: 'content' });
  const sizeInput = h('input', { type: 'number', name: 'size', min: 16, max: 8192, step: 1, placeholder: 'its own size, at most 1024', inputmode: 'numeric' });
  const size = fieldRow('Size (px, longer side)', sizeInput, 'Optional: resize the photo first. Empty keeps its size (larger photos are reduced to 1024 px).');
  const formBody = h('div', {}, h('p', { class: 'muted' }, 'Loading the networks…'));
  const form = h('form', { class: 'tool-form', novalidate: true, 'data-testid': 'fast-form' }, formBody);
  const output = h('div', { class: 'tool-output' }, placeholder('Pick a network and a photo: the stylized photo appears here as soon as the network has run, and again after every change.'));
  root.append(
    pageHeader('Style transfer', 'Fast mode (Johnson, Alahi & Fei-Fei 2016): a network trained once per painting stylizes a photo in one forward pass, so the preview follows your choices.'),
    styleModes('fast'),
    h('div', { class: 'tool' }, form, output),
  );

  /** Jobs seen finished: not cancelled when a newer one starts. */
  const finished = new Set<string>();
  const jobs = follower(output, 'studio.style.fast.job', { chart: false, live: false, title: 'Fast style transfer', onFinal: (job) => finished.add(job.id) });
  let net: string | undefined;
  let lastKey = '';
  let current: JobInfo | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const selectNet = (name: string, focus = false) => {
    for (const b of netList.querySelectorAll<HTMLButtonElement>('.thumb')) {
      const on = b.dataset.net === name;
      b.setAttribute('aria-checked', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    net = name;
    netError.hidden = true;
    schedule();
  };

  netList.addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(e.key)) return;
    const buttons = [...netList.querySelectorAll<HTMLButtonElement>('.thumb')];
    const i = buttons.findIndex((b) => b.dataset.net === net);
    const next = buttons[(i + (e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 1) + buttons.length) % buttons.length];
    if (next?.dataset.net) {
      selectNet(next.dataset.net, true);
      e.preventDefault();
    }
  });

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void submit(), SETTLE_MS);
  }

  async function submit(): Promise<void> {
    const content = photo.value();
    if (!net || !content) return;
    const text = sizeInput.value.trim();
    const sizeValue = text === '' ? undefined : Number(text);
    const key = JSON.stringify([net, content, sizeValue]);
    if (key === lastKey) return;
    lastKey = key;
    photo.error(undefined);
    size.error(undefined);
    try {
      const job = await api.submit(KIND, { net, content, ...(sizeValue !== undefined ? { size: sizeValue } : {}) });
      const previous = current;
      current = job;
      jobs.show(job);
      // A newer choice makes an unfinished older job pointless.
      if (previous && !finished.has(previous.id)) void api.cancel(previous.id).catch(() => undefined);
    } catch (err) {
      lastKey = '';
      showApiError(
        err,
        [
          (f, m) => (fieldName(f) === 'content' ? (photo.error(m), true) : false),
          (f, m) => (fieldName(f) === 'size' ? (size.error(m), true) : false),
          (f, m) => (fieldName(f) === 'net' ? ((netError.textContent = m), (netError.hidden = false), true) : false),
        ],
        'fast style transfer',
      );
    }
  }

  const noNetworks = (train: string | undefined) =>
    h(
      'div',
      { class: 'notice', 'data-testid': 'fast-none' },
      h('h2', {}, 'No fast network is bundled'),
      h('p', {}, 'Fast mode needs a network trained for a painting, and this studio found none in its networks folder when it started. Train one from the repository root (the command writes it there), then restart the studio:'),
      h('pre', { class: 'command' }, h('code', {}, train ?? 'node apps/style-transfer/bin/convlab-style.js train-fast --style assets/style/the_scream.jpg --content-dir photos/ --out packages/style/fast-nets/the_scream')),
      h('p', { class: 'muted' }, 'photos/ is a folder of photos to learn from (a few thousand: COCO, Flickr8k or your own). starry_night and great_wave the same way. Training takes hours on a CPU; see apps/style-transfer/README.md, "Fast (feed-forward) mode". Meanwhile the optimization mode works without training.'),
    );

  Promise.all([kindInfo(KIND), samples().catch(() => undefined)])
    .then(([k, all]) => {
      const field = (k.schema.properties ?? {}).net as (JsonSchema & { train?: string }) | undefined;
      const names = (field?.enum ?? []).filter((n): n is string => typeof n === 'string');
      if (names.length === 0) {
        form.replaceWith(noNetworks(field?.train));
        output.replaceChildren(placeholder('The stylized photo would appear here.'));
        return;
      }
      for (const name of names) {
        const painting = paintingOf(name, all);
        netList.appendChild(
          h(
            'button',
            { type: 'button', class: 'thumb', role: 'radio', 'aria-checked': 'false', tabindex: -1, title: name, 'data-net': name, onclick: () => selectNet(name) },
            painting ? h('img', { src: painting, alt: '', loading: 'lazy', decoding: 'async' }) : h('span', { class: 'thumb-blank', 'aria-hidden': 'true' }, '▦'),
            h('span', { class: 'thumb-name' }, netLabel(name)),
          ),
        );
      }
      formBody.replaceWith(h('div', {}, netPicker, photo.el, size.el, h('p', { class: 'help' }, 'Each change runs the network again by itself.')));
      photo.onChange(() => schedule());
      selectNet(names[0]);
    })
    .catch((err) => {
      formBody.replaceChildren();
      showBanner(err, 'fast style transfer');
    });

  sizeInput.addEventListener('change', () => schedule());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    schedule();
  });
  return () => {
    if (timer) clearTimeout(timer);
    jobs.close();
  };
}
