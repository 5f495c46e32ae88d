/**
 * Options declared once. A pipeline call declares its options as a zod object schema (types,
 * defaults, ranges, a one-line description per field); from that one declaration come
 * - the TypeScript type (`z.output<typeof schema>`),
 * - validation with messages that name the flag (`--beam 0 is out of range: it must be an integer >= 1`)
 *   or the HTTP field (`beam 0 is out of range ...`),
 * - the CLI flags and `--help` (commander: `addOptions(command, schema)`),
 * - a JSON Schema for HTTP bodies and forms (`optionsJsonSchema(schema)`),
 * - the `parameters` block of the run record (`parseOptions` returns plain JSON values).
 *
 * Field names are camelCase; their flags are kebab-case (`maxLength` -> `--max-length`). Extra CLI
 * facts go in zod's metadata: `.meta({ description, short: 'o', placeholder: 'PATH' })`.
 */
import { z } from 'zod';
import { Option, type Command } from 'commander';
import { ConvlabError } from './errors.js';
import { describeRange, type NumberRange } from './flags.js';

export type OptionsSchema = z.ZodObject<z.ZodRawShape>;

export type FieldKind = 'number' | 'integer' | 'string' | 'boolean' | 'enum' | 'list';

export interface FieldInfo {
  name: string;
  flag: string;
  kind: FieldKind;
  /** For lists: the kind of each item. */
  itemKind?: Exclude<FieldKind, 'list'>;
  description: string;
  choices?: readonly string[];
  range?: NumberRange;
  default?: unknown;
  optional: boolean;
  short?: string;
  placeholder?: string;
  hidden?: boolean;
}

interface Meta {
  description?: string;
  short?: string;
  placeholder?: string;
  hidden?: boolean;
}

type AnyZod = z.ZodType;
interface Def {
  type: string;
  innerType?: AnyZod;
  defaultValue?: unknown;
  element?: AnyZod;
  entries?: Record<string, string>;
  values?: unknown[];
}

const defOf = (s: AnyZod): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

export const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Unwrap default/optional/nullable wrappers, collecting the default, optionality and metadata. */
function unwrap(schema: AnyZod): { base: AnyZod; def?: unknown; optional: boolean; meta: Meta } {
  let s = schema;
  let dflt: unknown;
  let optional = false;
  const meta: Meta = {};
  for (;;) {
    const m = (z.globalRegistry.get(s) ?? {}) as Meta;
    for (const k of Object.keys(m) as (keyof Meta)[]) if (meta[k] === undefined) (meta as Record<string, unknown>)[k] = m[k];
    if (meta.description === undefined && s.description) meta.description = s.description;
    const d = defOf(s);
    if (d.type === 'default' || d.type === 'prefault') {
      dflt = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      optional = true;
    } else if (d.type === 'optional' || d.type === 'nullable') {
      optional = true;
    } else {
      break;
    }
    s = d.innerType!;
  }
  return { base: s, def: dflt, optional, meta };
}

function numberRange(s: AnyZod): NumberRange {
  const n = s as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
  const range: NumberRange = { integer: n.isInt };
  // The strictest lower bound decides whether it is inclusive (min) or exclusive (gt).
  const checks = ((defOf(s) as Def & { checks?: { _zod: { def: { check: string; value: number; inclusive: boolean } } }[] }).checks ?? []).map((c) => c._zod.def);
  const lower = checks.filter((c) => c.check === 'greater_than').sort((a, b) => b.value - a.value || Number(a.inclusive) - Number(b.inclusive))[0];
  // zod's .int() carries hidden safe-integer bounds: they are no range a user needs to read.
  if (lower && Number.isFinite(lower.value) && lower.value > -Number.MAX_SAFE_INTEGER) {
    if (lower.inclusive) range.min = lower.value;
    else range.gt = lower.value;
  }
  if (n.maxValue !== null && Number.isFinite(n.maxValue) && n.maxValue < Number.MAX_SAFE_INTEGER) range.max = n.maxValue;
  return range;
}

function kindOf(base: AnyZod): { kind: Exclude<FieldKind, 'list'>; choices?: string[]; range?: NumberRange } {
  const d = defOf(base);
  if (d.type === 'number') {
    const range = numberRange(base);
    return { kind: range.integer ? 'integer' : 'number', range };
  }
  if (d.type === 'boolean') return { kind: 'boolean' };
  if (d.type === 'enum') return { kind: 'enum', choices: Object.values(d.entries ?? {}) };
  if (d.type === 'literal') return { kind: 'enum', choices: (d.values ?? []).map(String) };
  return { kind: 'string' };
}

/** What the CLI, the help and the studio's form need to know about each field. */
export function fieldsOf(schema: OptionsSchema): FieldInfo[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const { base, def, optional, meta } = unwrap(field as AnyZod);
    const d = defOf(base);
    const info: FieldInfo = {
      name,
      flag: `--${kebab(name)}`,
      kind: 'string',
      description: meta.description ?? '',
      default: def,
      optional,
      short: meta.short,
      placeholder: meta.placeholder,
      hidden: meta.hidden,
    };
    if (d.type === 'array') {
      const item = kindOf(unwrap(d.element!).base);
      return { ...info, kind: 'list', itemKind: item.kind, choices: item.choices, range: item.range };
    }
    return { ...info, ...kindOf(base) };
  });
}

export type OptionSource = 'cli' | 'http' | 'code';

const label = (f: FieldInfo, source: OptionSource) => (source === 'cli' ? f.flag : f.name);
const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : Array.isArray(v) ? v.join(',') : String(v));

function coerceScalar(raw: unknown, kind: Exclude<FieldKind, 'list'>): unknown {
  if (typeof raw !== 'string') return raw;
  if (kind === 'number' || kind === 'integer') return raw.trim() === '' ? NaN : Number(raw.trim());
  if (kind === 'boolean') return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  return raw.trim();
}

/** CLI text (strings, comma-separated lists) to the types the schema expects. */
function coerce(f: FieldInfo, raw: unknown): unknown {
  if (raw === undefined) return undefined;
  if (f.kind === 'list') {
    const items = Array.isArray(raw) ? raw : String(raw).split(',').map((s) => s.trim()).filter((s) => s !== '');
    return items.map((x) => coerceScalar(x, f.itemKind!));
  }
  return coerceScalar(raw, f.kind);
}

function hintFor(f: FieldInfo, source: OptionSource): string {
  if (f.choices) return `use one of: ${f.choices.join(', ')}`;
  // An example that is itself valid: the default, else the inclusive minimum; an exclusive bound
  // (`gt`) is no example, so describe the range instead.
  const example = f.default !== undefined ? (Array.isArray(f.default) ? f.default.join(',') : String(f.default)) : f.range?.min !== undefined ? String(f.range.min) : undefined;
  if (example === undefined) return f.range ? `give ${source === 'cli' ? f.flag : f.name} ${describeRange(f.range)}` : `give ${source === 'cli' ? f.flag : `"${f.name}"`} a value`;
  return source === 'cli' ? `e.g. ${f.flag} ${example}` : `e.g. "${f.name}": ${JSON.stringify(f.default ?? Number(example))}`;
}

/** One message for the first problem, naming the flag (cli) or the field (http/code). */
function errorFor(schema: OptionsSchema, issue: z.core.$ZodIssue, input: Record<string, unknown>, raw: Record<string, unknown>, source: OptionSource): ConvlabError {
  const fields = fieldsOf(schema);
  const key = String(issue.path[0] ?? '');
  const f = fields.find((x) => x.name === key);
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return new ConvlabError(`unknown option${keys.length > 1 ? 's' : ''} ${keys.map((k) => (source === 'cli' ? `--${kebab(k)}` : `"${k}"`)).join(', ')}`, {
      hint: `known: ${fields.map((x) => label(x, source)).join(', ')}`,
      exitCode: 1,
    });
  }
  if (!f) return new ConvlabError(issue.message);
  const name = label(f, source);
  const value = raw[key] ?? input[key];
  const itemIndex = typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
  const rawItems = typeof value === 'string' ? value.split(',').map((x) => x.trim()).filter((x) => x !== '') : Array.isArray(value) ? value : undefined;
  const shown = itemIndex !== undefined && rawItems ? show(rawItems[itemIndex]) : show(value);
  if (value === undefined && !f.optional) return new ConvlabError(`missing ${name} (${f.description})`, { hint: hintFor(f, source) });
  if (f.range && ['too_small', 'too_big', 'invalid_type', 'not_multiple_of'].includes(issue.code)) {
    const asNumber = Number(itemIndex !== undefined && Array.isArray(input[key]) ? (input[key] as unknown[])[itemIndex] : input[key]);
    const what = `${f.kind === 'list' ? 'each value of ' : ''}${describeRange(f.range)}`;
    const isNumber = typeof (itemIndex !== undefined && Array.isArray(input[key]) ? (input[key] as unknown[])[itemIndex] : input[key]) === 'number';
    return isNumber && Number.isFinite(asNumber)
      ? new ConvlabError(`${name} ${shown.replace(/^"|"$/g, '')} is out of range: it must be ${what}`, { hint: hintFor(f, source) })
      : new ConvlabError(`${name} ${shown} is not a number: it must be ${what}`, { hint: hintFor(f, source) });
  }
  if (f.choices && (issue.code === 'invalid_value' || issue.code === 'invalid_type')) {
    return new ConvlabError(`${name} ${shown} is not one of the choices`, { hint: hintFor(f, source) });
  }
  return new ConvlabError(`${name} ${shown}: ${issue.message}`, { hint: hintFor(f, source) });
}

/**
 * Validate options. `cli`: values are flag text (commander's camelCased values), coerced first.
 * `http`: a JSON body; unknown fields are refused. `code`: already typed values. Returns the
 * validated options with defaults filled in: plain JSON, ready for the run record.
 */
export function parseOptions<S extends OptionsSchema>(schema: S, raw: Record<string, unknown>, source: OptionSource = 'code'): z.output<S> {
  const fields = fieldsOf(schema);
  const known = new Set(fields.map((f) => f.name));
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const f = fields.find((x) => x.name === k);
    input[k] = source === 'cli' && f ? coerce(f, v) : v;
  }
  const strict = source === 'cli' ? schema : (schema.strict() as unknown as S);
  if (source === 'cli') for (const k of Object.keys(input)) if (!known.has(k)) delete input[k];
  const result = strict.safeParse(input);
  if (!result.success) throw errorFor(schema, result.error.issues[0], input, raw, source);
  return result.data as z.output<S>;
}

/** The help text after a flag's description: range or choices, and the default. */
export function helpSuffix(f: FieldInfo): string {
  const parts: string[] = [];
  if (f.choices && f.kind !== 'enum') parts.push(f.choices.join('|'));
  if (f.range) parts.push(describeRange(f.range).replace(/^an? /, ''));
  if (f.default !== undefined && f.kind !== 'boolean') parts.push(`default ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/**
 * Add every field of a schema to a commander command as a flag with its generated help.
 * Booleans are switches (`--flag`; `--no-flag` when the default is true). Commander only collects
 * text: validation and defaults stay with the schema (`parseOptions(schema, cmd.opts(), 'cli')`).
 */
export function addOptions(cmd: Command, schema: OptionsSchema): Command {
  for (const f of fieldsOf(schema)) {
    const flags = `${f.short ? `-${f.short}, ` : ''}${f.flag}`;
    const text = `${f.description}${helpSuffix(f)}`;
    if (f.kind === 'boolean') {
      const option = f.default === true ? new Option(`--no-${kebab(f.name)}`, `turn off: ${text}`) : new Option(flags, text);
      cmd.addOption(f.hidden ? option.hideHelp() : option);
      continue;
    }
    const placeholder = f.placeholder ?? (f.kind === 'enum' ? f.choices!.join('|') : f.kind === 'list' ? 'A,B' : f.kind === 'integer' ? 'N' : f.kind === 'number' ? 'X' : 'VALUE');
    const option = new Option(`${flags} <${placeholder}>`, text);
    cmd.addOption(f.hidden ? option.hideHelp() : option);
  }
  return cmd;
}

/** JSON Schema of the options (HTTP validation elsewhere, forms, docs). */
export function optionsJsonSchema(schema: OptionsSchema): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

export { z };
