/**
 * #/style : Gatys style transfer as a job (style.stylize), with the live image, the loss curve, cancel and downloads.
 * The switch at the top leads to the fast (feed-forward) mode, #/style/fast (./style-fast.ts).
 */
import { api, kindInfo } from '../api.js';
import { h } from '../dom.js';
import { busy, follower, placeholder, showApiError } from '../follow.js';
import { imagePicker } from '../picker.js';
import { schemaForm, type SchemaForm } from '../schema-form.js';
import { fieldName, pageHeader, showBanner } from '../ui.js';

const KEY = ['backbone', 'size', 'iterations', 'styleWeight', 'contentWeight', 'tvWeight', 'optimizer', 'init', 'preserveColor', 'seed'];
/** Drawn by the page itself (the image pickers). */
const EXCLUDE = ['content', 'style'];

export function stylePage(root: HTMLElement): () => void {
  const content = imagePicker({ label: 'Content image', set: 'content', name: 'content' });
  const style = imagePicker({ label: 'Style image', set: 'style', name: 'style', initial: 'sample:style/starry_night.jpg' });
  const formSlot = h('div', {}, h('p', { class: 'muted' }, 'Loading the options…'));
  const start = h('button', { type: 'submit', class: 'primary', 'data-testid': 'start' }, 'Start');
  const form = h('form', { class: 'tool-form', novalidate: true }, content.el, style.el, h('h2', { class: 'form-title' }, 'Options'), formSlot, h('div', { class: 'actions' }, start));
  const output = h('div', { class: 'tool-output' }, placeholder('Pick a content and a style image, then Start. The image forms here as the optimiser runs.'));
  root.append(
    pageHeader('Style transfer', 'Gatys, Ecker & Bethge: optimise an image so its features match the content photo and its Gram matrices match the painting.'),
    styleModes('optimize'),
    h('div', { class: 'tool' }, form, output),
  );

  const jobs = follower(output, 'studio.style.job');
  let options: SchemaForm | undefined;
  kindInfo('style.stylize')
    .then((k) => {
      options = schemaForm(k.schema, { key: KEY, exclude: EXCLUDE, initial: { size: 256, iterations: 100 } });
      formSlot.replaceChildren(options.el);
    })
    .catch((err) => {
      formSlot.replaceChildren();
      showBanner(err, 'style options');
    });

  form.addEventListener(
    'submit',
    (e) => {
      e.preventDefault();
      void busy(start, 'Starting…', async () => {
        content.error(undefined);
        style.error(undefined);
        options?.clearErrors();
        try {
          const c = content.value();
          const s = style.value();
          if (!c) throw Object.assign(new Error('choose a content image (a sample or an upload)'), { field: 'content' });
          if (!s) throw Object.assign(new Error('choose a style image (a sample or an upload)'), { field: 'style' });
          const input = { ...(options?.values() ?? {}), content: c, style: [s] };
          jobs.show(await api.submit('style.stylize', input));
        } catch (err) {
          showApiError(
            err,
            [
              (f, m) => (fieldName(f) === 'content' ? (content.error(m), true) : false),
              (f, m) => (fieldName(f) === 'style' ? (style.error(m), true) : false),
              (f, m) => options?.showError(f, m) ?? false,
            ],
            'style transfer',
          );
        }
      })();
    },
  );
  return () => jobs.close();
}

/** The two modes of the Style page, as links (#/style, #/style/fast); the current one marked. */
export function styleModes(current: 'optimize' | 'fast'): HTMLElement {
  const link = (mode: 'optimize' | 'fast', href: string, text: string, sub: string) =>
    h('a', { href, class: 'mode', 'aria-current': mode === current ? 'page' : null, 'data-testid': `mode-${mode}` }, h('strong', {}, text), h('span', { class: 'muted' }, sub));
  return h(
    'nav',
    { class: 'mode-switch', 'aria-label': 'Style transfer mode' },
    link('optimize', '#/style', 'Optimization (Gatys)', 'any painting, minutes per image'),
    link('fast', '#/style/fast', 'Fast (feed-forward)', 'a trained network, one pass'),
  );
}
