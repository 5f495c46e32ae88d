/** Helpers for the studio's API and load tests: a studio on loopback over the fixture kinds, and an SSE reader. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { JobEvent, JobInfo } from '@convlab/jobs/kind';
import { createStudio, type Studio, type StudioOptions } from '../src/server/index.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const FIXTURE_KINDS = fileURLToPath(new URL('./api-kinds.fixture.ts', import.meta.url));

/** A studio on 127.0.0.1 (free port) over the fixture kinds in a fresh runs folder, closed after the test. */
export async function fixtureStudio(t: ExecutionContext | undefined, options: Partial<StudioOptions> = {}): Promise<Studio> {
  const runsDir = options.runsDir ?? (await mkdtemp(join(tmpdir(), 'convlab-studio-')));
  const studio = await createStudio({ root: ROOT, runsDir, kindModules: [FIXTURE_KINDS], demo: false, buildWeb: false, ...options });
  t?.teardown(async () => {
    await studio.close();
    if (!options.runsDir) await rm(runsDir, { recursive: true, force: true });
  });
  return studio;
}

export async function json<T = unknown>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${res.status} ${res.headers.get('content-type')}): ${text.slice(0, 200)}`);
  }
}

export async function post(studio: Studio, path: string, body: unknown): Promise<Response> {
  return fetch(studio.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function submit(studio: Studio, kind: string, input: unknown, id?: string): Promise<JobInfo> {
  const res = await post(studio, '/api/jobs', { kind, input, ...(id ? { id } : {}) });
  const body = await json<JobInfo>(res);
  if (res.status !== 202) throw new Error(`submit ${kind}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function getJob(studio: Studio, id: string): Promise<JobInfo> {
  return json<JobInfo>(await fetch(`${studio.url}/api/jobs/${id}`));
}

/** Poll a job until `until` holds (default: a final status). */
export async function waitJob(studio: Studio, id: string, until: (j: JobInfo) => boolean = (j) => ['done', 'failed', 'cancelled'].includes(j.status), timeoutMs = 120_000): Promise<JobInfo> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(studio, id);
    if (until(job)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface SseMessage {
  event: string;
  data: unknown;
}

export interface SseClient {
  /** Messages so far (comments are counted in `comments`). */
  messages: SseMessage[];
  comments: string[];
  retry?: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  headers: Headers;
  status: number;
  /** Resolves once a message satisfying `pred` has arrived. */
  waitFor(pred: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  close(): void;
}

/** An EventSource-like reader over fetch (Node has no EventSource), parsing the stream as a browser would. */
export async function openSse(url: string): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  const client: SseClient = {
    messages: [],
    comments: [],
    headers: res.headers,
    status: res.status,
    ended: Promise.resolve(),
    waitFor: () => Promise.reject(new Error('stream not open')),
    close: () => controller.abort(),
  };
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    client.ended = res.text().then(() => undefined);
    return client;
  }
  const waiters = new Set<() => void>();
  let ended = false;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  client.ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            else if (line.startsWith('retry:')) client.retry = Number(line.slice(6));
          }
          if (data.length) client.messages.push({ event, data: JSON.parse(data.join('\n')) });
          for (const w of [...waiters]) w();
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      ended = true;
      for (const w of [...waiters]) w();
    }
  })();
  client.waitFor = (pred, timeoutMs = 60_000) =>
    new Promise((done, fail) => {
      const check = () => {
        const m = client.messages.find(pred);
        if (m) {
          waiters.delete(check);
          clearTimeout(timer);
          done(m);
        } else if (ended) {
          waiters.delete(check);
          clearTimeout(timer);
          fail(new Error('the stream ended first'));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        fail(new Error(`no matching event in ${timeoutMs} ms; got ${client.messages.map((m) => m.event).join(',')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return client;
}

export const statusOf = (m: SseMessage): string | undefined => (m.event === 'status' ? (m.data as Extract<JobEvent, { type: 'status' }>).job.status : undefined);
