/**
 * The Style page's fast (feed-forward) mode in a real browser (Debian's chromium through playwright-core), on a
 * studio in this process with the style kinds and a bundled-networks folder the test writes
 * (CONVLAB_FAST_NETS_DIR, set before the kinds module loads and inherited by the workers): one tiny random
 * network named the_scream. The mode switch leads to #/style/fast; the network and the first photo are picked,
 * and the stylized photo appears without a button being pressed, equal to what the network makes of the photo
 * (fastStylize here); choosing another photo, uploading one and setting a size each run it again by themselves.
 * A second studio (a child process: the kinds module reads the folder when it is imported) over an empty
 * folder shows that no network is bundled, with the train-fast command.
 * Screenshots: test-artifacts/style-fast.png, style-fast-none.png.
 *
 * CONVLAB_SKIP_BROWSER=1 skips it (and says so); otherwise a missing chromium fails it. CONVLAB_CHROMIUM points at
 * another binary.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Studio } from '../src/server/index.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const STUDIO_DIR = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const CHROMIUM = process.env.CONVLAB_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = process.env.CONVLAB_SKIP_BROWSER === '1';
const JOB_MS = 180_000;

let tmp = '';
let nets = '';
let studio: Studio | undefined;
let browser: Browser | undefined;
let child: ChildProcess | undefined;
const pageErrors: string[] = [];

if (SKIP) {
  test('fast style page in a browser (skipped: CONVLAB_SKIP_BROWSER=1)', (t) => {
    t.log('CONVLAB_SKIP_BROWSER=1: the fast style page was not tested in a browser');
    t.pass();
  });
} else {
  test.before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium), point CONVLAB_CHROMIUM at one, or set CONVLAB_SKIP_BROWSER=1 to skip the browser tests`);
    }
    await mkdir(ARTIFACTS, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'convlab-studio-fast-'));
    nets = join(tmp, 'fast-nets');
    const { createTransformNet, saveTransformNet } = await import('@convlab/style');
    const net = createTransformNet({ channels: 4, residualBlocks: 1 }, { seed: 3 });
    await saveTransformNet(net, join(nets, 'the_scream'));
    net.dispose();
    // Before the kinds module is imported (the server imports it in createStudio) and before the workers fork.
    process.env.CONVLAB_FAST_NETS_DIR = nets;
    const { createStudio } = await import('../src/server/index.js');
    studio = await createStudio({ root: ROOT, runsDir: join(tmp, 'runs'), port: 0, demo: false, kindModules: ['@convlab/style/jobs'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  test.after.always(async () => {
    await browser?.close();
    await studio?.close();
    if (child && child.exitCode === null) child.kill('SIGTERM');
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test.serial('fast mode: pick a network and a photo, the stylized photo appears by itself and follows each change', async (t) => {
    const page = await open(t, studio!.url, '#/style');
    await page.waitForSelector('[data-testid="mode-optimize"][aria-current="page"]');
    await page.click('[data-testid="mode-fast"]');
    await page.waitForFunction('location.hash === "#/style/fast"');
    t.is(await page.getAttribute('[data-testid="mode-fast"]', 'aria-current'), 'page');

    // The bundled network, with its painting as the thumbnail; chosen, and the first photo too.
    const netButton = page.locator('[data-testid="fast-nets"] .thumb[data-net="the_scream"]');
    await netButton.waitFor();
    t.is(await page.locator('[data-testid="fast-nets"] .thumb').count(), 1);
    t.is(await netButton.getAttribute('aria-checked'), 'true');
    await expectImagesLoaded(t, page, '[data-testid="fast-nets"] img');
    const first = await page.getAttribute('[data-field="content"] .thumb[aria-checked="true"]', 'data-ref');
    t.is(first, 'sample:content/dog.jpg');

    // No button pressed: the job ran on the choice and its result is shown.
    const result = await waitResult(page);
    t.is(result.status, 'done');
    const [w] = await expectImagesLoaded(t, page, 'img[data-testid="fast-result"]');
    t.is(w, 512, 'dog.jpg keeps its 512 px');
    t.regex((await page.textContent('[data-testid="fast-caption"]')) ?? '', /^the scream · 512×384 · network \d+(\.\d)? ms$/);
    // The image is the network's output for the photo (the same network, applied here).
    const { fastStylize } = await import('@convlab/style');
    const want = await fastStylize({ net: join(nets, 'the_scream'), content: join(ROOT, 'assets/content/dog.jpg'), out: 'unused.png' });
    const served = await page.request.get(studio!.url + (await page.getAttribute('img[data-testid="fast-result"]', 'src')));
    const got = await sharp(await served.body()).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    t.deepEqual([got.info.width, got.info.height], [want.image.width, want.image.height]);
    t.true(Buffer.from(want.image.data).equals(got.data), 'result.png is fastStylize of the photo');
    for (const name of ['result.png', 'run.json']) {
      const href = await page.getAttribute(`.result-fast a[href$="/${name}"]`, 'href');
      t.is((await page.request.get(studio!.url + href)).status(), 200, `${name} downloads`);
    }
    const record = (await (await page.request.get(studio!.url + (await page.getAttribute('.result-fast a[href$="/run.json"]', 'href')))).json()) as { timings?: Record<string, unknown>; tool: string };
    t.is(record.tool, 'convlab-style fast');
    t.regex(JSON.stringify(record.timings), /network/);

    // Another photo: a new job by itself.
    await page.click('[data-field="content"] .thumb[data-ref="sample:content/kite.jpg"]');
    const kite = await waitResult(page, result.id);
    t.deepEqual(kite.input, { net: 'the_scream', content: 'sample:content/kite.jpg' });
    t.deepEqual(await expectImagesLoaded(t, page, 'img[data-testid="fast-result"]'), [512]);
    t.regex((await page.textContent('[data-testid="fast-caption"]')) ?? '', /512×341/);

    // An upload becomes the photo and runs.
    const png = await sharp({ create: { width: 60, height: 44, channels: 3, background: { r: 40, g: 160, b: 90 } } }).png().toBuffer();
    await page.setInputFiles('[data-testid="content-upload"]', { name: 'green.png', mimeType: 'image/png', buffer: png });
    const uploaded = await waitResult(page, kite.id);
    t.regex(String((uploaded.input as { content: string }).content), /^upload:[a-f0-9]{32}$/);
    t.regex((await page.textContent('[data-testid="fast-caption"]')) ?? '', /60×44/);

    // A size: the photo is resized first.
    await page.click('[data-field="content"] .thumb[data-ref="sample:content/dog.jpg"]');
    const again = await waitResult(page, uploaded.id);
    await page.fill('input[name="size"]', '128');
    await page.locator('input[name="size"]').dispatchEvent('change');
    const sized = await waitResult(page, again.id);
    t.like(sized.input, { size: 128 });
    t.regex((await page.textContent('[data-testid="fast-caption"]')) ?? '', /128×96/);
    await page.fill('input[name="size"]', '');
    await page.locator('input[name="size"]').dispatchEvent('change');
    await waitResult(page, sized.id);
    await expectImagesLoaded(t, page, '.result-fast img');
    await shot(page, 'style-fast');
  });

  test.serial('no bundled network: the page says so and shows the train-fast command', async (t) => {
    const empty = join(tmp, 'no-nets');
    await mkdir(empty, { recursive: true });
    const url = await startChildStudio(empty, join(tmp, 'runs-none'));
    const page = await open(t, url, '#/style/fast');
    const notice = page.locator('[data-testid="fast-none"]');
    await notice.waitFor();
    t.regex((await notice.textContent()) ?? '', /No fast network is bundled/);
    t.is(
      await notice.locator('pre code').textContent(),
      `node apps/style-transfer/bin/convlab-style.js train-fast --style assets/style/the_scream.jpg --content-dir photos/ --out ${join(empty, 'the_scream')}`,
    );
    t.is(await page.locator('[data-testid="fast-form"]').count(), 0, 'nothing to pick');
    await shot(page, 'style-fast-none');
  });

  test.serial('no page threw an uncaught error', (t) => {
    t.deepEqual(pageErrors, []);
  });
}

/** The next job shown on the fast page (not `previous`), once finished. */
async function waitResult(page: Page, previous?: string): Promise<{ id: string; status: string; input: unknown }> {
  const sel = `.tool-output .job[data-status="done"]${previous ? `:not([data-job="${previous}"])` : ''} img[data-testid="fast-result"]`;
  await page.waitForSelector(sel, { timeout: JOB_MS });
  const id = (await page.getAttribute('.tool-output .job', 'data-job'))!;
  const job = (await (await page.request.get(`${new URL(page.url()).origin}/api/jobs/${id}`)).json()) as { id: string; status: string; input: unknown };
  return job;
}

/** A studio in a child process over another bundled folder (this process's kinds module has read its own). */
async function startChildStudio(netsDir: string, runsDir: string): Promise<string> {
  const code = `
    const { createStudio } = await import('./src/server/index.ts');
    const s = await createStudio({ root: ${JSON.stringify(ROOT)}, runsDir: ${JSON.stringify(runsDir)}, port: 0, demo: false, buildWeb: false, kindModules: ['@convlab/style/jobs'] });
    console.log('URL ' + s.url);
    process.on('SIGTERM', () => s.close().then(() => process.exit(0)));`;
  child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@convlab/source', '--input-type=module', '-e', code], { cwd: STUDIO_DIR, env: { ...process.env, CONVLAB_FAST_NETS_DIR: netsDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolveUrl, reject) => {
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /URL (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1]);
    });
    child!.once('exit', (c) => reject(new Error(`the child studio exited (${c}): ${err}`)));
  });
}

async function open(t: ExecutionContext, base: string, hash: string): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => page.close());
  page.on('pageerror', (e) => pageErrors.push(`${hash}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push(`${hash} console: ${m.text()}`);
  });
  await page.goto(`${base}/${hash}`);
  await page.evaluate('sessionStorage.clear()');
  return page;
}

/** Every image matched has loaded with a real size; returns their natural widths. */
async function expectImagesLoaded(t: ExecutionContext, page: Page, selector: string): Promise<number[]> {
  const q = JSON.stringify(selector);
  await page.waitForFunction(`[...document.querySelectorAll(${q})].every((img) => img.complete)`, undefined, { timeout: 30_000 });
  const sizes = (await page.evaluate(`[...document.querySelectorAll(${q})].map((img) => [img.naturalWidth, img.naturalHeight, img.src])`)) as [number, number, string][];
  t.true(sizes.length > 0, `${selector}: no image`);
  for (const [w, h, src] of sizes) t.true(w > 0 && h > 0, `${src} did not load`);
  return sizes.map(([w]) => w);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
