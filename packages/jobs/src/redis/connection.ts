/**
 * Redis connections for the driver, and the two checks BullMQ needs of a server: Redis >= 6.2, and
 * `maxmemory-policy noeviction` (an evicting Redis silently drops queued jobs).
 */
import { Redis } from 'ioredis';
import { ConvlabError } from '@convlab/core/light';

/** The Redis URL from a flag, else CONVLAB_REDIS_URL; a ConvlabError naming both when neither is a redis URL. */
export function redisUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = flag ?? env.CONVLAB_REDIS_URL;
  if (url === undefined || url === '') return undefined;
  if (!/^rediss?:\/\//.test(url)) {
    throw new ConvlabError(`--queue ${url} is not a Redis URL`, { hint: 'give redis://host:port (or rediss:// for TLS), e.g. --queue redis://10.0.0.5:6379, or set CONVLAB_REDIS_URL' });
  }
  return url;
}

/** A connection BullMQ can block on (maxRetriesPerRequest: null, as BullMQ requires for workers). */
export function connect(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name, lazyConnect: false });
}

/** The URL without a password, for messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * Wait for the server (at most `timeoutMs`) and check its version and eviction policy. Throws a ConvlabError
 * naming the URL and the fix.
 */
export async function checkServer(redis: Redis, url: string, timeoutMs = 10_000): Promise<{ version: string; policy?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new ConvlabError(`cannot reach Redis at ${safeUrl(url)}: ${(err as Error).message}`, {
      hint: 'start it (Debian: apt install redis-server; redis-server --maxmemory-policy noeviction) or fix --queue / CONVLAB_REDIS_URL',
    });
  } finally {
    clearTimeout(timer);
  }
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0';
  const [major, minor] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) {
    throw new ConvlabError(`Redis at ${safeUrl(url)} is version ${version}; BullMQ needs 6.2 or newer`, { hint: 'upgrade Redis (Debian 12 ships 7.0)' });
  }
  let policy: string | undefined;
  try {
    const r = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = r[1];
  } catch {
    policy = undefined; // managed Redis services often disable CONFIG: trust their documented setting
  }
  if (policy !== undefined && policy !== 'noeviction') {
    throw new ConvlabError(`Redis at ${safeUrl(url)} has maxmemory-policy ${policy}: it may evict queued jobs`, {
      hint: 'set maxmemory-policy noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, or in redis.conf)',
    });
  }
  return { version, policy };
}
