/** #/caption : caption a photo (caption.predict) and step word by word through the attention maps. */
import { api, kindInfo } from '../api.js';
import { h } from '../dom.js';
import { busy, follower, placeholder, showApiError } from '../follow.js';
import { imagePicker } from '../picker.js';
import { schemaForm, type SchemaForm } from '../schema-form.js';
import { fieldName, pageHeader, showBanner } from '../ui.js';

export function captionPage(root: HTMLElement): () => void {
  const image = imagePicker({ label: 'Photo', set: 'content', name: 'image', initial: 'sample:content/dog.jpg' });
  const formSlot = h('div', {}, h('p', { class: 'muted' }, 'Loading the options…'));
  const go = h('button', { type: 'submit', class: 'primary', 'data-testid': 'caption' }, 'Caption');
  const form = h('form', { class: 'tool-form', novalidate: true }, image.el, formSlot, h('div', { class: 'actions' }, go));
  const output = h('div', { class: 'tool-output' }, placeholder('Pick or upload a photo, then Caption. Each word of the caption becomes a button that shows where the model looked.'));
  root.append(pageHeader('Caption', 'A ConvNet encoder and an attention decoder (Xu et al., Show, Attend and Tell): one attention map per word.'), h('div', { class: 'tool' }, form, output));

  const jobs = follower(output, 'studio.caption.job', { chart: false, live: false });
  let options: SchemaForm | undefined;
  let imageField = 'image';
  kindInfo('caption.predict')
    .then((k) => {
      const props = k.schema.properties ?? {};
      imageField = Object.keys(props).find((n) => (props[n] as { image?: boolean }).image) ?? 'image';
      options = schemaForm(k.schema, { key: ['model', 'beam'], exclude: [imageField] });
      formSlot.replaceChildren(options.el);
    })
    .catch((err) => {
      formSlot.replaceChildren();
      showBanner(err, 'caption options');
    });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(go, 'Starting…', async () => {
      image.error(undefined);
      options?.clearErrors();
      try {
        const ref = image.value();
        if (!ref) throw Object.assign(new Error('choose a photo (a sample or an upload)'), { field: imageField });
        jobs.show(await api.submit('caption.predict', { ...(options?.values() ?? {}), [imageField]: ref }));
      } catch (err) {
        showApiError(err, [(f, m) => (fieldName(f) === imageField ? (image.error(m), true) : false), (f, m) => options?.showError(f, m) ?? false], 'caption');
      }
    })();
  });
  return () => jobs.close();
}
