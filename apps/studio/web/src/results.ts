/** How each job kind's result is drawn (the result is small JSON naming files under the job's folder). */
import { fileUrl, type JobInfo } from './api.js';
import { captionViewer, type CaptionResult } from './caption-viewer.js';
import { formatNumber, h } from './dom.js';

type Renderer = (job: JobInfo, result: Record<string, unknown>) => HTMLElement;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);

const METHOD_NAMES: Record<string, string> = {
  deconvnet: 'Deconvnet',
  guided: 'Guided backprop',
  'guided-backprop': 'Guided backprop',
  gradcam: 'Grad-CAM',
  'guided-gradcam': 'Guided Grad-CAM',
  occlusion: 'Occlusion',
  saliency: 'Saliency',
  smoothgrad: 'SmoothGrad',
  vargrad: 'VarGrad',
  'integrated-gradients': 'Integrated gradients',
  'input-x-gradient': 'Input × gradient',
  'gradcam-pp': 'Grad-CAM++',
  scorecam: 'Score-CAM',
  layercam: 'LayerCAM',
};
export const methodName = (m: string): string => METHOD_NAMES[m] ?? m;

function download(job: JobInfo, path: string, text: string): HTMLElement {
  return h('a', { class: 'button secondary', href: fileUrl(job.id, path), download: `${job.id}-${path.split('/').pop()}` }, text);
}

function figure(src: string, caption: string | HTMLElement, alt: string, cls = ''): HTMLElement {
  return h('figure', { class: `panel ${cls}` }, h('img', { src, alt, loading: 'lazy' }), h('figcaption', {}, caption));
}

/** The URL of an image reference: a bundled sample or an upload (the server's references, src/server/references.ts). */
function refUrl(ref: unknown): string | undefined {
  if (typeof ref !== 'string') return undefined;
  const sample = /^sample:([a-z]+)\/([^/\\]+)$/.exec(ref);
  if (sample) return `/samples/${sample[1]}/${encodeURIComponent(sample[2])}`;
  const upload = /^upload:([a-f0-9]+)$/.exec(ref);
  return upload ? `/api/uploads/${upload[1]}` : undefined;
}

function describeTarget(t: unknown): string {
  if (t === undefined || t === null) return '';
  if (typeof t !== 'object') return String(t);
  const o = t as Record<string, unknown>;
  const parts: string[] = [];
  if (o.layer) parts.push(`layer ${String(o.layer)}`);
  if (o.unit !== undefined) parts.push(`unit ${String(o.unit)}`);
  if (Array.isArray(o.units)) parts.push(`units ${o.units.join(', ')}`);
  if (o.class !== undefined) parts.push(`class ${String(o.class)}${o.className ? ` (${String(o.className)})` : ''}`);
  if (o.label !== undefined) parts.push(String(o.label));
  if (o.score !== undefined && typeof o.score === 'number') parts.push(`score ${formatNumber(o.score)}`);
  return parts.length ? parts.join(', ') : JSON.stringify(t);
}

const renderers: Record<string, Renderer> = {
  'style.stylize'(job, r) {
    const image = str(r.image) ?? 'result.png';
    const record = str(r.record);
    const lossPlot = str(r.lossPlot);
    return h(
      'div',
      { class: 'result result-style' },
      h('figure', { class: 'result-image' }, h('img', { src: fileUrl(job.id, image), alt: 'the stylized image', 'data-testid': 'style-result' }), h('figcaption', {}, 'Result')),
      h('div', { class: 'actions' }, download(job, image, `Download ${image}`), record ? download(job, record, `Download ${record}`) : null, lossPlot ? h('a', { class: 'button secondary', href: fileUrl(job.id, lossPlot), target: '_blank', rel: 'noopener' }, 'Loss plot') : null),
    );
  },
  'style.fast'(job, r) {
    const image = str(r.image) ?? 'result.png';
    const record = str(r.record);
    const net = str(r.net) ?? '?';
    const ms = num(r.ms);
    const w = num(r.width);
    const hgt = num(r.height);
    const photo = refUrl((job.input as { content?: unknown } | undefined)?.content);
    const caption = [net.replace(/_/g, ' '), w && hgt ? `${w}×${hgt}` : '', ms !== undefined ? `network ${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms` : ''].filter(Boolean).join(' · ');
    return h(
      'div',
      { class: 'result result-fast' },
      h(
        'div',
        { class: 'fast-pair' },
        photo ? h('figure', { class: 'result-image' }, h('img', { src: photo, alt: 'the photo' }), h('figcaption', {}, 'Photo')) : null,
        h('figure', { class: 'result-image' }, h('img', { src: fileUrl(job.id, image), alt: `the photo in the style of ${net}`, 'data-testid': 'fast-result' }), h('figcaption', { 'data-testid': 'fast-caption' }, caption)),
      ),
      h('div', { class: 'actions' }, download(job, image, `Download ${image}`), record ? download(job, record, `Download ${record}`) : null),
    );
  },
  'visualize.attribute'(job, r) {
    const panels = arr(r.panels);
    const input = str(r.input);
    const target = describeTarget(r.target);
    return h(
      'div',
      { class: 'result result-attribute' },
      target ? h('p', { class: 'muted' }, `Target: ${target}`) : null,
      h(
        'div',
        { class: 'panels', 'data-testid': 'attribution-panels' },
        input ? figure(fileUrl(job.id, input), 'Input', 'the input image') : null,
        panels.map((p) => {
          const method = str(p.method) ?? '?';
          const secs = num(p.seconds);
          return figure(fileUrl(job.id, str(p.image) ?? ''), h('span', {}, h('strong', {}, methodName(method)), secs !== undefined ? h('span', { class: 'muted' }, ` · ${secs.toFixed(2)} s`) : null), `${methodName(method)} map`, 'attribution');
        }),
      ),
    );
  },
  'visualize.top9'(job, r) {
    const units = arr(r.units);
    return h(
      'div',
      { class: 'result result-top9' },
      h('div', { class: 'panels' }, units.map((u) => figure(fileUrl(job.id, str(u.grid) ?? ''), `Unit ${String(u.unit)}: top-9 image patches`, `the nine image patches that excite unit ${String(u.unit)} most`, 'top9'))),
    );
  },
  'visualize.featureviz'(job, r) {
    const images = arr(r.images);
    const record = str(r.record);
    const steps = r.steps as { done?: number; total?: number } | undefined;
    return h(
      'div',
      { class: 'result result-featureviz' },
      h('p', { class: 'muted' }, `Objective: ${str(r.objective) ?? '?'}${steps?.total ? ` · ${steps.done ?? '?'} of ${steps.total} steps` : ''}`),
      h(
        'div',
        { class: 'panels', 'data-testid': 'featureviz-images' },
        images.map((im, i) => {
          const start = num(im.start);
          const final = num(im.final);
          const caption = h('span', {}, h('strong', {}, `#${i}`), start !== undefined && final !== undefined ? h('span', { class: 'muted' }, ` · objective ${formatNumber(start)} → ${formatNumber(final)}`) : null);
          return figure(fileUrl(job.id, str(im.image) ?? ''), caption, `feature visualization ${i}: an image optimized to maximise the objective`, 'featureviz');
        }),
      ),
      h('div', { class: 'actions' }, images.length ? download(job, str(images[0].image) ?? '', 'Download image') : null, record ? download(job, record, `Download ${record}`) : null),
    );
  },
  'visualize.dossier'(job, r) {
    const report = str(r.report) ?? '';
    const fv = Array.isArray(r.featureViz) ? (r.featureViz as unknown[]).filter((f): f is string => typeof f === 'string') : [];
    return h(
      'div',
      { class: 'result result-dossier' },
      h(
        'div',
        { class: 'panels', 'data-testid': 'dossier-featureviz' },
        fv.map((f, i) => figure(fileUrl(job.id, f), `Feature visualization #${i}`, `feature visualization ${i} of unit ${String(r.unit)}`, 'featureviz')),
      ),
      // The report is self-contained (images inlined); the server sends it sandboxed (no scripts, no requests out).
      h('iframe', { class: 'dossier-frame', src: fileUrl(job.id, report), title: `unit dossier: ${String(r.layer)} unit ${String(r.unit)}`, sandbox: '', loading: 'lazy', 'data-testid': 'dossier-frame', style: 'width: 100%; height: 900px; border: 1px solid var(--line); border-radius: 6px; background: #fff; margin-top: 0.75rem' }),
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: fileUrl(job.id, report), target: '_blank', rel: 'noopener' }, 'Open the report in a new tab'), download(job, report, 'Download the report')),
    );
  },
  'visualize.layers'(_job, r) {
    return layerTable(arr(r.layers));
  },
  'caption.predict'(job, r) {
    return captionViewer(job.id, r as CaptionResult);
  },
};

export interface LayerRow {
  name: string;
  shape?: unknown;
  receptiveField?: unknown;
  stride?: unknown;
  params?: unknown;
}

const fmt = (v: unknown) => (Array.isArray(v) ? v.join('×') : v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The layer list (shapes, receptive fields); `onPick` makes each row choosable. */
export function layerTable(layers: Record<string, unknown>[], onPick?: (name: string) => void, selected?: string): HTMLElement {
  const rows = layers.map((l) => {
    const name = String(l.name);
    const pick = onPick ? h('button', { type: 'button', class: 'link', onclick: () => onPick(name), 'aria-pressed': String(name === selected) }, name) : name;
    return h('tr', { class: name === selected ? 'selected' : '' }, h('td', {}, pick), h('td', { class: 'num' }, fmt(l.shape)), h('td', { class: 'num' }, fmt(l.receptiveField)), h('td', { class: 'num' }, fmt(l.stride)), h('td', { class: 'num' }, typeof l.params === 'number' ? l.params.toLocaleString() : fmt(l.params)));
  });
  return h(
    'div',
    { class: 'table-wrap layer-table' },
    h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Output shape'), h('th', { scope: 'col' }, 'Receptive field'), h('th', { scope: 'col' }, 'Stride'), h('th', { scope: 'col' }, 'Params'))), h('tbody', {}, rows)),
  );
}

/** The result of a finished job, drawn for its kind (JSON for kinds without a renderer). */
export function renderResult(job: JobInfo): HTMLElement | null {
  if (job.status !== 'done' || job.result === undefined || job.result === null) return null;
  const r = renderers[job.kind];
  if (r && typeof job.result === 'object') return r(job, job.result as Record<string, unknown>);
  return h('pre', { class: 'json' }, JSON.stringify(job.result, null, 2));
}
