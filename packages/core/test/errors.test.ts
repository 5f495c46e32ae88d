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
