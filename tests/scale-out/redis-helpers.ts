/**
 * Test fixtures for the Redis driver: Debian's redis-server on 127.0.0.1 on a free port (no persistence,
 * noeviction), and convlab-worker processes. Everything started here is stopped by stopAll().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
export const WORKER_BIN = fileURLToPath(new URL('../../packages/jobs/bin/convlab-worker.js', import.meta.url));

/** Why the Redis tests cannot run here, or undefined when they can (missing redis-server fails unless CONVLAB_SKIP_REDIS=1). */
export function redisSkipReason(): string | undefined {
  if (REDIS_SERVER) return undefined;
  if (process.env.CONVLAB_SKIP_REDIS === '1') return 'redis-server is not installed and CONVLAB_SKIP_REDIS=1: the Redis driver tests are skipped';
  throw new Error('redis-server is not installed (Debian: apt-get install redis-server); set CONVLAB_SKIP_REDIS=1 to skip these tests');
}

const started: ChildProcess[] = [];

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  started.push(proc);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return { url, process: proc };
    } catch {
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`redis-server did not answer on ${url}`);
}

export interface WorkerProcess {
  proc: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
}

export function startWorker(url: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const proc = spawn(process.execPath, [WORKER_BIN, '--queue', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONVLAB_PROGRESS: '0', ...env } });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, pid: proc.pid!, output: () => out, exited };
}

/** Resolve when `check` returns a value (polled), or reject after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms: number, every = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Kill everything this file started (SIGKILL to what is still running). */
export async function stopAll(): Promise<void> {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  await Promise.all(started.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
}
