import test from 'ava';
import { ConvlabError, formatError, runCli } from '../src/errors.js';

test('ConvlabError carries a hint, an exit code and a cause', (t) => {
  const cause = new Error('ENOENT');
  const err = new ConvlabError('image not found: a.png', { hint: 'check the path', exitCode: 2, cause });
  t.true(err instanceof Error);
  t.is(err.name, 'ConvlabError');
  t.is(err.hint, 'check the path');
  t.is(err.exitCode, 2);
  t.is(err.cause, cause);
  t.is(new ConvlabError('x').exitCode, 1);
});

test('formatError: one line, stack only when verbose', (t) => {
  const err = new ConvlabError('unknown layer "conv9"', { hint: 'valid layers: conv1, conv2' });
  t.is(formatError(err), 'error: unknown layer "conv9" — valid layers: conv1, conv2');
  t.is(formatError(new ConvlabError('no hint')), 'error: no hint');
  t.true(formatError(err, true).startsWith('error: unknown layer "conv9" — valid layers: conv1, conv2\n'));
  t.true(formatError(err, true).includes('errors.test.ts'));
  t.is(formatError(new TypeError('boom')), 'error: boom (run with --verbose for the stack trace)');
  t.regex(formatError(new TypeError('boom'), true), /^TypeError: boom\n\s+at /);
  t.is(formatError('plain string'), 'error: plain string');
});

async function captureCli(argv: string[], main: (argv: string[], signal: AbortSignal) => Promise<void>) {
  const saved = { argv: process.argv, exitCode: process.exitCode, write: process.stderr.write };
  const out: string[] = [];
  process.argv = ['node', 'cli', ...argv];
  process.exitCode = undefined;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await runCli(main);
    return { stderr: out.join(''), exitCode: process.exitCode as number | string | undefined };
  } finally {
    process.argv = saved.argv;
    process.exitCode = saved.exitCode;
    process.stderr.write = saved.write;
  }
}

test.serial('runCli passes argv, prints user errors as one line and sets the exit code', async (t) => {
  let seen: string[] = [];
  const ok = await captureCli(['--size', '256'], async (argv) => {
    seen = argv;
  });
  t.deepEqual(seen, ['--size', '256']);
  t.is(ok.stderr, '');
  t.is(ok.exitCode, undefined);

  const user = await captureCli([], async () => {
    throw new ConvlabError('style image not found: x.jpg', { hint: 'check the path', exitCode: 2 });
  });
  t.is(user.stderr, 'error: style image not found: x.jpg — check the path\n');
  t.is(user.exitCode, 2);

  const bug = await captureCli([], async () => {
    throw new RangeError('index out of range');
  });
  t.is(bug.stderr, 'error: index out of range (run with --verbose for the stack trace)\n');
  t.is(bug.exitCode, 1);

  const verbose = await captureCli(['--verbose'], async () => {
    throw new RangeError('index out of range');
  });
  t.regex(verbose.stderr, /^RangeError: index out of range\n\s+at /);
});

test.serial('runCli turns the first Ctrl-C into an abort signal and exits with 130', async (t) => {
  const before = process.listenerCount('SIGINT');
  let abortedInside = false;
  const res = await captureCli([], async (_argv, signal) => {
    process.emit('SIGINT');
    await new Promise((r) => setTimeout(r, 5));
    abortedInside = signal.aborted;
  });
  t.true(abortedInside);
  t.is(res.exitCode, 130);
  t.regex(res.stderr, /interrupt: finishing the current step/);
  t.is(process.listenerCount('SIGINT'), before, 'the SIGINT handler is removed afterwards');
});

test.serial('runCli treats SIGTERM like Ctrl-C (results kept) and exits with 143', async (t) => {
  const before = process.listenerCount('SIGTERM');
  let abortedInside = false;
  const res = await captureCli([], async (_argv, signal) => {
    process.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 5));
    abortedInside = signal.aborted;
  });
  t.true(abortedInside);
  t.is(res.exitCode, 143);
  t.regex(res.stderr, /SIGTERM: finishing the current step and saving results/);
  t.is(process.listenerCount('SIGTERM'), before, 'the SIGTERM handler is removed afterwards');
});

test('one Ctrl-C delivered twice (process group + a relaying wrapper) still saves; a later second Ctrl-C quits at once', async (t) => {
  const { spawn } = await import('node:child_process');
  const script = `
    import { runCli } from ${JSON.stringify(new URL('../src/errors.ts', import.meta.url).href)};
    await runCli(async (_argv, signal) => {
      const keepAlive = setInterval(() => undefined, 1000);
      process.stdout.write('ready\\n');
      await new Promise((r) => signal.addEventListener('abort', r));
      clearInterval(keepAlive);
      await new Promise((r) => setTimeout(r, 1500));
      process.stdout.write('saved\\n');
    });`;
  const run = (gapMs: number) =>
    new Promise<{ out: string; err: string; code: number | null }>((resolve) => {
      const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.on('data', (d) => {
        out += d;
        if (out === 'ready\n') {
          child.kill('SIGINT');
          setTimeout(() => child.kill('SIGINT'), gapMs);
        }
      });
      child.on('exit', (code) => resolve({ out, err, code }));
    });
  const duplicate = await run(50);
  t.is(duplicate.code, 130, duplicate.err);
  t.regex(duplicate.out, /saved/, 'the duplicate delivery did not cut the save short');
  t.notRegex(duplicate.err, /again: exiting now/);
  const twice = await run(1200);
  t.is(twice.code, 130, twice.err);
  t.notRegex(twice.out, /saved/);
  t.regex(twice.err, /SIGINT again: exiting now/);
});
