/**
 * Input validation for job submissions: a kind's input schema parsed with core's parseOptions (so HTTP bodies,
 * forms and the CLI share one declaration and one set of messages), the offending field carried on the error.
 */
import { ConvlabError, parseOptions, z, type OptionsSchema } from '@convlab/core/light';
import type { JobKind } from './kind.js';

/** A submission refused for its input (or kind, or id): `field` names what to fix, for a 400 response. */
export class JobInputError extends ConvlabError {
  readonly field?: string;

  constructor(message: string, options: { hint?: string; field?: string; cause?: unknown } = {}) {
    super(message, { hint: options.hint, cause: options.cause });
    this.name = 'JobInputError';
    if (options.field !== undefined) this.field = options.field;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The top-level field of the first problem parseOptions reported. parseOptions names the field in its
 * message ("beam 0 is out of range", "missing content (...)", 'unknown option "foo"') but does not return
 * it, so the same strict parse is repeated to read the issue's path.
 */
function firstIssueField(schema: OptionsSchema, raw: Record<string, unknown>): string | undefined {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) input[k] = v;
  const result = schema.strict().safeParse(input);
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') return issue.keys[0];
  return issue.path.length > 0 ? String(issue.path[0]) : undefined;
}

/**
 * Validate a job's input with its kind's schema: 'http' for a request body (unknown fields refused,
 * messages name the field), 'code' for typed values. Returns the parsed input (defaults filled) or throws
 * a JobInputError whose message and `field` name the problem.
 */
export function parseJobInput(kind: JobKind, raw: unknown, source: 'http' | 'code' = 'http'): unknown {
  const schema = kind.input;
  if (schema instanceof z.ZodObject) {
    if (!isPlainObject(raw)) {
      throw new JobInputError(`the input of a ${kind.kind} job must be an object of options`, { field: 'input', hint: 'send {"kind": "...", "input": {...}}' });
    }
    try {
      return parseOptions(schema as OptionsSchema, raw, source);
    } catch (err) {
      if (!(err instanceof ConvlabError)) throw err;
      throw new JobInputError(err.message, { hint: err.hint, field: firstIssueField(schema as OptionsSchema, raw), cause: err });
    }
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String).join('.');
  throw new JobInputError(path ? `${path}: ${issue.message}` : `input: ${issue.message}`, { field: issue.path.length > 0 ? String(issue.path[0]) : 'input' });
}
