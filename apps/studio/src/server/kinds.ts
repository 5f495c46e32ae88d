/**
 * The job kinds the studio offers: imported from the pipelines' kind modules (light: a kinds module must
 * not load a model) for their titles and input schemas. The queue's workers import the same modules by
 * the same specifiers to run them.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { ConvlabError, optionsJsonSchema, z, type OptionsSchema } from '@convlab/core/light';
import type { JobKind, JobKindsModule } from '@convlab/jobs/kind';
import { fieldNamesOf, imageFieldsOf } from './references.js';

/** The pipelines' kind modules (package specifiers, resolved like any import). */
export const DEFAULT_KIND_MODULES: readonly string[] = ['@convlab/style/jobs', '@convlab/visualize/jobs', '@convlab/caption/jobs'];

export interface KindEntry {
  kind: JobKind;
  /** The input's JSON Schema, for forms. */
  schema: Record<string, unknown>;
  /** Fields that take image references. */
  imageFields: string[];
  /** Top-level input fields (to name the field of a validation error). */
  fields: string[];
}

/** An import specifier for a module path or a package specifier. */
export function importSpecifier(spec: string): string {
  return isAbsolute(spec) ? pathToFileURL(spec).href : spec;
}

export async function loadKinds(modules: readonly string[]): Promise<Map<string, KindEntry>> {
  const out = new Map<string, KindEntry>();
  for (const spec of modules) {
    let mod: Partial<JobKindsModule>;
    try {
      mod = (await import(importSpecifier(spec))) as Partial<JobKindsModule>;
    } catch (err) {
      throw new ConvlabError(`cannot load job kinds from ${spec}: ${(err as Error).message}`, { hint: 'a kinds module exports `jobKinds` (see @convlab/jobs/kind)', cause: err });
    }
    if (!Array.isArray(mod.jobKinds)) throw new ConvlabError(`${spec} exports no jobKinds array`, { hint: 'a kinds module exports `jobKinds` (see @convlab/jobs/kind)' });
    for (const kind of mod.jobKinds) {
      if (out.has(kind.kind)) throw new ConvlabError(`job kind ${kind.kind} is declared twice (again in ${spec})`);
      out.set(kind.kind, { kind, schema: jsonSchemaOf(kind.input), imageFields: imageFieldsOf(kind.input), fields: fieldNamesOf(kind.input) });
    }
  }
  return out;
}

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return schema instanceof z.ZodObject ? optionsJsonSchema(schema as OptionsSchema) : (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>);
}
