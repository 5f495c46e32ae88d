/** The studio's front end: hash routes (#/, #/style, #/style/fast, #/visualize, #/caption, #/runs, #/runs/<id>), one page at a time. */
import { api } from './api.js';
import { h } from './dom.js';
import { captionPage } from './pages/caption.js';
import { landingPage } from './pages/landing.js';
import { runPage, runsPage } from './pages/runs.js';
import { stylePage } from './pages/style.js';
import { fastStylePage } from './pages/style-fast.js';
import { visualizePage } from './pages/visualize.js';
import { clearBanner, showBanner } from './ui.js';

/** A page draws itself into `root` and returns what to stop (event streams, timers) when the user leaves. */
export type Page = (root: HTMLElement, param?: string) => (() => void) | void;

const routes: { pattern: RegExp; page: Page; nav: string; title: string }[] = [
  { pattern: /^\/?$/, page: landingPage, nav: '#/', title: 'Demo' },
  { pattern: /^\/style\/?$/, page: stylePage, nav: '#/style', title: 'Style' },
  { pattern: /^\/style\/fast\/?$/, page: fastStylePage, nav: '#/style', title: 'Fast style' },
  { pattern: /^\/visualize\/?$/, page: visualizePage, nav: '#/visualize', title: 'Visualize' },
  { pattern: /^\/caption\/?$/, page: captionPage, nav: '#/caption', title: 'Caption' },
  { pattern: /^\/runs\/?$/, page: runsPage, nav: '#/runs', title: 'Runs' },
  { pattern: /^\/runs\/([^/]+)$/, page: runPage, nav: '#/runs', title: 'Run' },
];

let cleanup: (() => void) | void;

function route(): void {
  const path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  const main = document.getElementById('main');
  if (!main) return;
  if (cleanup) cleanup();
  cleanup = undefined;
  clearBanner();
  main.replaceChildren();
  const hit = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav.site-nav a')) {
    if (hit && a.getAttribute('href') === hit.r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!hit || !hit.m) {
    main.appendChild(h('div', { class: 'empty' }, h('h1', {}, 'Page not found'), h('p', {}, `No page at #${path}. `, h('a', { href: '#/' }, 'Back to the demo'))));
    document.title = 'convlab studio';
    return;
  }
  document.title = `${hit.r.title} · convlab studio`;
  try {
    cleanup = hit.r.page(main, hit.m[1]);
  } catch (err) {
    showBanner(err, 'this page failed to draw');
  }
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => showBanner(e.reason, 'unexpected error'));
route();

api
  .health()
  .then((hl) => {
    const el = document.getElementById('queue-info');
    if (el) el.textContent = `v${hl.version} · ${hl.queue.driver} queue, ${hl.queue.concurrency} heavy job${hl.queue.concurrency === 1 ? '' : 's'} at a time`;
  })
  .catch((err) => showBanner(err, 'the studio server does not answer'));
