import test from 'ava';
import { Writable } from 'node:stream';
import { createProgress, formatDuration, formatRate, progressDisabled } from '../src/progress.js';

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('non-TTY: at most one line per 10% plus a closing line, with rate, ETA and fields', (t) => {
  const stream = new Capture();
  let clock = 0;
  const p = createProgress({ total: 1000, label: 'style', unit: 'iter', stream, mode: 'lines', now: () => clock });
  for (let i = 1; i <= 1000; i++) {
    clock += 500; // 0.5 s per iteration
    p.update(i, { loss: 1e5 / i });
  }
  p.stop();
  p.stop(); // idempotent
  const lines = stream.text.trim().split('\n');
  // 10%, 20%, ..., 90% at most, plus time-based lines (every 30 s = 60 iterations would be 16; the 10% rule wins) and the final one.
  t.true(lines.length <= 9 + 17 + 1, `${lines.length} lines`);
  t.true(lines.length >= 10);
  t.regex(lines[0], /^style: \d+% \(\d+\/1000 iter\), 2\.00 iter\/s, ETA /);
  t.regex(lines[0], /loss=/);
  t.regex(lines.at(-1)!, /^style: 100% \(1000\/1000 iter\), 2\.00 iter\/s, took 8m 20s, loss=100$/);
});

test('a resumed run counts its rate and ETA from where it started', (t) => {
  const stream = new Capture();
  let clock = 0;
  const p = createProgress({ total: 1000, label: 'train', unit: 'step', stream, mode: 'lines', now: () => clock, initial: 600 });
  for (let i = 601; i <= 1000; i++) {
    clock += 500;
    p.update(i);
  }
  p.stop();
  const lines = stream.text.trim().split('\n');
  // 2 steps per second over the 400 steps of this run (not 1000 / 200 s), and the ETA of what is left.
  t.regex(lines[0], /^train: 60% \(601\/1000 step\), 2\.00 step\/s, ETA 3m 20s$/);
  t.regex(lines.at(-1)!, /^train: 100% \(1000\/1000 step\), 2\.00 step\/s, took 3m 20s$/);
});

test('non-TTY with slow steps prints on the 30 s clock, fast steps only on 10% marks', (t) => {
  const fast = new Capture();
  let clock = 0;
  const p = createProgress({ total: 10_000, label: 'fast', stream: fast, mode: 'lines', now: () => clock });
  for (let i = 1; i <= 10_000; i++) {
    clock += 1;
    p.increment();
  }
  p.stop();
  t.is(fast.text.trim().split('\n').length, 10); // 10%..90% + final

  const slow = new Capture();
  clock = 0;
  const q = createProgress({ total: 1000, label: 'slow', stream: slow, mode: 'lines', now: () => clock });
  for (let i = 1; i <= 20; i++) {
    clock += 10_000; // 10 s per step: 2% per step, so only the clock triggers lines
    q.increment(1, { 's/iter': 10 });
  }
  const lines = slow.text.trim().split('\n');
  t.true(lines.length >= 6 && lines.length <= 7, `${lines.length} lines in 200 s`);
  t.regex(lines[0], /10\.0 s\/it/);
});

test('silent mode and CONVLAB_PROGRESS=0 print nothing', (t) => {
  const stream = new Capture();
  const p = createProgress({ total: 10, label: 'x', stream, mode: 'silent' });
  for (let i = 0; i < 10; i++) p.increment();
  p.stop();
  t.is(stream.text, '');
  t.true(progressDisabled({ CONVLAB_PROGRESS: '0' }));
  t.true(progressDisabled({ CONVLAB_PROGRESS: 'off' }));
  t.false(progressDisabled({}));
  const prev = process.env.CONVLAB_PROGRESS;
  process.env.CONVLAB_PROGRESS = '0';
  try {
    const s2 = new Capture();
    const q = createProgress({ total: 5, label: 'y', stream: s2 });
    q.update(5);
    q.stop();
    t.is(s2.text, '');
  } finally {
    if (prev === undefined) delete process.env.CONVLAB_PROGRESS;
    else process.env.CONVLAB_PROGRESS = prev;
  }
});

test('TTY mode draws a cli-progress bar with the label, counts and fields', (t) => {
  const stream = new Capture();
  stream.isTTY = true;
  // cli-progress writes through cursor helpers that a plain Writable lacks.
  Object.assign(stream, { cursorTo: () => true, clearLine: () => true, moveCursor: () => true, columns: 120 });
  const p = createProgress({ total: 4, label: 'deconv', stream, mode: 'bar' });
  p.update(2, { loss: 0.5 });
  p.update(4);
  p.stop();
  t.regex(stream.text, /deconv .* 4\/4 it/);
  t.regex(stream.text, /loss=0\.5/);
});

test('fractional counts (MB) print with one decimal', (t) => {
  const stream = new Capture();
  let clock = 0;
  const p = createProgress({ total: 527.8, label: 'pull vgg19', unit: 'MB', stream, mode: 'lines', now: () => clock });
  clock += 1000;
  p.update(60.123456);
  p.stop();
  t.regex(stream.text, /^pull vgg19: 11% \(60\.1\/527\.8 MB\), 60\.1 MB\/s, ETA /);
});

test('duration and rate formatting', (t) => {
  t.is(formatDuration(3.25), '3.3s');
  t.is(formatDuration(75), '1m 15s');
  t.is(formatDuration(3 * 3600 + 120), '3h 02m');
  t.is(formatDuration(Infinity), '?');
  t.is(formatRate(0.5, 'it'), '2.00 s/it');
  t.is(formatRate(12.5, 'img'), '12.5 img/s');
});
