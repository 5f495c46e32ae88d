/**
 * Screenshot of the studio's Fast (feed-forward) style page with the bundled networks, for apps/studio/docs:
 * starts a studio on a free port (no demo jobs), opens #/style/fast in Debian's chromium, waits for the
 * automatic preview of the default photo, and writes the page.
 *   npx tsx --conditions=@convlab/source tools/experiments/studio-fast-shot.ts [--out apps/studio/docs/style-fast.png]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'apps/studio/docs/style-fast.png' } } });
const root = process.cwd();
const runs = await mkdtemp(join(tmpdir(), 'convlab-shot-'));
process.chdir(join(root, 'apps/studio'));
const { createStudio } = await import(join(root, 'apps/studio/src/server/index.ts'));
const studio = await createStudio({ root, runsDir: runs, port: 0, demo: false, kindModules: ['@convlab/style/jobs'] });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${studio.url}/#/style/fast`);
  await page.waitForSelector('.tool-output .job[data-status="done"] img[data-testid="fast-result"]', { timeout: 240_000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: resolve(root, values.out), fullPage: true });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
  await studio.close();
  await rm(runs, { recursive: true, force: true });
}
