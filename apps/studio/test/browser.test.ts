/**
 * End to end in a real browser: the studio (server, embedded queue, the three pipelines' job kinds, the built
 * front end) in this process on a free loopback port, driven by Debian's chromium through playwright-core.
 * Each page is opened and used the way a person would: a small style job runs to its result (and one is
 * cancelled), a visualization shows its panels and a top-9 grid, a feature visualization shows its images, a sample photo is captioned and its attention
 * maps are stepped through, the Runs page lists the jobs and re-runs one. Screenshots of every page go to
 * apps/studio/test-artifacts/ (git-ignored).
 *
 * CONVLAB_SKIP_BROWSER=1 skips it (say so in the output); otherwise a missing chromium fails it: CI installs
 * Debian's `chromium` package. CONVLAB_CHROMIUM points at another binary.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createStudio, DEMO_JOBS, type DemoJob, type Studio } from '../src/server/index.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const CHROMIUM = process.env.CONVLAB_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = process.env.CONVLAB_SKIP_BROWSER === '1';
/** Model work on 2 shared cores: generous, but bounded. */
const JOB_MS = 300_000;

/** The fastest style run that still uses a real trained backbone (inception_v3 needs >= 75 px a side). */
const TINY_STYLE = { size: '64', backbone: 'mobilenet_v2', iterations: '12' };

/** A small landing demo: one tiny style job and one caption (the full demo is the CLI's business). */
const DEMO: DemoJob[] = [
  { section: 'style', kind: 'style.stylize', label: 'demo: dog in the style of The Starry Night', input: { content: 'sample:content/dog.jpg', style: ['sample:style/starry_night.jpg'], size: 64, iterations: 8, backbone: 'mobilenet_v2' } },
  ...DEMO_JOBS.filter((d) => d.kind === 'caption.predict').slice(0, 1),
];

let studio: Studio | undefined;
let browser: Browser | undefined;
let runsDir: string | undefined;
const pageErrors: string[] = [];

if (SKIP) {
  test('browser tests (skipped: CONVLAB_SKIP_BROWSER=1)', (t) => {
    t.log('CONVLAB_SKIP_BROWSER=1: the studio was not tested in a browser');
    t.pass();
  });
} else {
  test.before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium), point CONVLAB_CHROMIUM at one, or set CONVLAB_SKIP_BROWSER=1 to skip the browser tests`);
    }
    await mkdir(ARTIFACTS, { recursive: true });
    runsDir = await mkdtemp(join(tmpdir(), 'convlab-studio-browser-'));
    studio = await createStudio({ root: ROOT, runsDir, port: 0, demo: DEMO });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  test.after.always(async () => {
    await browser?.close();
    await studio?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  test.serial('landing page: the demo jobs run on the queue with live progress and show their results', async (t) => {
    const page = await open(t, '#/');
    t.is(await page.title(), 'Demo · convlab studio');
    t.is(await page.locator('.card').count(), 4);
    await page.locator('.demo-list .job[data-status="done"]').nth(DEMO.length - 1).waitFor({ timeout: JOB_MS });
    await expectImagesLoaded(t, page, '.demo-list img[data-testid="style-result"]');
    t.true((await page.locator('.demo-list [data-testid="caption-viewer"] .word').count()) > 1, 'the caption demo shows its words');
    await shot(page, 'landing');
  });

  test.serial('style page: errors next to the field, a run cancelled mid-way, a small run to its result', async (t) => {
    const page = await open(t, '#/style');
    await page.waitForSelector('select[name="backbone"]');
    // The form follows the schema: a field per option with its range.
    t.is(await page.getAttribute('input[name="size"]', 'min'), '16');
    t.truthy(await page.locator('select[name="optimizer"] option[value="adam"]').count());
    t.is(await page.locator('[data-field="content"] .thumb').count(), 7, 'the bundled content photos are offered');

    // An out-of-range size: the server's 400 names the field and the page shows it next to that field.
    await page.fill('input[name="size"]', '5');
    await page.click('[data-testid="start"]');
    const fieldError = page.locator('input[name="size"] ~ .field-error');
    await fieldError.waitFor({ state: 'visible' });
    t.regex((await fieldError.textContent()) ?? '', /size/);
    t.is(await page.getAttribute('input[name="size"]', 'aria-invalid'), 'true');

    // A long run: the live image and the loss curve appear, then Cancel stops it.
    await fillStyle(page, { ...TINY_STYLE, iterations: '2000' });
    await page.click('[data-testid="start"]');
    await page.waitForSelector('[data-testid="live-image"]:visible', { timeout: JOB_MS });
    await page.waitForSelector('.chart:not([hidden])', { timeout: JOB_MS });
    await expectImagesLoaded(t, page, '[data-testid="live-image"]');
    t.regex((await page.textContent('.progress-eta')) ?? '', /left/, 'an ETA is shown while running');
    await shot(page, 'style-running');
    await page.click('[data-testid="cancel"]');
    await page.waitForSelector('.job[data-status="cancelled"]', { timeout: 60_000 });
    t.regex((await page.textContent('.job-error')) ?? '', /Cancelled/);

    // A small run to its result, with the downloads.
    await fillStyle(page, TINY_STYLE);
    await page.click('[data-testid="start"]');
    await page.waitForSelector('img[data-testid="style-result"]', { timeout: JOB_MS });
    const [w] = await expectImagesLoaded(t, page, 'img[data-testid="style-result"]');
    t.is(w, 64, 'the result has the requested size');
    for (const name of ['result.png', 'run.json']) {
      const href = await page.getAttribute(`.result-style a[href$="/${name}"]`, 'href');
      t.truthy(href, `a download link for ${name}`);
      const res = await page.request.get(studio!.url + href);
      t.is(res.status(), 200, `${name} downloads`);
    }
    const record = (await (await page.request.get(studio!.url + (await page.getAttribute('.result-style a[href$="/run.json"]', 'href')))).json()) as Record<string, unknown>;
    t.truthy(record.parameters, 'the run record has its parameters');
    await shot(page, 'style');
  });

  test.serial('visualize page: layer list, attribution panels side by side with timings, a top-9 grid', async (t) => {
    const page = await open(t, '#/visualize');
    await page.waitForSelector('.layer-table tbody tr', { timeout: JOB_MS });
    t.true((await page.locator('.layer-table tbody tr').count()) > 20, 'the layer list of mobilenet_v2');
    t.regex((await page.textContent('.layer-table tbody tr:nth-child(5)')) ?? '', /\d+×\d+×\d+/, 'shapes are listed');
    const checked = await Promise.all((await page.locator('.methods input:checked').all()).map((l) => l.getAttribute('value')));
    t.deepEqual(checked.sort(), ['deconvnet', 'gradcam', 'guided', 'occlusion']);
    // Pick a layer from the list: the layer field takes its name.
    await page.click('.layer-table button:text-is("block_6_expand_relu")');
    t.is(await page.inputValue('input[name="layer"]'), 'block_6_expand_relu');
    await page.fill('input[name="size"]', '96');
    await page.click('[data-testid="run-attribution"]');
    await page.locator('[data-testid="attribution-panels"] figure').nth(4).waitFor({ timeout: JOB_MS });
    t.is(await page.locator('[data-testid="attribution-panels"] figure').count(), 5);
    await expectImagesLoaded(t, page, '[data-testid="attribution-panels"] img');
    const captions = await page.$$eval('[data-testid="attribution-panels"] figcaption', (els) => els.map((e) => e.textContent ?? ''));
    t.deepEqual(
      captions.map((c) => c.replace(/ · .*/, '')),
      ['Input', 'Deconvnet', 'Guided backprop', 'Grad-CAM', 'Occlusion'],
    );
    t.true(captions.slice(1).every((c) => / · \d+\.\d\d s$/.test(c)), `each panel shows its time: ${captions.join(' | ')}`);
    await page.fill('input[name="unit"]', '7');
    await page.click('[data-testid="run-top9"]');
    await page.waitForSelector('.result-top9 img', { timeout: JOB_MS });
    await expectImagesLoaded(t, page, '.result-top9 img');
    t.regex((await page.textContent('.result-top9 figcaption')) ?? '', /Unit 7/);
    await shot(page, 'visualize');
  });

  test.serial('visualize page: a feature visualization forms live and shows its images; a bad objective is named', async (t) => {
    const page = await open(t, '#/visualize');
    await page.waitForSelector('.featureviz-section:not([hidden]) input[name="objective"]');
    t.true(await page.locator('[data-testid="run-dossier"]').isVisible(), 'the unit dossier is offered');
    // The objective follows the layer and unit until it is edited.
    await page.fill('input[name="layer"]', 'block_6_expand_relu');
    await page.fill('input[name="unit"]', '5');
    t.is(await page.inputValue('input[name="objective"]'), 'block_6_expand_relu:5');
    // A bad objective: the server's 400 names the field, shown next to it.
    await page.fill('input[name="objective"]', 'block_6_expand_relu:5 + ???');
    await page.click('[data-testid="run-featureviz"]');
    const objectiveError = page.locator('input[name="objective"] ~ .field-error');
    await objectiveError.waitFor({ state: 'visible' });
    t.regex((await objectiveError.textContent()) ?? '', /objective .*cannot read the term "\?\?\?"/);
    // A tiny run: 64 px, 8 steps, two diverse copies.
    await page.fill('input[name="objective"]', 'block_6_expand_relu:5');
    const form = page.locator('.featureviz-form');
    await form.locator('input[name="size"]').fill('64');
    await form.locator('input[name="steps"]').fill('8');
    await form.locator('input[name="copies"]').fill('2');
    await form.locator('input[name="diversity"]').fill('1');
    await page.click('[data-testid="run-featureviz"]');
    await page.waitForSelector('[data-testid="featureviz-images"] img', { timeout: JOB_MS });
    t.is(await page.locator('[data-testid="featureviz-images"] figure').count(), 2);
    const widths = await expectImagesLoaded(t, page, '[data-testid="featureviz-images"] img');
    t.deepEqual(widths, [64, 64], 'the images have the requested size');
    t.regex((await page.textContent('.result-featureviz')) ?? '', /Objective: block_6_expand_relu:5 \+ 1\*diversity:block_6_expand_relu · 8 of 8 steps/);
    t.regex((await page.textContent('[data-testid="featureviz-images"] figcaption')) ?? '', /objective .+ → .+/);
    // While it ran the page followed current.png (the job's live preview, last rewritten with the result).
    const job = await page.getAttribute('.featureviz-output .job', 'data-job');
    const info = (await (await page.request.get(`${studio!.url}/api/jobs/${job}`)).json()) as { artifacts: { path: string; version: number }[] };
    t.true(info.artifacts.some((a) => a.path === 'current.png' && a.version >= 2), 'the live preview was rewritten');
    await shot(page, 'featureviz');
  });

  test.serial('caption page: uploads checked, a sample captioned, attention maps stepped word by word', async (t) => {
    const page = await open(t, '#/caption');
    await page.waitForSelector('select[name="model"]');
    // Not an image: the server sniffs the bytes and refuses; the page says so next to the picker.
    await page.setInputFiles('[data-testid="image-upload"]', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image at all') });
    const pickerError = page.locator('[data-field="image"] .field-error');
    await pickerError.waitFor({ state: 'visible' });
    t.regex((await pickerError.textContent()) ?? '', /notes\.jpg/);
    // A real photo uploads and becomes the choice.
    await page.setInputFiles('[data-testid="image-upload"]', join(ROOT, 'assets/content/kite.jpg'));
    await page.waitForSelector('[data-field="image"] .thumb[data-ref^="upload:"][aria-checked="true"]');
    t.true(await pickerError.isHidden());
    // Caption a bundled sample.
    await page.click('[data-field="image"] .thumb[data-ref="sample:content/dog.jpg"]');
    await page.click('[data-testid="caption"]');
    await page.waitForSelector('[data-testid="caption-viewer"]', { timeout: JOB_MS });
    const words = page.locator('[data-testid="caption-viewer"] .word');
    const n = await words.count();
    t.true(n >= 3, `a caption of ${n} words`);
    const overlay = '[data-testid="attention-overlay"]';
    await expectImagesLoaded(t, page, `[data-testid="caption-viewer"] img.photo, ${overlay}`);
    const first = await page.getAttribute(overlay, 'src');
    t.regex(first ?? '', /att-0\.png$/);
    // → key: the next word's map.
    await page.keyboard.press('ArrowRight');
    const second = await page.getAttribute(overlay, 'src');
    t.not(second, first);
    t.regex(second ?? '', /att-1\.png$/);
    t.is(await words.nth(1).getAttribute('aria-pressed'), 'true');
    // ← key goes back; a word's button jumps to it.
    await page.keyboard.press('ArrowLeft');
    t.regex((await page.getAttribute(overlay, 'src')) ?? '', /att-0\.png$/);
    await words.nth(2).click();
    t.regex((await page.getAttribute(overlay, 'src')) ?? '', /att-2\.png$/);
    await expectImagesLoaded(t, page, overlay);
    // Play steps on by itself.
    await page.click('.caption-side button:has-text("Play")');
    await page.waitForFunction(`!/att-2\\.png$/.test(document.querySelector(${JSON.stringify(overlay)}).getAttribute('src'))`, undefined, { timeout: 10_000 });
    await page.click('.caption-side button:has-text("Pause")');
    await words.nth(2).click();
    await shot(page, 'caption');
  });

  test.serial('runs page: lists the jobs live; a run shows its record and re-runs', async (t) => {
    const page = await open(t, '#/runs');
    await page.waitForSelector('[data-testid="runs-table"] tbody tr[data-job]');
    const kinds = await page.$$eval('[data-testid="runs-table"] tbody tr[data-job] td:nth-child(2)', (els) => els.map((e) => e.textContent ?? ''));
    for (const k of ['Style · stylize', 'Visualize · attribute', 'Visualize · top9', 'Visualize · layers', 'Visualize · featureviz', 'Caption · predict']) t.true(kinds.includes(k), `${k} is listed`);
    t.true((await page.locator('tr[data-status="cancelled"]').count()) >= 1, 'the cancelled style run is listed as cancelled');
    t.regex((await page.textContent('[data-testid="runs-table"] tbody')) ?? '', /pid \d+/, 'worker and backend are shown');
    await shot(page, 'runs');

    // The finished style run: result, images, record.
    const styleRow = page.locator('tr[data-status="done"]', { hasText: 'Style · stylize' }).first();
    await styleRow.locator('a').click();
    await page.waitForSelector('.job[data-status="done"] img[data-testid="style-result"]');
    await page.waitForSelector('.record:not([hidden])');
    t.regex((await page.textContent('.record pre')) ?? '', /"parameters"/);
    t.true((await page.locator('.gallery img').count()) >= 2);
    await shot(page, 'run');

    // Re-run a caption job from its page: a new job with the same input, followed live to its end.
    await page.goto(`${studio!.url}/#/runs`);
    const captionRow = page.locator('tr[data-status="done"]', { hasText: 'Caption · predict' }).first();
    const oldId = await captionRow.getAttribute('data-job');
    await captionRow.locator('a').click();
    await page.click('[data-testid="rerun"]');
    await page.waitForFunction(`location.hash.startsWith('#/runs/') && !location.hash.endsWith(${JSON.stringify(oldId)})`);
    await page.waitForSelector('.job[data-status="done"] [data-testid="caption-viewer"]', { timeout: JOB_MS });
    t.pass();
  });

  test.serial('no page threw an uncaught error', (t) => {
    t.deepEqual(pageErrors, []);
  });
}

async function open(t: ExecutionContext, hash: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => page.close());
  page.on('pageerror', (e) => pageErrors.push(`${hash}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push(`${hash} console: ${m.text()}`);
  });
  await page.goto(`${studio!.url}/${hash}`);
  // Each test starts fresh: the tool pages reopen the session's last job otherwise.
  await page.evaluate('sessionStorage.clear()');
  return page;
}

async function fillStyle(page: Page, o: { size: string; backbone: string; iterations: string }): Promise<void> {
  await page.fill('input[name="size"]', o.size);
  await page.selectOption('select[name="backbone"]', o.backbone);
  await page.fill('input[name="iterations"]', o.iterations);
}

/** Every image matched has loaded with a real size; returns the first one's natural width. */
async function expectImagesLoaded(t: ExecutionContext, page: Page, selector: string): Promise<number[]> {
  // The callbacks run in the page; as strings, since this package is type-checked without the DOM library.
  const q = JSON.stringify(selector);
  await page.waitForFunction(`[...document.querySelectorAll(${q})].every((img) => img.complete)`, undefined, { timeout: 30_000 });
  const sizes = (await page.evaluate(`[...document.querySelectorAll(${q})].map((img) => [img.naturalWidth, img.naturalHeight, img.src])`)) as [number, number, string][];
  t.true(sizes.length > 0, `${selector}: no image`);
  for (const [w, h, src] of sizes) t.true(w > 0 && h > 0, `${src} did not load`);
  return sizes.map(([w]) => w);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.waitForTimeout(300); // let the chart and images paint
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
