/** #/runs : every job, live; #/runs/<id> : one run with its input, progress, result, images, record, re-run and cancel. */
import { api, ApiError, fileUrl, isFinal, watchAll, watchJob, type JobEvent, type JobInfo } from '../api.js';
import { formatBytes, formatSeconds, formatTime, h, replace } from '../dom.js';
import { JobView } from '../job-view.js';
import { kindLabel, pageHeader, showBanner, statusBadge } from '../ui.js';

function duration(j: JobInfo): string {
  if (j.startedAt && j.finishedAt) return formatSeconds((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000);
  if (j.status === 'running' && j.progress && j.progress.total > 0) return `${Math.round((100 * j.progress.done) / j.progress.total)}%`;
  return j.status === 'running' ? 'running' : '';
}

function workerText(j: JobInfo): string {
  if (!j.worker) return '';
  return [j.worker.backend, `${j.worker.host} · pid ${j.worker.pid}`].filter(Boolean).join(' · ');
}

/** One line about what the job was asked to do, from its input. */
function summary(j: JobInfo): string {
  if (j.label) return j.label;
  const i = (j.input ?? {}) as Record<string, unknown>;
  const base = (v: unknown) => (typeof v === 'string' ? v.split(/[\\/]/).pop() ?? v : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x.split(/[\\/]/).pop() : '')).join(' + ') : '');
  const parts: string[] = [];
  if (i.content) parts.push(`${base(i.content)} in the style of ${base(i.style)}`);
  if (i.image) parts.push(base(i.image));
  if (i.model) parts.push(String(i.model));
  if (i.layer) parts.push(`layer ${String(i.layer)}`);
  if (i.unit !== undefined) parts.push(`unit ${String(i.unit)}`);
  if (i.units !== undefined) parts.push(`units ${String(i.units)}`);
  if (i.backbone) parts.push(String(i.backbone));
  if (i.size) parts.push(`${String(i.size)} px`);
  return parts.join(', ');
}

export function runsPage(root: HTMLElement): () => void {
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'runs-table', 'data-testid': 'runs-table' },
      h('thead', {}, h('tr', {}, ['Status', 'Kind', 'What', 'Created', 'Took', 'Worker / backend'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody,
    ),
  );
  root.append(pageHeader('Runs', 'Every job of this studio, newest first, with its record, images and a re-run button. The list updates live.'), count, table);

  const jobs = new Map<string, JobInfo>();
  const rowOf = (j: JobInfo) =>
    h(
      'tr',
      { 'data-job': j.id, 'data-status': j.status },
      h('td', {}, statusBadge(j.status)),
      h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(j.id)}` }, kindLabel(j.kind))),
      h('td', { class: 'what' }, summary(j), j.error ? h('div', { class: 'error-text' }, j.error.message) : null),
      h('td', { class: 'nowrap' }, h('time', { datetime: j.createdAt }, formatTime(j.createdAt))),
      h('td', { class: 'nowrap num' }, duration(j)),
      h('td', { class: 'muted' }, workerText(j)),
    );
  const draw = () => {
    const list = [...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    replace(tbody, list.length ? list.map(rowOf) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No runs yet. Start one on the Style, Visualize or Caption page.')));
    const running = list.filter((j) => j.status === 'running').length;
    const queued = list.filter((j) => j.status === 'queued').length;
    count.textContent = `${list.length} run${list.length === 1 ? '' : 's'}${running ? `, ${running} running` : ''}${queued ? `, ${queued} queued` : ''}`;
  };
  let frame = 0;
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(() => ((frame = 0), draw()));
  };
  const close = watchAll((e: JobEvent) => {
    if (e.type === 'status') jobs.set(e.job.id, e.job);
    else if (e.type === 'progress') {
      const j = jobs.get(e.id);
      if (!j) return;
      jobs.set(e.id, { ...j, progress: e.progress });
    } else return;
    schedule();
  });
  api
    .jobs({ limit: 200 })
    .then((list) => {
      for (const j of list) if (!jobs.has(j.id) || jobs.get(j.id)!.status === j.status) jobs.set(j.id, j);
      draw();
    })
    .catch((err) => showBanner(err, 'listing the runs'));
  return () => {
    close();
    cancelAnimationFrame(frame);
  };
}

export function runPage(root: HTMLElement, id = ''): () => void {
  const actions = h('div', { class: 'actions' });
  const viewSlot = h('div', {});
  const inputEl = h('pre', { class: 'json' });
  const gallery = h('div', { class: 'gallery' });
  const files = h('ul', { class: 'files' });
  const record = h('pre', { class: 'json' });
  const recordBox = h('section', { class: 'run-section record', hidden: true }, h('h2', {}, 'Run record (run.json)'), record);
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/runs' }, '← All runs')),
    pageHeader(`Run ${id}`),
    actions,
    viewSlot,
    h('section', { class: 'run-section' }, h('h2', {}, 'Images'), gallery),
    h('section', { class: 'run-section' }, h('h2', {}, 'Files'), files),
    h('div', { class: 'run-details' }, h('section', { class: 'run-section' }, h('h2', {}, 'Input'), inputEl), recordBox),
  );
  let stop: (() => void) | undefined;
  let view: JobView | undefined;
  let recordLoaded = false;

  const drawSide = (j: JobInfo) => {
    const rerun = h('button', { type: 'button', class: 'primary', 'data-testid': 'rerun' }, 'Re-run');
    rerun.addEventListener('click', async () => {
      rerun.disabled = true;
      try {
        const fresh = await api.rerun(j.id);
        location.hash = `#/runs/${encodeURIComponent(fresh.id)}`;
      } catch (err) {
        rerun.disabled = false;
        showBanner(err, 're-run');
      }
    });
    const cancel = !isFinal(j.status) ? h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel-run' }, 'Cancel') : null;
    cancel?.addEventListener('click', async () => {
      cancel.disabled = true;
      try {
        view?.update({ type: 'status', job: await api.cancel(j.id) });
      } catch (err) {
        cancel.disabled = false;
        showBanner(err, 'cancel');
      }
    });
    replace(actions, rerun, cancel, h('span', { class: 'muted' }, `${kindLabel(j.kind)} · created ${formatTime(j.createdAt)}${j.attempts > 1 ? ` · attempt ${j.attempts}` : ''}${j.worker ? ` · ${j.worker.host} pid ${j.worker.pid}${j.worker.backend ? ` · ${j.worker.backend}` : ''}` : ''}`));
    inputEl.textContent = JSON.stringify(j.input, null, 2);
    const images = j.artifacts.filter((a) => a.mime.startsWith('image/'));
    replace(
      gallery,
      images.length
        ? images.map((a) => h('figure', { class: 'panel' }, h('a', { href: fileUrl(j.id, a.path), target: '_blank', rel: 'noopener' }, h('img', { src: fileUrl(j.id, a.path, a.version), alt: a.label ?? a.path, loading: 'lazy' })), h('figcaption', {}, a.label ?? a.path)))
        : h('p', { class: 'muted' }, isFinal(j.status) ? 'This run wrote no images.' : 'No images yet.'),
    );
    replace(
      files,
      j.artifacts.length
        ? j.artifacts.map((a) => h('li', {}, h('a', { href: fileUrl(j.id, a.path), download: a.path.split('/').pop() }, a.path), h('span', { class: 'muted' }, ` ${a.mime}, ${formatBytes(a.bytes)}${a.label ? `, ${a.label}` : ''}`)))
        : h('li', { class: 'muted' }, 'none yet'),
    );
    const rec = j.artifacts.find((a) => /(^|\/)run\.json$/.test(a.path));
    if (rec && isFinal(j.status) && !recordLoaded) {
      recordLoaded = true;
      api
        .fileText(j.id, rec.path)
        .then((text) => {
          try {
            record.textContent = JSON.stringify(JSON.parse(text), null, 2);
          } catch {
            record.textContent = text;
          }
          recordBox.hidden = false;
        })
        .catch((err) => showBanner(err, 'run record'));
    }
  };

  api
    .job(id)
    .then((job) => {
      view = new JobView(job, { title: kindLabel(job.kind) });
      viewSlot.replaceChildren(view.el);
      drawSide(job);
      if (!isFinal(job.status))
        stop = watchJob(
          id,
          (e) => {
            view?.update(e);
            if (view && (e.type === 'status' || e.type === 'artifact')) drawSide(view.job);
          },
          (m) => showBanner(m),
        );
    })
    .catch((err) => {
      if (err instanceof ApiError && err.status === 404) viewSlot.replaceChildren(h('div', { class: 'job-error', role: 'alert' }, `No run with id ${id}. `, h('a', { href: '#/runs' }, 'See all runs')));
      else showBanner(err, `run ${id}`);
    });
  return () => stop?.();
}
