/**
 * convlab-style on bad input and when stopped: every numeric flag has a range and a message naming it, and
 * SIGTERM keeps the current image and its record. (The output checks are @convlab/style's: its outputs.test.ts.)
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError } from '@convlab/core';
import { main, parseCliArgs } from '../src/cli-main.js';

const BIN = fileURLToPath(new URL('../bin/convlab-style.js', import.meta.url));
const CONTENT = fileURLToPath(new URL('../../../assets/content/tubingen.jpg', import.meta.url));
const STYLE = fileURLToPath(new URL('../../../assets/style/starry_night.jpg', import.meta.url));
const base = ['--content', CONTENT, '--style', STYLE];

const ranged: [string[], string][] = [
  [['--iterations', '0'], '--iterations 0 is out of range: it must be an integer >= 1 and <= 100000'],
  [['--iterations', '2.5'], '--iterations 2.5 is out of range'],
  [['--stage-iterations', '0'], '--stage-iterations 0 is out of range'],
  [['--lr', '-1'], '--lr -1 is out of range: it must be a number > 0'],
  [['--lr', '0'], '--lr 0 is out of range'],
  [['--content-weight', '-1'], '--content-weight -1 is out of range: it must be a number >= 0'],
  [['--style-weight', '-0.5'], '--style-weight -0.5 is out of range'],
  [['--tv-weight', '-1'], '--tv-weight -1 is out of range'],
  [['--style-blend', '1,-1'], '--style-blend -1 is out of range'],
  [['--style-layer-weights', '1,-2'], '--style-layer-weights -2 is out of range'],
  [['--size', '0'], '--size 0 is out of range: it must be an integer >= 16 and <= 8192'],
  [['--size', '9000'], '--size 9000 is out of range'],
  [['--style-scale', '0'], '--style-scale 0 is out of range: it must be a number > 0 and <= 8'],
  [['--save-every', '0'], '--save-every 0 is out of range: it must be an integer >= 1'],
  [['--sw-projections', '0'], '--sw-projections 0 is out of range: it must be an integer >= 1'],
  [['--softmax-temperature', '-1'], '--softmax-temperature -1 is out of range: it must be a number >= 0'],
  [['--max-memory-gb', '0'], '--max-memory-gb 0 is out of range: it must be a number > 0'],
  [['--seed', '-1'], '--seed -1 is out of range: it must be an integer >= 0'],
  [['--seed', '1.5'], '--seed 1.5 is out of range'],
  [['--multiscale', '8,64'], '--multiscale 8 is out of range: it must be an integer >= 16'],
  [['--iterations', 'ten'], '--iterations "ten" is not a number'],
  [['--optimizer', 'sgd'], '--optimizer "sgd" is not one of the choices'],
  [['--backbone', 'resnet'], '--backbone "resnet" is not one of the choices'],
];

for (const [args, message] of ranged) {
  test(`refuses ${args.join(' ')} naming the flag`, (t) => {
    const err = t.throws(() => parseCliArgs([...base, ...args]), { instanceOf: ConvlabError });
    t.true(err!.message.startsWith(message), err!.message);
  });
}

test('cross-option checks name the flags; good values pass', (t) => {
  t.throws(() => parseCliArgs([...base, '--multiscale', '128,200', '--size', '256']), { message: /^--multiscale: the last stage \(200\) must equal size \(256\)/ });
  t.throws(() => parseCliArgs([...base, '--content-weight', '0', '--style-weight', '0']), { message: /^--style-weight: content and style weights are both 0/ });
  const r = parseCliArgs([...base, '--lr', '0.5', '--size', '64', '--iterations', '3', '--save-every', '1', '--max-memory-gb', '2']);
  if (r.help) return t.fail('not a help request');
  t.is(r.options.lr, 0.5);
  t.is(r.options.maxMemoryGb, 2);
  // Commander takes a negative number after a flag as its value (no --lr=-1 rewriting needed); both forms reach the range check.
  t.throws(() => parseCliArgs([...base, '--lr=-1', '--quiet']), { message: /^--lr -1 is out of range/ });
  t.throws(() => parseCliArgs([...base, '--quiet', '--lr', '-1', '-o', 'x.png']), { message: /^--lr -1 is out of range/ });
});

test('stopped before the first iteration: nothing is written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'style-abort0-'));
  const controller = new AbortController();
  controller.abort();
  const write = process.stderr.write.bind(process.stderr);
  const lines: string[] = [];
  process.stderr.write = ((c: string) => (lines.push(String(c)), true)) as typeof process.stderr.write;
  try {
    await main([...base, '--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '3', '--quiet', '--backend', 'wasm', '--output', join(dir, 'out', 'r.png')], controller.signal);
  } finally {
    process.stderr.write = write;
  }
  t.regex(lines.join(''), /interrupted before the first iteration: nothing written/);
  t.false(existsSync(join(dir, 'out')));
  await rm(dir, { recursive: true, force: true });
});

test('SIGTERM keeps the current image, its run record and loss plot, and exits 143', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'style-sigterm-'));
  const out = join(dir, 'r.png');
  const child = spawn(process.execPath, [BIN, ...base, '--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '400', '--output', out], {
    env: { ...process.env, CONVLAB_BACKEND: process.env.CONVLAB_BACKEND ?? 'wasm', CONVLAB_PROGRESS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    // The first progress line comes after 10% of the iterations: stop the run there.
    if (!sent && /stylize: \d+%/.test(stderr)) {
      sent = true;
      child.kill('SIGTERM');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.true(sent, stderr);
  t.is(code, 143, stderr);
  t.regex(stderr, /SIGTERM: finishing the current step/);
  t.regex(stderr, /interrupted: saved the current image/);
  for (const f of ['r.png', 'r.json', 'r-loss.png']) t.true(existsSync(join(dir, f)), f);
  const record = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8'));
  t.true(record.extra.aborted);
  t.true(record.extra.iterationsDone >= 40 && record.extra.iterationsDone < 400, String(record.extra.iterationsDone));
  t.is(record.steps.length, record.extra.iterationsDone);
  await rm(dir, { recursive: true, force: true });
});
