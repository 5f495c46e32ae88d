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

/** Exit code of a batch that completed but skipped some bad items (see BatchFailures). */
export const EXIT_SOME_FAILED = 3;

/**
 * Run a CLI entry point: prints errors as one line, sets the exit code, and turns SIGINT (Ctrl-C) and
 * SIGTERM (what `timeout`, docker and Slurm send) into an AbortSignal so long work can save finished
 * results before exiting. A second signal exits at once. Exit codes: 130 after SIGINT, 143 after
 * SIGTERM (128 + the signal number, as shells report them).
 *
 * One Ctrl-C can arrive twice: the terminal signals the whole process group, and a wrapper in that group
 * (npm scripts run through tsx, whose parent relays signals to its child when the child is slow to say it
 * got them) forwards its copy too. A repeat of the same signal within DUPLICATE_SIGNAL_MS of the first is
 * therefore that one Ctrl-C, not a request to quit now.
 */
/** A repeat of the first signal within this many ms is the same Ctrl-C delivered twice (see runCli). */
export const DUPLICATE_SIGNAL_MS = 1000;

export async function runCli(main: (argv: string[], signal: AbortSignal) => Promise<void>): Promise<void> {
  const argv = process.argv.slice(2);
  const verbose = argv.includes('--verbose') || process.env.CONVLAB_VERBOSE === '1';
  const controller = new AbortController();
  let interrupts = 0;
  let signalCode = 0;
  let first: { name: string; at: number } | undefined;
  const onSignal = (name: 'SIGINT' | 'SIGTERM') => () => {
    if (first && first.name === name && Date.now() - first.at < DUPLICATE_SIGNAL_MS) return;
    first ??= { name, at: Date.now() };
    interrupts += 1;
    const code = name === 'SIGINT' ? 130 : 143;
    if (interrupts > 1) {
      process.stderr.write(`\n${name} again: exiting now\n`);
      process.exit(code);
    }
    signalCode = code;
    const again = name === 'SIGINT' ? 'Ctrl-C again to quit now' : 'send it again to quit now';
    process.stderr.write(`\n${name === 'SIGINT' ? 'interrupt' : 'SIGTERM'}: finishing the current step and saving results (${again})\n`);
    controller.abort();
  };
  const onSigint = onSignal('SIGINT');
  const onSigterm = onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    await main(argv, controller.signal);
    if (controller.signal.aborted) process.exitCode = signalCode || 130;
  } catch (err) {
    process.stderr.write(formatError(err, verbose) + '\n');
    process.exitCode = controller.signal.aborted && !(err instanceof ConvlabError) ? signalCode : err instanceof ConvlabError ? err.exitCode : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}

/**
 * A batch that skips bad items instead of dying: record each failure (name and reason), keep going,
 * print one summary line at the end and set the exit code (EXIT_SOME_FAILED) when any item failed.
 */
export class BatchFailures {
  readonly items: { item: string; reason: string }[] = [];

  constructor(private readonly what = 'item', private readonly log: (line: string) => void = (l) => process.stderr.write(l + '\n')) {}

  /** Record a failed item and print one line naming it and why; rethrows non-user errors when asked. */
  add(item: string, err: unknown): void {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    this.items.push({ item, reason });
    this.log(`skipped ${this.what} ${item}: ${reason}`);
  }

  get count(): number {
    return this.items.length;
  }

  /** Print "N of M <what>s failed" and set process.exitCode; returns whether any failed. */
  finish(total: number): boolean {
    if (this.items.length === 0) return false;
    this.log(`${this.items.length} of ${total} ${this.what}s failed and were skipped (listed above); the others completed`);
    process.exitCode = EXIT_SOME_FAILED;
    return true;
  }
}
