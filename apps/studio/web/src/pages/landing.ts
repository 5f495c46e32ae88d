/** #/ : the bundled demo, computed on first start as ordinary queued jobs (live progress), cached afterwards. */
import { api, watchAll, type JobEvent, type JobInfo } from '../api.js';
import { h } from '../dom.js';
import { JobView } from '../job-view.js';
import { errorText, pageHeader, showBanner } from '../ui.js';

const TOOLS = [
  { href: '#/style', title: 'Style', text: 'Paint a photo in the style of a painting (Gatys et al.): watch the image form and the losses fall.' },
  { href: '#/visualize', title: 'Visualize', text: 'Deconvnet, guided backprop, Grad-CAM and occlusion side by side; a unit’s top-9 patches; every layer’s shape and receptive field.' },
  { href: '#/caption', title: 'Caption', text: 'Caption a photo and step word by word through where the model looked.' },
  { href: '#/runs', title: 'Runs', text: 'Every job with its record, images and a re-run button.' },
];

export function landingPage(root: HTMLElement): () => void {
  const demo = h('div', { class: 'demo-list', 'data-testid': 'demo' }, h('p', { class: 'muted' }, 'Loading the demo…'));
  root.append(
    pageHeader('convlab studio', 'Look inside ConvNets and use them: style transfer, feature visualization and captioning, on your own machine. Each tool below runs as a job on a local queue; nothing leaves this computer.'),
    h('div', { class: 'cards' }, TOOLS.map((t) => h('a', { class: 'card', href: t.href }, h('h2', {}, t.title), h('p', {}, t.text)))),
    h('h2', { class: 'section-title' }, 'The demo'),
    h('p', { class: 'muted' }, 'Computed by the queue on the first start, then read from the runs folder.'),
    demo,
  );

  const views = new Map<string, JobView>();
  const latest = new Map<string, JobInfo>();
  const close = watchAll((e: JobEvent) => {
    const id = e.type === 'status' ? e.job.id : e.id;
    const v = views.get(id);
    if (v) v.update(e);
    else if (e.type === 'status') latest.set(id, e.job);
  });

  api
    .demo()
    .then(async ({ jobs }) => {
      demo.replaceChildren();
      if (jobs.length === 0) demo.append(h('p', { class: 'muted' }, 'No demo jobs configured.'));
      for (const d of jobs) {
        const slot = h('div', { class: 'demo-item' }, h('h3', { class: 'demo-section' }, d.section));
        demo.appendChild(slot);
        try {
          const job = await api.job(d.id);
          const newer = latest.get(d.id);
          const info = newer ?? job;
          const title = info.label?.replace(/^demo:\s*/, '') ?? d.section;
          const v = new JobView(info, { title: title.charAt(0).toUpperCase() + title.slice(1), chart: d.kind === 'style.stylize' });
          views.set(d.id, v);
          slot.replaceChildren(v.el);
        } catch (err) {
          slot.append(h('p', { class: 'job-error', role: 'alert' }, `${d.section}: ${errorText(err)}`));
        }
      }
    })
    .catch((err) => {
      demo.replaceChildren();
      showBanner(err, 'the demo');
    });
  return close;
}
