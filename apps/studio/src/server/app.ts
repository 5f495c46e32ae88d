/**
 * The studio server: a Fastify app over one JobQueue. It validates requests, resolves image references,
 * streams job events over SSE and serves files; it never runs a model itself (every model call is a job
 * on @convlab/jobs). The HTTP contract is apps/studio/API.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { ConvlabError } from '@convlab/core/light';
import { FINAL_STATUSES, type JobEvent, type JobInfo, type JobStatus } from '@convlab/jobs/kind';
import { createEmbeddedQueue, type JobQueue } from '@convlab/jobs';
import { HttpError, notFound, toErrorResponse } from './errors.js';
import { DEFAULT_KIND_MODULES, loadKinds, type KindEntry } from './kinds.js';
import { References } from './references.js';
import { SseHub, PING_MS } from './sse.js';
import { DEFAULT_UPLOAD_LIMITS, UploadStore, tooLarge, type UploadLimits } from './uploads.js';
import { DEMO_JOBS, submitDemo, type DemoJob } from './demo.js';

export interface StudioOptions {
  /** The repository root (assets/, apps/studio/web-dist/). */
  root: string;
  /** Runs folder: jobs, their files and uploads (default `<root>/runs/studio`). */
  runsDir?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Heavy jobs at a time (default 1). */
  concurrency?: number;
  /** A queue to use instead of the embedded one (the studio does not close a queue it was given). */
  queue?: JobQueue;
  /**
   * A Redis URL (redis://host:port): jobs go to convlab-worker machines through @convlab/jobs' Redis driver,
   * with the same kinds modules (start workers with --kinds for them and --runs at this runs folder's path).
   */
  redisUrl?: string;
  /** Kind modules (package specifiers or absolute paths); default the three pipelines'. */
  kindModules?: readonly string[];
  /** Submit the landing page's demo jobs at start (default true). */
  demo?: boolean | readonly DemoJob[];
  uploadLimits?: Partial<UploadLimits>;
  /** Build the front end into web-dist at start (default true; the tests turn it off). */
  buildWeb?: boolean;
  /** SSE keep-alive interval (default 15 s; tests shorten it). */
  pingMs?: number;
  /** Fastify's request log (default off). */
  logger?: boolean;
}

export interface Studio {
  app: FastifyInstance;
  queue: JobQueue;
  /** `http://host:port` once listening. */
  url: string;
  port: number;
  runsDir: string;
  /** The demo jobs submitted at start (empty with demo: false). */
  demo: { section: string; id: string; kind: string }[];
  /** Events written to SSE clients so far. */
  readonly eventsDelivered: number;
  /** Stop taking requests, end the SSE streams, let running responses finish, close the queue. */
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const studioDir = resolve(here, '../..');
const version = (JSON.parse(readFileSync(join(studioDir, 'package.json'), 'utf8')) as { version: string }).version;

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed', 'cancelled'];

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export async function createStudio(options: StudioOptions): Promise<Studio> {
  const root = resolve(options.root);
  const runsDir = resolve(options.runsDir ?? join(root, 'runs/studio'));
  const host = options.host ?? '127.0.0.1';
  const concurrency = options.concurrency ?? 1;
  const limits: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...options.uploadLimits };
  const kindModules = options.kindModules ?? DEFAULT_KIND_MODULES;
  const webDist = join(studioDir, 'web-dist');
  await mkdir(join(runsDir, 'uploads'), { recursive: true });
  const runsReal = await realpath(runsDir);

  const kinds = await loadKinds(kindModules);
  const ownQueue = !options.queue;
  let driver: Record<string, unknown> = { driver: ownQueue ? 'embedded' : 'custom', concurrency };
  let redisQueue: import('@convlab/jobs/redis').RedisJobQueue | undefined;
  if (!options.queue && options.redisUrl) {
    // Loaded only when asked for: the Redis driver (BullMQ); progress of sharded runs comes from its events.
    const { createRedisQueue, safeUrl } = await import('@convlab/jobs/redis');
    redisQueue = await createRedisQueue({ url: options.redisUrl, modules: [...kindModules], runsDir });
    driver = { driver: 'redis', url: safeUrl(options.redisUrl), runsDir };
  }
  const queue =
    options.queue ??
    redisQueue ??
    (await createEmbeddedQueue({
      runsDir,
      modules: kindModules,
      concurrency,
    }));
  const uploads = new UploadStore(join(runsDir, 'uploads'), limits);
  const refs = new References(join(root, 'assets'), uploads);
  const hub = new SseHub();
  const pingMs = options.pingMs ?? PING_MS;

  try {
    if (options.buildWeb !== false) await buildFrontEnd(webDist);
  } catch (err) {
    if (ownQueue) await queue.close();
    throw new ConvlabError(`the front end did not build: ${(err as Error).message.split('\n')[0]}`, { hint: 'fix apps/studio/web/ (or run the API alone with buildWeb: false)', cause: err });
  }

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1024 * 1024, forceCloseConnections: 'idle' });
  const publicJob = (job: JobInfo): JobInfo => refs.toRefs(job);
  // One event goes to every subscribed client: map its paths to references once.
  const publicEvents = new WeakMap<JobEvent, JobEvent>();
  const publicEvent = (e: JobEvent): JobEvent => {
    if (e.type !== 'status') return e;
    let out = publicEvents.get(e);
    if (!out) publicEvents.set(e, (out = { ...e, job: publicJob(e.job) }));
    return out;
  };

  app.setErrorHandler((err, request, reply) => {
    const kind = (request.body as { kind?: unknown } | undefined)?.kind;
    const entry = typeof kind === 'string' ? kinds.get(kind) : undefined;
    const { status, body } = toErrorResponse(err, entry?.fields);
    if (status >= 500) request.log.error(err);
    if (status >= 500 && !options.logger) process.stderr.write(`studio: ${request.method} ${request.url}: ${(err as Error).stack ?? String(err)}\n`);
    void reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { message: `no such page: ${request.method} ${request.url.split('?')[0]}`, hint: 'the API is under /api (see apps/studio/API.md); pages are hash routes of /' } });
  });

  await app.register(fastifyMultipart, { limits: { fileSize: limits.maxBytes, files: 1, fields: 4, parts: 8 }, throwFileSizeLimit: true });
  await mkdir(webDist, { recursive: true });
  // max-age=0: the browser revalidates (ETag) so a rebuilt main.js is picked up at once.
  await app.register(fastifyStatic, { root: webDist, prefix: '/', index: false, wildcard: true, maxAge: 0 });
  for (const set of ['content', 'style']) {
    const dir = join(root, 'assets', set);
    if (existsSync(dir)) await app.register(fastifyStatic, { root: dir, prefix: `/samples/${set}/`, decorateReply: false, index: false, maxAge: '1h' });
  }

  // ---- pages and meta
  app.get('/', async (_request, reply) => {
    if (existsSync(join(webDist, 'index.html'))) return reply.header('Cache-Control', 'no-cache').sendFile('index.html');
    return reply.type('text/html; charset=utf-8').send(PLACEHOLDER);
  });
  app.get('/api/health', async () => ({
    ok: true,
    version,
    queue: {
      ...driver,
      driver: (queue as { driver?: string }).driver ?? driver.driver,
      // The Redis driver's workers (host, pid, backend) that reported in the last 30 s.
      ...(redisQueue ? { workers: await redisQueue.workers().catch(() => []) } : {}),
    },
    sse: { clients: hub.size, delivered: hub.delivered },
  }));
  app.get('/api/kinds', async () =>
    [...kinds.values()].map((e) => ({ kind: e.kind.kind, title: e.kind.title, description: e.kind.description, heavy: e.kind.heavy !== false, imageFields: e.imageFields, schema: e.schema })),
  );
  app.get('/api/samples', async () => refs.samples);

  // ---- uploads
  app.post('/api/uploads', async (request, reply) => {
    if (!request.isMultipart()) throw new HttpError(400, 'no file: send multipart/form-data with the image in the field "file"', { field: 'file', hint: 'e.g. curl -F file=@photo.jpg http://127.0.0.1:8765/api/uploads' });
    const part = await request.file();
    if (!part) throw new HttpError(400, 'no file in the upload', { field: 'file', hint: 'send the image in the multipart field "file"' });
    if (part.fieldname !== 'file') {
      part.file.resume();
      throw new HttpError(400, `the upload's field is "${part.fieldname}", not "file"`, { field: 'file', hint: 'send the image in the multipart field "file"' });
    }
    let bytes: Buffer;
    try {
      bytes = await part.toBuffer();
    } catch (err) {
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(limits.maxBytes);
      throw err;
    }
    // The client's file name (part.filename) and declared type (part.mimetype) are deliberately unused.
    const info = await uploads.save(bytes);
    return reply.status(201).send({ id: info.id, ref: info.ref, url: info.url, width: info.width, height: info.height, format: info.format, bytes: info.bytes });
  });
  app.get<{ Params: { id: string } }>('/api/uploads/:id', async (request, reply) => {
    const info = await uploads.get(request.params.id);
    if (!info) throw notFound(`upload ${JSON.stringify(request.params.id)}`);
    const path = uploads.pathOf(info);
    return reply.header('Cache-Control', 'public, max-age=31536000, immutable').header('X-Content-Type-Options', 'nosniff').type(info.mime).sendFile(basename(path), dirname(path));
  });

  // ---- jobs
  const entryOf = (kind: unknown): KindEntry => {
    if (typeof kind !== 'string' || !kind) throw new HttpError(400, 'kind: missing', { field: 'kind', hint: `use one of: ${[...kinds.keys()].join(', ')}` });
    const entry = kinds.get(kind);
    if (!entry) throw new HttpError(400, `kind: unknown job kind "${kind}"`, { field: 'kind', hint: `use one of: ${[...kinds.keys()].join(', ')}` });
    return entry;
  };
  const submit = async (kind: string, rawInput: unknown, id?: string, label?: string): Promise<JobInfo> => {
    const entry = entryOf(kind);
    const input = await refs.resolveInput(rawInput, entry.imageFields);
    try {
      return await queue.submit(kind, input, { id, label });
    } catch (err) {
      if (err instanceof ConvlabError) {
        const { body } = toErrorResponse(err, entry.fields);
        // Name the field inside `input`, as the schema does; the message already reads "field: ...".
        throw new HttpError(400, body.error.message, { field: body.error.field, hint: body.error.hint });
      }
      throw err;
    }
  };
  const jobOr404 = async (id: string): Promise<JobInfo> => {
    const job = JOB_ID.test(id) ? await queue.get(id) : undefined;
    if (!job) throw notFound(`job ${JSON.stringify(id)}`, 'GET /api/jobs lists the jobs');
    return job;
  };

  app.post<{ Body: { kind?: unknown; input?: unknown; id?: unknown; label?: unknown } }>('/api/jobs', async (request, reply) => {
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'send a JSON body {"kind": ..., "input": {...}}', { hint: 'GET /api/kinds lists the kinds and their input schemas' });
    if (body.id !== undefined && (typeof body.id !== 'string' || !JOB_ID.test(body.id))) {
      throw new HttpError(400, 'id: a job id is 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit', { field: 'id' });
    }
    if (body.label !== undefined && (typeof body.label !== 'string' || body.label.length > 200)) throw new HttpError(400, 'label: a string of at most 200 characters', { field: 'label' });
    const job = await submit(body.kind as string, body.input, body.id as string | undefined, body.label as string | undefined);
    return reply.status(202).send(publicJob(job));
  });
  app.get<{ Querystring: { kind?: string; status?: string; limit?: string } }>('/api/jobs', async (request) => {
    const { kind, status, limit } = request.query;
    const statuses = status ? status.split(',').map((s) => s.trim()) : undefined;
    const bad = statuses?.find((s) => !STATUSES.includes(s as JobStatus));
    if (bad !== undefined) throw new HttpError(400, `status: "${bad}" is not a job status`, { field: 'status', hint: `use one of: ${STATUSES.join(', ')}` });
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new HttpError(400, `limit: "${limit}" is not a whole number from 1 to 1000`, { field: 'limit' });
    const jobs = await queue.list({ kind: kind || undefined, status: statuses as JobStatus[] | undefined, limit: n });
    return jobs.map(publicJob);
  });
  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => publicJob(await jobOr404(request.params.id)));
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request) => {
    await jobOr404(request.params.id);
    const job = await queue.cancel(request.params.id);
    if (!job) throw notFound(`job ${JSON.stringify(request.params.id)}`);
    return publicJob(job);
  });
  app.post<{ Params: { id: string } }>('/api/jobs/:id/rerun', async (request, reply) => {
    const old = await jobOr404(request.params.id);
    // Back to references and resolved again: a re-run reads only samples and uploads, like a new job.
    const job = await submit(old.kind, refs.toRefs(old.input), undefined, old.label);
    return reply.status(202).send(publicJob(job));
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', async (request, reply) => {
    const id = request.params.id;
    await jobOr404(id);
    const stream = hub.start(request, reply, pingMs);
    // Subscribe before the snapshot so nothing falls between them; events that arrive first wait for it.
    let pending: JobEvent[] | undefined = [];
    const forward = (e: JobEvent) => {
      stream.send(e.type, publicEvent(e));
      if (e.type === 'status' && FINAL_STATUSES.includes(e.job.status)) stream.end();
    };
    const unsubscribe = queue.subscribe((e: JobEvent) => (pending ? pending.push(e) : forward(e)), { id });
    stream.onClose(unsubscribe);
    const job = await queue.get(id);
    if (!job) return stream.end();
    stream.send('status', { type: 'status', job: publicJob(job) });
    if (FINAL_STATUSES.includes(job.status)) return stream.end();
    const early = pending;
    pending = undefined;
    for (const e of early) if (!stream.closed) forward(e);
  });
  app.get('/api/events', async (request, reply) => {
    const stream = hub.start(request, reply, pingMs);
    stream.onClose(queue.subscribe((e: JobEvent) => stream.send(e.type, publicEvent(e))));
  });

  app.get<{ Params: { id: string; '*': string } }>('/api/jobs/:id/files/*', async (request, reply) => {
    const job = await jobOr404(request.params.id);
    const rel = request.params['*'];
    const segments = rel.split('/');
    const what = `file ${JSON.stringify(rel)} of job ${job.id}`;
    if (!rel || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) throw notFound(what);
    const path = await queue.filePath(job.id, rel);
    if (!path) throw notFound(what);
    const real = await realpath(path).catch(() => undefined);
    if (!real || (ownQueue && !isSameOrInside(real, runsReal))) throw notFound(what);
    const artifact = job.artifacts.find((a) => a.path === rel);
    const mime = artifact?.mime ?? MIME[extname(rel).toLowerCase()] ?? 'application/octet-stream';
    const final = FINAL_STATUSES.includes(job.status);
    return reply
      .header('Cache-Control', final ? 'private, max-age=3600' : 'no-cache')
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox")
      .type(mime)
      .sendFile(basename(real), dirname(real));
  });

  // ---- demo
  const demoJobs = options.demo === false ? [] : options.demo === true || options.demo === undefined ? DEMO_JOBS : options.demo;
  const demo: Studio['demo'] = [];
  app.get('/api/demo', async () => ({ jobs: demo }));

  try {
    await app.listen({ host, port: options.port ?? 0 });
  } catch (err) {
    await app.close().catch(() => undefined);
    if (ownQueue) await queue.close();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new ConvlabError(`port ${options.port} on ${host} is already in use`, { hint: 'pick another with --port (or --port 0 for any free port)' });
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConvlabError(`cannot bind --host ${host}: no such interface on this machine`, { hint: 'use --host 127.0.0.1 (the default)' });
    if (code === 'EACCES') throw new ConvlabError(`port ${options.port} needs more privileges than this user has`, { hint: 'pick a port above 1023 with --port' });
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  for (const d of demoJobs) {
    const job = await submitDemo(d, (kind, input, id) => submit(kind, input, id, d.label));
    if (job) demo.push({ section: d.section, id: job.id, kind: d.kind });
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    queue,
    url: `http://${shownHost}:${port}`,
    port,
    runsDir,
    demo,
    get eventsDelivered() {
      return hub.delivered;
    },
    close() {
      closing ??= (async () => {
        hub.closeAll();
        await app.close();
        if (ownQueue) await queue.close();
      })();
      return closing;
    },
  };
}

/** Build the front end with the web helper's esbuild script, when it is there. */
async function buildFrontEnd(outDir: string): Promise<void> {
  const script = join(studioDir, 'web', 'build.ts');
  if (!existsSync(script)) return;
  const mod = (await import(pathToFileURL(script).href)) as { buildWeb?: (outDir: string) => Promise<unknown> };
  if (typeof mod.buildWeb !== 'function') throw new ConvlabError(`${script} exports no buildWeb(outDir)`);
  await mod.buildWeb(outDir);
}

function isSameOrInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>convlab studio</title>
<body style="font:16px system-ui;margin:3em">
<h1>convlab studio</h1>
<p>The server is running, but the front end has not been built (apps/studio/web-dist/index.html is missing).
The API is up: see <a href="/api/kinds">/api/kinds</a>, <a href="/api/jobs">/api/jobs</a>, <a href="/api/demo">/api/demo</a>.</p>
</body>`;
