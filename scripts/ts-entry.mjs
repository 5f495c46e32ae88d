// Lets a bin shim run TypeScript sources directly: tsx compiles them, and workspace packages resolve
// to their src/ entry through the "@convlab/source" export condition (same as --conditions=... would).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
const hook = `export async function resolve(specifier, context, next) {
  const conditions = context.conditions.includes('@convlab/source') ? context.conditions : [...context.conditions, '@convlab/source'];
  return next(specifier, { ...context, conditions });
}`;
register('data:text/javascript,' + encodeURIComponent(hook));

/** Import a TypeScript entry file (absolute URL) after the hooks above are in place. */
export function runEntry(url) {
  return import(url);
}
