/**
 * User-facing errors. A ConvlabError is something a user can fix (bad path, unknown layer, bad flag):
 * CLIs print its one-line message and hint without a stack trace unless --verbose.
 */
export class ConvlabError extends Error {
  /** What the user should do about it, printed after the message. */
  readonly hint?: string;
  /** Process exit code a CLI should use. */
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConvlabError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** One line for the terminal: "error: <message> (<hint>)". */
export function formatError(err: unknown, verbose = false): string {
  if (err instanceof ConvlabError) {
    const line = `error: ${err.message}${err.hint ? ` — ${err.hint}` : ''}`;
    return verbose && err.stack ? `${line}\n${err.stack}` : line;
  }
  if (err instanceof Error) {
    const line = `error: ${err.message}`;
    return verbose && err.stack ? err.stack : `${line} (run with --verbose for the stack trace)`;
  }
  return `error: ${String(err)}`;
}

/**
 * Run a CLI entry point: prints errors as one line, sets the exit code, and turns SIGINT into an
 * AbortSignal so long work can save finished results before exiting.
 */
export async function runCli(main: (argv: string[], signal: AbortSignal) => Promise<void>): Promise<void> {
  const argv = process.argv.slice(2);
  const verbose = argv.includes('--verbose') || process.env.CONVLAB_VERBOSE === '1';
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) {
      process.stderr.write('\ninterrupted twice: exiting now\n');
      process.exit(130);
    }
    process.stderr.write('\ninterrupt: finishing the current step and saving results (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    await main(argv, controller.signal);
    if (controller.signal.aborted) process.exitCode = 130;
  } catch (err) {
    process.stderr.write(formatError(err, verbose) + '\n');
    process.exitCode = err instanceof ConvlabError ? err.exitCode : 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
