/**
 * A form generated from a job kind's JSON Schema (GET /api/kinds): the pipelines' zod option schemas are the one
 * declaration of the options, so the fields, their types, ranges, defaults and help text all come from there.
 * Number, integer, enum, boolean, string and list-of-scalar fields are rendered; fields the page draws itself
 * (images, layers...) are excluded by name; anything unrepresentable (in-memory images) is skipped.
 */
import type { JsonSchema } from './api.js';
import { h } from './dom.js';
import { fieldName, fieldRow, humanize, type FieldRow } from './ui.js';

type Shape = 'enum' | 'boolean' | 'integer' | 'number' | 'string' | 'list-number' | 'list-string' | 'free';

interface Field {
  name: string;
  shape: Shape;
  schema: JsonSchema;
  control: HTMLInputElement | HTMLSelectElement;
  row: FieldRow;
  inMore: boolean;
}

export interface SchemaFormOptions {
  /** Fields shown first and open; the others go under "More options". Omitted: all open. */
  key?: string[];
  /** Fields the page renders itself, or that make no sense in a browser. */
  exclude?: string[];
  /** Initial values that differ from the schema's defaults (e.g. a small size for a first try). */
  initial?: Record<string, unknown>;
}

export interface SchemaForm {
  el: HTMLElement;
  has(name: string): boolean;
  /** The values to send: empty optional fields are left out so the server fills its defaults. */
  values(): Record<string, unknown>;
  set(name: string, value: unknown): void;
  /** Show an error next to its field; false when the form has no such field. */
  showError(field: string | undefined, message: string): boolean;
  clearErrors(): void;
}

/** Resolve `anyOf` wrappers zod writes for optional/nullable/preprocessed fields to one renderable shape. */
function shapeOf(s: JsonSchema): Shape | undefined {
  if (s.enum && s.enum.every((v) => typeof v === 'string' || typeof v === 'number')) return 'enum';
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  if (type === 'boolean') return 'boolean';
  if (type === 'integer') return 'integer';
  if (type === 'number') return 'number';
  if (type === 'string') return 'string';
  if (type === 'array' && s.items) {
    const item = shapeOf(s.items);
    if (item === 'number' || item === 'integer') return 'list-number';
    if (item === 'string' || item === 'enum') return 'list-string';
    return undefined;
  }
  const alts = (s.anyOf ?? s.oneOf ?? []).filter((a) => Object.keys(a).length > 0 && a.type !== 'null');
  if (alts.length === 1) return shapeOf({ ...alts[0], description: s.description, default: s.default });
  if (alts.length > 1 && alts.every((a) => shapeOf(a) !== undefined)) return 'free';
  return undefined;
}

function enumValues(s: JsonSchema): unknown[] {
  if (s.enum) return s.enum;
  const alt = (s.anyOf ?? s.oneOf ?? []).find((a) => a.enum);
  return alt?.enum ?? [];
}

function rangeText(s: JsonSchema): string {
  const min = s.minimum ?? s.exclusiveMinimum;
  const max = s.maximum ?? s.exclusiveMaximum;
  const lo = min === undefined ? '' : `${s.exclusiveMinimum !== undefined ? '>' : '≥'} ${min}`;
  const hi = max === undefined ? '' : `${s.exclusiveMaximum !== undefined ? '<' : '≤'} ${max}`;
  if (lo && hi && s.minimum !== undefined && s.maximum !== undefined) return `${min}–${max}`;
  return [lo, hi].filter(Boolean).join(', ');
}

function helpText(s: JsonSchema, shape: Shape): string {
  const parts: string[] = [];
  if (s.description) parts.push(s.description);
  const extra: string[] = [];
  if (s.default !== undefined && shape !== 'boolean') extra.push(`default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}`);
  const range = rangeText(s);
  if (range) extra.push(range);
  if (shape === 'list-number' || shape === 'list-string') extra.push('comma-separated');
  if (extra.length) parts.push(`(${extra.join('; ')})`);
  return parts.join(' ');
}

function display(v: unknown): string {
  if (v === undefined || v === null) return '';
  return Array.isArray(v) ? v.join(',') : String(v);
}

function parseFree(text: string): unknown {
  if (/^\s*-?[\d.]+(\s*,\s*-?[\d.]+)+\s*$/.test(text)) return text.split(',').map((x) => Number(x.trim()));
  if (/^\s*-?\d+(\.\d+)?\s*$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

export function schemaForm(schema: JsonSchema, options: SchemaFormOptions = {}): SchemaForm {
  const props = schema.properties ?? {};
  const exclude = new Set(options.exclude ?? []);
  const key = options.key;
  const fields = new Map<string, Field>();
  const open = h('div', { class: 'form-grid' });
  const moreGrid = h('div', { class: 'form-grid' });
  const more = h('details', { class: 'more-options' }, h('summary', {}, 'More options'), moreGrid);

  const names = Object.keys(props).filter((n) => !exclude.has(n));
  const ordered = key ? [...key.filter((n) => names.includes(n)), ...names.filter((n) => !key.includes(n))] : names;
  for (const name of ordered) {
    const s = props[name];
    if ((s as { image?: boolean }).image) continue; // image references: the page's pickers
    const shape = shapeOf(s);
    if (!shape) continue;
    const initial = options.initial && name in options.initial ? options.initial[name] : s.default;
    let control: HTMLInputElement | HTMLSelectElement;
    if (shape === 'enum') {
      const values = enumValues(s);
      const required = schema.required?.includes(name) ?? false;
      control = h('select', { name }, s.default === undefined && !required ? h('option', { value: '' }, '(default)') : null, values.map((v) => h('option', { value: String(v) }, String(v))));
      control.value = display(initial);
    } else if (shape === 'boolean') {
      control = h('input', { type: 'checkbox', name, checked: initial === true });
    } else if (shape === 'integer' || shape === 'number') {
      control = h('input', {
        type: 'number',
        name,
        inputmode: shape === 'integer' ? 'numeric' : 'decimal',
        min: s.minimum ?? s.exclusiveMinimum,
        max: s.maximum ?? s.exclusiveMaximum,
        step: shape === 'integer' ? 1 : 'any',
        placeholder: s.default === undefined ? 'default' : undefined,
        value: display(initial),
      });
    } else {
      control = h('input', { type: 'text', name, placeholder: s.placeholder ?? (s.default === undefined ? 'default' : ''), value: display(initial), spellcheck: false, autocomplete: 'off' });
    }
    const inMore = key !== undefined && !key.includes(name);
    const row = fieldRow(humanize(name), control, helpText(s, shape), { inline: shape === 'boolean' });
    (inMore ? moreGrid : open).appendChild(row.el);
    fields.set(name, { name, shape, schema: s, control, row, inMore });
  }

  const el = h('div', { class: 'schema-form' }, open, moreGrid.childElementCount ? more : null);

  const valueOf = (f: Field): unknown => {
    const c = f.control;
    if (f.shape === 'boolean') return (c as HTMLInputElement).checked;
    const text = c.value.trim();
    if (c instanceof HTMLInputElement && c.validity.badInput) throw Object.assign(new Error(`${f.name}: not a number`), { field: f.name });
    if (text === '') return undefined;
    switch (f.shape) {
      case 'integer':
      case 'number':
        return Number(text);
      case 'enum': {
        const hit = enumValues(f.schema).find((v) => String(v) === text);
        return hit ?? text;
      }
      case 'list-number':
        return text.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
      case 'list-string':
        return text.split(',').map((x) => x.trim()).filter(Boolean);
      case 'free':
        return parseFree(text);
      default:
        return text;
    }
  };

  return {
    el,
    has: (name) => fields.has(name),
    values() {
      const out: Record<string, unknown> = {};
      for (const f of fields.values()) {
        const v = valueOf(f);
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
    set(name, value) {
      const f = fields.get(name);
      if (!f) return;
      if (f.shape === 'boolean') (f.control as HTMLInputElement).checked = value === true;
      else f.control.value = display(value);
    },
    showError(field, message) {
      const name = fieldName(field);
      const f = name ? fields.get(name) : undefined;
      if (!f) return false;
      f.row.error(message);
      if (f.inMore) (more as HTMLDetailsElement).open = true;
      f.control.focus();
      return true;
    },
    clearErrors() {
      for (const f of fields.values()) f.row.error(undefined);
    },
  };
}
