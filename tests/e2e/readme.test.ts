/**
 * The README's two commands. The first (`npm ci && npm start`) starts the studio: here it is started
 * without its demo and stopped with Ctrl-C, and the static demo page (`--demo-only`) runs in quick mode;
 * .ci/run also runs the first command on a fresh clone with oneDNN hidden, demo jobs included
 * (scripts/fresh-clone-check.sh).
 * The second (`npm test`) is what CI runs, so this test only checks it is the script it names.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
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

test('npm start starts the studio on loopback, prints its URL, serves the page and stops on Ctrl-C', async (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'convlab-studio-'));
  const child = spawn('npm', ['start', '--silent', '--', '--port', '0', '--no-demo', '--runs', runs], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? String(code))));
  // npm can die of the SIGINT before the studio below it has printed its last line: the pipes close when every
  // process holding them (the studio too) has exited.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /^convlab studio: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
        if (m) {
          clearInterval(timer);
          resolve(m[1]);
        }
      }, 100);
      void exited.then((code) => {
        clearInterval(timer);
        reject(new Error(`npm start exited (${code}) before printing its URL:\n${err.slice(-2000)}`));
      });
    });
    const page = await fetch(url);
    t.is(page.status, 200);
    t.regex(await page.text(), /<script/);
    const health = (await (await fetch(url + 'api/health')).json()) as { ok: boolean };
    t.true(health.ok);
  } finally {
    process.kill(-child.pid!, 'SIGINT');
  }
  // npm itself dies of the SIGINT (as after Ctrl-C in a terminal); the studio below it must stop cleanly.
  t.true(['0', '130', 'SIGINT'].includes(await exited), err.slice(-2000));
  const stopped = await Promise.race([closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000))]);
  t.true(stopped, 'every process of npm start exited within 30 s of Ctrl-C');
  t.regex(out + err, /studio: stopped/);
});

test('npm start -- --demo-only --quick writes the demo page with every section, on the backend it names', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'convlab-demo-')), 'demo');
  const r = spawnSync('npm', ['start', '--silent', '--', '--demo-only', '--quick', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  t.is(r.status, 0, r.stderr.slice(-3000));
  t.regex(r.stderr, /^convlab: backend (native|wasm|cpu|tensorflow) /m);
  t.regex(r.stdout, /demo page: .*index\.html/);
  t.true(existsSync(join(out, 'index.html')));
  const demo = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8'));
  t.deepEqual(demo.sections.map((s: { id: string }) => s.id), ['models', 'style', 'deconvnet', 'captioning']);
  t.deepEqual(demo.sections.filter((s: { ok: boolean }) => !s.ok), []);
  t.true(demo.quick);
});

test('npm start -- --demo-only refuses an output folder under /proc at once', (t) => {
  const r = spawnSync('npm', ['start', '--silent', '--', '--demo-only', '--quick', '--out', '/proc/convlab-demo'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /^error: --out \/proc\/convlab-demo is on .*pseudo file system/m);
});
