/**
 * Server-Sent Events: `text/event-stream`, no caching, a `retry:` hint for the browser's reconnect, a
 * `: ping` comment every 15 s so proxies and idle timeouts keep the stream open, and cleanup (unsubscribe,
 * timer) when the client goes away. Images never travel in the stream: events name files the client fetches
 * at their own URLs. A client that stops reading is dropped once its unsent backlog passes a bound, so one
 * stalled tab cannot grow the server's memory.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const PING_MS = 15_000;
export const RETRY_MS = 2_000;
/** Unsent bytes after which a stalled client is disconnected (it reconnects and gets a fresh snapshot). */
const MAX_BACKLOG = 4 * 1024 * 1024;

export interface SseStream {
  send(event: string, data: unknown): void;
  comment(text: string): void;
  end(): void;
  readonly closed: boolean;
  /** Called once when the stream ends for any reason (client gone, end(), server closing). */
  onClose(fn: () => void): void;
}

/** All open streams, so the server can end them when it shuts down. */
export class SseHub {
  private readonly open = new Set<SseStream>();
  /** Events written over all streams (for the load test and /api/health). */
  delivered = 0;

  get size(): number {
    return this.open.size;
  }

  start(_request: FastifyRequest, reply: FastifyReply, pingMs = PING_MS): SseStream {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    const closers: (() => void)[] = [];
    let closed = false;
    const open = this.open;
    const count = () => void (this.delivered += 1);
    const finish = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      open.delete(stream);
      for (const fn of closers.splice(0)) {
        try {
          fn();
        } catch {
          // a listener's cleanup failing must not keep the others from running
        }
      }
      if (!res.writableEnded) res.end();
    };
    const write = (text: string) => {
      if (closed) return;
      if (res.writableLength > MAX_BACKLOG) {
        finish();
        res.destroy();
        return;
      }
      res.write(text);
    };
    const stream: SseStream = {
      send(event, data) {
        if (closed) return;
        count();
        write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      comment(text) {
        write(`: ${text}\n\n`);
      },
      end: finish,
      get closed() {
        return closed;
      },
      onClose(fn) {
        if (closed) fn();
        else closers.push(fn);
      },
    };
    const timer = setInterval(() => stream.comment('ping'), pingMs);
    timer.unref();
    // The response's close (not the request's: that fires once the request body is read) means the client left.
    res.on('close', finish);
    res.on('error', finish);
    this.open.add(stream);
    return stream;
  }

  /** End every open stream (server shutdown). */
  closeAll(): void {
    for (const s of [...this.open]) s.end();
  }
}
