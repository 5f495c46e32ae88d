/**
 * Every studio error is one JSON shape: `{ error: { message, field?, hint? } }` with a 4xx/5xx status.
 * Route code throws HttpError; a ConvlabError from a pipeline or the queue (a user-fixable problem) is a 400
 * naming its field when the message names one; anything else is a 500 with a generic message (the details go
 * to the server log, not the client).
 */
import { ConvlabError } from '@convlab/core/light';

export interface ErrorBody {
  error: { message: string; field?: string; hint?: string };
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: { field?: string; hint?: string } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string, hint?: string): HttpError => new HttpError(404, `${what} not found`, { hint });

/**
 * The input field a ConvlabError from `parseOptions(..., 'http')` is about: it either carries `field`
 * itself, or its message starts with the field's name ("contentWeight -1 is out of range", "missing content
 * (...)", 'unknown option "foo"').
 */
export function fieldOf(err: Error, known: readonly string[]): string | undefined {
  const own = (err as { field?: unknown }).field;
  if (typeof own === 'string' && own) return own;
  const m = /^(?:missing |unknown options? ")?([A-Za-z_][\w.]*)/.exec(err.message);
  if (!m) return undefined;
  const name = m[1];
  if (known.includes(name)) return name;
  const unknown = /^unknown options? "([^"]+)"/.exec(err.message);
  return unknown ? unknown[1] : undefined;
}

/** The status and JSON body for any thrown value. */
export function toErrorResponse(err: unknown, knownFields: readonly string[] = []): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) {
    return { status: err.statusCode, body: { error: clean({ message: err.message, ...err.extra }) } };
  }
  if (err instanceof ConvlabError) {
    return { status: 400, body: { error: clean({ message: err.message, hint: err.hint, field: fieldOf(err, knownFields) }) } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  // Fastify's own errors (bad JSON, body too large, unsupported media type...) carry a 4xx statusCode and a safe message.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: clean({ message: e.message ?? 'bad request', hint: hintForCode(e.code) }) } };
  }
  return { status: 500, body: { error: { message: 'internal error in the studio server', hint: 'see the server log; this is a bug worth reporting' } } };
}

function hintForCode(code: string | undefined): string | undefined {
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'send JSON (Content-Type: application/json), or multipart/form-data to /api/uploads';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'job bodies are small JSON; upload images with POST /api/uploads and pass upload:<id>';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'send a JSON body such as {"kind": "style.stylize", "input": {...}}';
    default:
      return undefined;
  }
}

function clean(e: { message: string; field?: string; hint?: string }): ErrorBody['error'] {
  const out: ErrorBody['error'] = { message: e.message };
  if (e.field) out.field = e.field;
  if (e.hint) out.hint = e.hint;
  return out;
}
