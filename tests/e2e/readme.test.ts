/**
 * The README's two commands. The first (`npm ci && npm start`) runs here in quick mode in this
 * checkout; .ci/run also runs it on a fresh clone with oneDNN hidden (scripts/fresh-clone-check.sh).
 * The second (`npm test`) is what CI runs, so this test only checks it is the script it names.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../bad-input/harness.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('the README gives exactly two commands for a newcomer, and they are the scripts CI runs', (t) => {
  const block = /## Two commands\s+```sh\n([\s\S]*?)```/.exec(readme);
  t.truthy(block, 'README has a "Two commands" sh block');
  const commands = block![1].split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  t.deepEqual(commands, ['npm ci && npm start', 'npm test']);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  t.truthy(pkg.scripts.start);
  t.regex(pkg.scripts.test, /run-many -t lint typecheck test/);
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  t.regex(ci, /scripts\/fresh-clone-check\.sh/, 'CI runs the first command on a fresh clone');
  t.regex(ci, /^npm test$/m, 'CI runs the second command');
});

test('npm start -- --quick writes the demo page with every section, on the backend it names', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'convlab-demo-')), 'demo');
  const r = spawnSync('npm', ['start', '--silent', '--', '--quick', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  t.is(r.status, 0, r.stderr.slice(-3000));
  t.regex(r.stderr, /^convlab: backend (native|wasm|cpu|tensorflow) /m);
  t.regex(r.stdout, /demo page: .*index\.html/);
  t.true(existsSync(join(out, 'index.html')));
  const demo = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8'));
  t.deepEqual(demo.sections.map((s: { id: string }) => s.id), ['models', 'style', 'deconvnet', 'captioning']);
  t.deepEqual(demo.sections.filter((s: { ok: boolean }) => !s.ok), []);
  t.true(demo.quick);
});

test('npm start refuses an output folder under /proc at once', (t) => {
  const r = spawnSync('npm', ['start', '--silent', '--', '--quick', '--out', '/proc/convlab-demo'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /^error: --out \/proc\/convlab-demo is on .*pseudo file system/m);
});
