/**
 * Downloads of weight files into the cache: streamed into `<file>.part`, resumed with an HTTP Range
 * request when a previous attempt was cut, checked against the published md5 (and sha256 when known),
 * then renamed into place, so the cache never holds a partial or unverified file under its real name.
 * Without a network it fails within ~10 s with one line saying which file to place where.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { once } from 'node:events';
import { ConvlabError } from '@convlab/core';
import { cachedWeightsPath, fileExists, hashFile, knownWeights, readCacheRecord, writeCacheRecord, type KnownWeights } from './weights-cache.js';

export interface DownloadOptions {
  /** Expected md5 / sha256 (hex); a mismatch deletes the download. */
  md5?: string;
  sha256?: string;
  signal?: AbortSignal;
  /** Called as bytes arrive; `total` is undefined when the server sends no length. */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Give up when no response headers came within this time (default 10 s). */
  connectTimeoutMs?: number;
  /** Give up when no data came for this long during the transfer (default 30 s); the .part is kept. */
  stallTimeoutMs?: number;
  /** What to tell the user to do when the network is unreachable (defaults to "place <file> at <dest>"). */
  offlineHint?: string;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** Bytes already present from an earlier, interrupted attempt. */
  resumedFrom: number;
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if ((e as Error).name === 'TimeoutError') return 'ETIMEDOUT';
  }
  return undefined;
}

/** The innermost message ('fetch failed' wraps the useful one). */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e && typeof e === 'object' && (e as { cause?: unknown }).cause) e = (e as { cause?: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** First byte offset of a 206 response ("bytes 100-199/200"). */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Download `url` to `dest` via `dest.part` (resuming it if present), verify, rename. Throws a
 * ConvlabError for offline machines, HTTP errors, cut connections (the .part stays for the next try)
 * and checksum mismatches (the .part is deleted).
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const offlineHint = options.offlineHint ?? `place ${basename(dest)} at ${dest} (download it on a machine with a network)`;
  let start = await sizeOf(part);

  const connectMs = options.connectTimeoutMs ?? 10_000;
  const stallMs = options.stallTimeoutMs ?? 30_000;
  const connect = new AbortController();
  const connectTimer = setTimeout(() => connect.abort(new DOMException('no response', 'TimeoutError')), connectMs);
  const stall = new AbortController();
  const signals = [connect.signal, stall.signal, ...(options.signal ? [options.signal] : [])];
  const signal = AbortSignal.any(signals);

  let res: Response;
  try {
    res = await fetch(url, { headers: start > 0 ? { range: `bytes=${start}-` } : {}, signal, redirect: 'follow' });
  } catch (err) {
    clearTimeout(connectTimer);
    if (options.signal?.aborted) throw new ConvlabError(`download of ${url} interrupted`, { hint: 'run the same command again to resume' });
    const code = errorCode(err) ?? (connect.signal.aborted ? 'ETIMEDOUT' : undefined);
    const why = code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? `no answer within ${connectMs / 1000} s` : code ?? rootMessage(err);
    if (code === undefined || OFFLINE_CODES.has(code) || connect.signal.aborted) {
      throw new ConvlabError(`cannot reach ${new URL(url).host} (${why}): no network?`, { hint: offlineHint });
    }
    throw new ConvlabError(`download of ${url} failed: ${why}`, { hint: offlineHint });
  }
  clearTimeout(connectTimer);

  if (res.status === 416 && start > 0) {
    // The .part may already be complete (a crash between the last byte and the rename); else restart.
    await res.body?.cancel();
    const hashes = await hashFile(part);
    if ((!options.md5 || hashes.md5 === options.md5) && (!options.sha256 || hashes.sha256 === options.sha256)) {
      await rename(part, dest);
      return { path: dest, ...hashes, resumedFrom: start };
    }
    await rm(part, { force: true });
    return downloadFile(url, dest, options);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new ConvlabError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`, { hint: offlineHint });
  }
  if (res.status === 206 && rangeStart(res) !== start) {
    await res.body?.cancel();
    throw new ConvlabError(`download of ${url}: the server resumed at the wrong offset (${res.headers.get('content-range')})`, {
      hint: `delete ${part} and run again`,
    });
  }
  if (res.status === 200) start = 0; // the server ignored the Range header: start over
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : undefined;

  const out = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  let done = start;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stall.abort(new DOMException('stalled', 'TimeoutError')), stallMs);
  };
  try {
    armStall();
    options.onProgress?.(done, total);
    if (!res.body) throw new Error('empty response body');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      armStall();
      if (!out.write(chunk)) await once(out, 'drain');
      done += chunk.length;
      options.onProgress?.(done, total);
    }
  } catch (err) {
    clearTimeout(stallTimer);
    out.end();
    await once(out, 'close').catch(() => undefined);
    const why = stall.signal.aborted ? `no data for ${stallMs / 1000} s` : options.signal?.aborted ? 'interrupted' : errorCode(err) ?? rootMessage(err);
    throw new ConvlabError(`download of ${url} stopped at ${mb(done)}${total ? ` of ${mb(total)}` : ''} (${why})`, {
      hint: `run the same command again to resume from ${part}`,
    });
  }
  clearTimeout(stallTimer);
  out.end();
  await once(out, 'close');
  if (total !== undefined && done !== total) {
    throw new ConvlabError(`download of ${url} ended early at ${mb(done)} of ${mb(total)}`, { hint: `run the same command again to resume from ${part}` });
  }

  const hashes = await hashFile(part);
  const mismatch =
    options.md5 && hashes.md5 !== options.md5
      ? `md5 ${hashes.md5}, expected ${options.md5}`
      : options.sha256 && hashes.sha256 !== options.sha256
        ? `sha256 ${hashes.sha256}, expected ${options.sha256}`
        : undefined;
  if (mismatch) {
    await rm(part, { force: true });
    throw new ConvlabError(`checksum mismatch for ${url} (${mismatch}); the download was deleted`, {
      hint: 'run again; if it persists the file upstream changed or a proxy alters it',
    });
  }
  await rename(part, dest);
  return { path: dest, ...hashes, resumedFrom: start };
}

export interface PullOptions extends Omit<DownloadOptions, 'md5' | 'sha256' | 'offlineHint'> {
  /** Download again even if a verified file is cached. */
  force?: boolean;
  /** Replace the known source (tests point it at a local server). */
  source?: KnownWeights;
  /** Destination instead of the cache path. */
  dest?: string;
}

export interface PullResult extends DownloadResult {
  alreadyPresent: boolean;
}

/**
 * Download a model's known weights into the cache (or report that they are there). After the md5
 * check passes, the sha256 is recorded next to the file (`<file>.json`) for `verify`.
 */
export async function pullWeights(model: string, options: PullOptions = {}): Promise<PullResult> {
  const source = options.source ?? knownWeights(model);
  const dest = options.dest ?? cachedWeightsPath(model);
  if (!options.force && (await fileExists(dest))) {
    const record = await readCacheRecord(dest);
    const hashes = await hashFile(dest);
    // Without a published md5 (MobileNetV2) a file placed by hand is trusted and its sha256 recorded;
    // from then on the recorded sha256 is the check.
    const md5Ok = source.md5 ? hashes.md5 === source.md5 : true;
    if (md5Ok && (!record || record.sha256 === hashes.sha256)) {
      if (!record) await writeCacheRecord(dest, { file: source.file, url: source.url, ...hashes, recordedAt: new Date().toISOString(), how: 'verify' });
      return { path: dest, ...hashes, resumedFrom: 0, alreadyPresent: true };
    }
    // A cached file that fails its check is replaced.
    await rm(dest, { force: true });
  }
  const result = await downloadFile(source.url, dest, {
    ...options,
    md5: source.md5,
    sha256: source.sha256,
    offlineHint: `place ${source.file} (from ${source.url}) at ${dest}, e.g. copied from a machine where \`convlab-models pull ${source.model}${model.includes(':') ? ` --${source.variant}` : ''}\` worked`,
  });
  await writeCacheRecord(dest, {
    file: source.file,
    url: source.url,
    bytes: result.bytes,
    md5: result.md5,
    sha256: result.sha256,
    recordedAt: new Date().toISOString(),
    how: 'download',
  });
  return { ...result, alreadyPresent: false };
}
