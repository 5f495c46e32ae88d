import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core';
import { downloadFile, pullWeights } from '../src/pull.js';
import { KNOWN_WEIGHTS, knownWeights, readCacheRecord, verifyCachedWeights, type KnownWeights } from '../src/weights-cache.js';

const body = randomBytes(300_000);
const md5 = createHash('md5').update(body).digest('hex');
const sha256 = createHash('sha256').update(body).digest('hex');

interface Served {
  url: string;
  requests: { range?: string }[];
  /** Cut the connection of the next response after this many bytes. */
  cutAfter?: number;
  ignoreRange?: boolean;
  close(): Promise<void>;
}

/** A file server with Range support that can cut a response halfway. */
async function serve(): Promise<Served> {
  const state: Served = { url: '', requests: [], close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const range = req.headers.range;
    state.requests.push({ range });
    let from = 0;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && !state.ignoreRange) {
      from = Number(m[1]);
      if (from >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const slice = body.subarray(from);
    if (state.cutAfter !== undefined) {
      const n = state.cutAfter;
      state.cutAfter = undefined;
      res.write(slice.subarray(0, n), () => res.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  state.url = `http://127.0.0.1:${address.port}/weights.h5`;
  state.close = () => new Promise((resolve) => server.close(() => resolve()));
  return state;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'convlab-pull-'));
}

test('downloads, verifies md5 and sha256, renames into place', async (t) => {
  const server = await serve();
  const dir = await tmp();
  try {
    const dest = join(dir, 'a', 'weights.h5');
    const seen: number[] = [];
    const result = await downloadFile(server.url, dest, { md5, sha256, onProgress: (done) => seen.push(done) });
    t.is(result.md5, md5);
    t.is(result.sha256, sha256);
    t.is(result.resumedFrom, 0);
    t.deepEqual(await readFile(dest), body);
    t.false(existsSync(`${dest}.part`));
    t.is(seen[seen.length - 1], body.length);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a cut connection keeps the .part and the next try resumes with Range', async (t) => {
  const server = await serve();
  const dir = await tmp();
  try {
    const dest = join(dir, 'weights.h5');
    server.cutAfter = 100_000;
    const err = await t.throwsAsync(downloadFile(server.url, dest, { md5 }), { instanceOf: ConvlabError });
    t.regex(err!.hint ?? '', /again to resume/);
    t.false(existsSync(dest));
    const partial = (await stat(`${dest}.part`)).size;
    t.true(partial > 0 && partial < body.length);

    const result = await downloadFile(server.url, dest, { md5 });
    t.is(result.resumedFrom, partial);
    t.is(server.requests[1].range, `bytes=${partial}-`);
    t.deepEqual(await readFile(dest), body);
    t.false(existsSync(`${dest}.part`));
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that ignores Range makes the download start over', async (t) => {
  const server = await serve();
  const dir = await tmp();
  try {
    const dest = join(dir, 'weights.h5');
    server.cutAfter = 50_000;
    await t.throwsAsync(downloadFile(server.url, dest, { md5 }));
    server.ignoreRange = true;
    const result = await downloadFile(server.url, dest, { md5 });
    t.is(result.resumedFrom, 0);
    t.deepEqual(await readFile(dest), body);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('checksum mismatch deletes the download and leaves nothing in place', async (t) => {
  const server = await serve();
  const dir = await tmp();
  try {
    const dest = join(dir, 'weights.h5');
    const err = await t.throwsAsync(downloadFile(server.url, dest, { md5: '0'.repeat(32) }), { instanceOf: ConvlabError });
    t.regex(err!.message, /checksum mismatch/);
    t.false(existsSync(dest));
    t.false(existsSync(`${dest}.part`));
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('offline: a refused connection fails fast with one line saying where to place the file', async (t) => {
  const dir = await tmp();
  try {
    // A port that was just free: nothing listens there, the connection is refused at once.
    const port = await freePort();
    const dest = join(dir, 'vgg19', 'vgg19.h5');
    const err = await t.throwsAsync(downloadFile(`http://127.0.0.1:${port}/vgg19.h5`, dest), { instanceOf: ConvlabError });
    t.is(err!.message, `cannot reach 127.0.0.1:${port} (ECONNREFUSED): no network?`);
    t.true(err!.hint!.includes(dest));
    t.false(err!.message.includes('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that never answers times out with the same one-line advice', async (t) => {
  const sockets: import('node:net').Socket[] = [];
  const server = createNetServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dir = await tmp();
  try {
    const dest = join(dir, 'w.h5');
    const err = await t.throwsAsync(downloadFile(`http://127.0.0.1:${port}/w.h5`, dest, { connectTimeoutMs: 300 }), { instanceOf: ConvlabError });
    t.regex(err!.message, /no answer within 0\.3 s/);
    t.true(err!.hint!.includes(dest));
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

test('pullWeights writes the cache record with the sha256, is idempotent, and verify re-hashes', async (t) => {
  const server = await serve();
  const home = await tmp();
  const before = process.env.CONVLAB_HOME;
  try {
    process.env.CONVLAB_HOME = home;
    const source: KnownWeights = { model: 'vgg19', variant: 'notop', file: 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5', url: server.url, md5, description: 'test' };
    const dest = join(home, 'models', 'vgg19', source.file);
    const first = await pullWeights('vgg19', { source, dest });
    t.false(first.alreadyPresent);
    const record = await readCacheRecord(dest);
    t.is(record?.sha256, sha256);
    t.is(record?.how, 'download');
    const again = await pullWeights('vgg19', { source, dest });
    t.true(again.alreadyPresent);
    t.is(server.requests.length, 1);
    // verify checks the real published md5 of vgg19, which this random file cannot match.
    const verified = await verifyCachedWeights('vgg19');
    t.false(verified.ok);
    t.regex(verified.problem ?? '', /differs from the published/);
    t.is(verified.sha256, sha256);
  } finally {
    if (before === undefined) delete process.env.CONVLAB_HOME;
    else process.env.CONVLAB_HOME = before;
    await server.close();
    await rm(home, { recursive: true, force: true });
  }
});

// The zoo's files: every known file (classifier and trunk of each model) goes through the same paths.
const ZOO_KEYS = Object.keys(KNOWN_WEIGHTS).filter((k) => k.includes(':'));

test.serial('every zoo file: the mirror layout, and offline one line naming the file, where it goes and the pull command', async (t) => {
  t.is(ZOO_KEYS.length, 16); // 8 models x (top, notop)
  const home = await tmp();
  const before = { home: process.env.CONVLAB_HOME, mirror: process.env.CONVLAB_WEIGHTS_MIRROR };
  try {
    const port = await freePort();
    process.env.CONVLAB_HOME = home;
    process.env.CONVLAB_WEIGHTS_MIRROR = `http://127.0.0.1:${port}/keras/`;
    for (const key of ZOO_KEYS) {
      const known = knownWeights(key);
      t.is(known.url, `http://127.0.0.1:${port}/keras/${known.model}/${known.file}`, key);
      t.is(KNOWN_WEIGHTS[key].url.startsWith('https://storage.googleapis.com/tensorflow/keras-applications/'), true, key);
      const err = await t.throwsAsync(pullWeights(key), { instanceOf: ConvlabError });
      t.regex(err!.message, /ECONNREFUSED\): no network\?$/, key);
      const dest = join(home, 'models', known.model, known.file);
      t.true(err!.hint!.includes(`place ${known.file}`) && err!.hint!.includes(`at ${dest}`), err!.hint);
      t.true(err!.hint!.includes(`convlab-models pull ${known.model} --${known.variant}`), err!.hint);
      t.false(existsSync(dest));
    }
  } finally {
    process.env.CONVLAB_HOME = before.home;
    if (before.mirror === undefined) delete process.env.CONVLAB_WEIGHTS_MIRROR;
    else process.env.CONVLAB_WEIGHTS_MIRROR = before.mirror;
    await rm(home, { recursive: true, force: true });
  }
});

test.serial('every zoo file with a published md5 refuses a wrong download; MobileNetV2 (no hash) records its sha256, resumes, and is checked from then on', async (t) => {
  const server = await serve();
  const home = await tmp();
  const before = { home: process.env.CONVLAB_HOME, mirror: process.env.CONVLAB_WEIGHTS_MIRROR };
  try {
    process.env.CONVLAB_HOME = home;
    process.env.CONVLAB_WEIGHTS_MIRROR = server.url.replace(/\/weights\.h5$/, '');
    for (const key of ZOO_KEYS.filter((k) => KNOWN_WEIGHTS[k].md5)) {
      const err = await t.throwsAsync(pullWeights(key), { instanceOf: ConvlabError });
      t.regex(err!.message, new RegExp(`checksum mismatch .*md5 ${md5}, expected ${KNOWN_WEIGHTS[key].md5}`), key);
      t.false(existsSync(join(home, 'models', KNOWN_WEIGHTS[key].model, KNOWN_WEIGHTS[key].file)));
    }
    t.deepEqual(ZOO_KEYS.filter((k) => !KNOWN_WEIGHTS[k].md5).sort(), ['mobilenet_v2:notop', 'mobilenet_v2:top']);
    // Cut halfway: the .part stays; the next pull resumes with Range and records the sha256.
    server.cutAfter = 100_000;
    await t.throwsAsync(pullWeights('mobilenet_v2:top'), { instanceOf: ConvlabError, message: /stopped at/ });
    const result = await pullWeights('mobilenet_v2:top');
    t.true(result.resumedFrom > 0 && result.resumedFrom <= 100_000, String(result.resumedFrom));
    t.is(server.requests[server.requests.length - 1].range, `bytes=${result.resumedFrom}-`);
    t.is(result.sha256, sha256);
    const dest = join(home, 'models', 'mobilenet_v2', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5');
    t.is((await readCacheRecord(dest))?.sha256, sha256);
    t.true((await pullWeights('mobilenet_v2:top')).alreadyPresent);
    const ok = await verifyCachedWeights('mobilenet_v2:top');
    t.true(ok.ok);
    t.false(ok.md5Checked);
    // A changed file no longer matches the recorded sha256.
    const { appendFile } = await import('node:fs/promises');
    await appendFile(dest, 'x');
    const bad = await verifyCachedWeights('mobilenet_v2:top');
    t.false(bad.ok);
    t.regex(bad.problem ?? '', /differs from the one recorded/);
  } finally {
    process.env.CONVLAB_HOME = before.home;
    if (before.mirror === undefined) delete process.env.CONVLAB_WEIGHTS_MIRROR;
    else process.env.CONVLAB_WEIGHTS_MIRROR = before.mirror;
    await server.close();
    await rm(home, { recursive: true, force: true });
  }
});
