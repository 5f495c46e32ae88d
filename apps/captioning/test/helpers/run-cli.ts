/** Run convlab-caption's bin as a user would: a child process, its own exit code, stdout and stderr. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/convlab-caption.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `onStderr` sees the stderr text so far after each chunk and may return a signal to send (once), e.g.
 * SIGTERM once "epoch 1:" appears.
 */
export function runCaption(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; onStderr?: (text: string) => NodeJS.Signals | undefined } = {}): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, CONVLAB_PROGRESS: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!signalled && options.onStderr) {
        const sig = options.onStderr(stderr);
        if (sig) {
          signalled = true;
          child.kill(sig);
        }
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`convlab-caption ${args.join(' ')} hung (killed after ${options.timeoutMs ?? 180000} ms)\n${stderr.slice(-2000)}`));
    }, options.timeoutMs ?? 180000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}
