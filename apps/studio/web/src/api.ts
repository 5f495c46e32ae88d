/** The studio's HTTP API (apps/studio/API.md) as typed calls; every error becomes an ApiError with the field it is about. */
import type { JobArtifact, JobEvent, JobInfo, JobProgress, JobStatus } from '@convlab/jobs/kind';

export type { JobArtifact, JobEvent, JobInfo, JobProgress, JobStatus };

export const FINAL: readonly JobStatus[] = ['done', 'failed', 'cancelled'];
export const isFinal = (s: JobStatus): boolean => FINAL.includes(s);

/** A JSON Schema node as `optionsJsonSchema` writes it (zod 4's toJSONSchema plus our `placeholder` meta). */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  title?: string;
  placeholder?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
}

export interface KindInfo {
  kind: string;
  title: string;
  description: string;
  heavy: boolean;
  schema: JsonSchema;
}

export interface Sample {
  ref: string;
  name: string;
  url: string;
}
export interface Samples {
  content: Sample[];
  style: Sample[];
  [set: string]: Sample[];
}

export interface Upload {
  id: string;
  ref: string;
  url: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
}

export interface Health {
  ok: boolean;
  version: string;
  queue: { driver: string; concurrency: number };
}

export interface DemoJob {
  section: string;
  id: string;
  kind: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(`cannot reach the studio server (${(err as Error).message}); is it still running?`, 0);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = (data as { error?: { message?: string; field?: string; hint?: string } } | undefined)?.error;
    throw new ApiError(e?.message ?? `${method} ${path}: HTTP ${res.status} ${res.statusText}${text && !data ? `: ${text.slice(0, 200)}` : ''}`, res.status, e?.field, e?.hint);
  }
  return data as T;
}

export const api = {
  health: () => request<Health>('GET', '/api/health'),
  kinds: () => request<KindInfo[]>('GET', '/api/kinds'),
  samples: () => request<Samples>('GET', '/api/samples'),
  demo: () => request<{ jobs: DemoJob[] }>('GET', '/api/demo'),
  upload(file: File): Promise<Upload> {
    const form = new FormData();
    form.append('file', file, file.name);
    return request<Upload>('POST', '/api/uploads', form);
  },
  submit: (kind: string, input: Record<string, unknown>, id?: string) => request<JobInfo>('POST', '/api/jobs', id === undefined ? { kind, input } : { kind, input, id }),
  jobs(query: { kind?: string; status?: string; limit?: number } = {}): Promise<JobInfo[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    return request<JobInfo[]>('GET', `/api/jobs${s ? `?${s}` : ''}`);
  },
  job: (id: string) => request<JobInfo>('GET', `/api/jobs/${encodeURIComponent(id)}`),
  cancel: (id: string) => request<JobInfo>('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`),
  rerun: (id: string) => request<JobInfo>('POST', `/api/jobs/${encodeURIComponent(id)}/rerun`),
  fileText: async (id: string, path: string): Promise<string> => {
    const res = await fetch(fileUrl(id, path));
    if (!res.ok) throw new ApiError(`${path}: HTTP ${res.status}`, res.status);
    return res.text();
  },
};

/** URL of a file a job wrote; `version` busts the cache of a live artifact. */
export function fileUrl(id: string, path: string, version?: number): string {
  const p = path.split('/').map(encodeURIComponent).join('/');
  return `/api/jobs/${encodeURIComponent(id)}/files/${p}${version !== undefined ? `?v=${version}` : ''}`;
}

/** Cached kinds (one request per page load). */
let kindsPromise: Promise<KindInfo[]> | undefined;
export function kinds(): Promise<KindInfo[]> {
  kindsPromise ??= api.kinds().catch((err) => {
    kindsPromise = undefined;
    throw err;
  });
  return kindsPromise;
}
export async function kindInfo(kind: string): Promise<KindInfo> {
  const all = await kinds();
  const k = all.find((x) => x.kind === kind);
  if (!k) throw new ApiError(`the server has no job kind '${kind}' (it offers: ${all.map((x) => x.kind).join(', ') || 'none'})`, 0);
  return k;
}

let samplesPromise: Promise<Samples> | undefined;
export function samples(): Promise<Samples> {
  samplesPromise ??= api.samples().catch((err) => {
    samplesPromise = undefined;
    throw err;
  });
  return samplesPromise;
}

type Listener = (event: JobEvent) => void;

/**
 * Follow one job over SSE (GET /api/jobs/:id/events). The stream starts with a status event carrying the
 * current JobInfo; it is closed here after a final status so EventSource does not reconnect. Returns close().
 */
export function watchJob(id: string, listener: Listener, onError?: (message: string) => void): () => void {
  const source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  let closed = false;
  const close = () => {
    closed = true;
    source.close();
  };
  const handle = (e: MessageEvent<string>) => {
    let event: JobEvent;
    try {
      event = JSON.parse(e.data) as JobEvent;
    } catch {
      return;
    }
    listener(event);
    if (event.type === 'status' && isFinal(event.job.status)) close();
  };
  for (const type of ['status', 'progress', 'artifact', 'log']) source.addEventListener(type, handle as EventListener);
  source.onerror = () => {
    if (closed) return;
    // EventSource retries by itself while the server is reachable; a 404 or a dead server closes it for good.
    if (source.readyState === EventSource.CLOSED) onError?.(`lost the progress stream of job ${id}; reload the page to reconnect`);
  };
  return close;
}

/** Follow every job (GET /api/events); returns close(). */
export function watchAll(listener: Listener): () => void {
  const source = new EventSource('/api/events');
  const handle = (e: MessageEvent<string>) => {
    try {
      listener(JSON.parse(e.data) as JobEvent);
    } catch {
      /* a malformed line is not a job event */
    }
  };
  for (const type of ['status', 'progress', 'artifact', 'log', 'message']) source.addEventListener(type, handle as EventListener);
  return () => source.close();
}
