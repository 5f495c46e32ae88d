/**
 * The text syntax of feature visualization objectives (the language objectives.ts documents and
 * evaluates): parsing only, no model and no tfjs, so a job's input schema (jobs.ts, loaded by the
 * studio's server) can check an objective before any heavy work and name the field.
 *
 *   objective = sum_t w_t term_t,  terms LAYER:C | LAYER:C@Y,X | LAYER:[v0,..] | class:K | LAYER | diversity:LAYER
 */
import { ConvlabError } from '@convlab/core/light';

export type ObjectiveTerm =
  | { kind: 'channel'; layer: string; channel: number; weight: number }
  | { kind: 'neuron'; layer: string; channel: number; position: [number, number] | 'center'; weight: number }
  | { kind: 'direction'; layer: string; vector: number[]; weight: number }
  | { kind: 'class'; index: number; weight: number }
  | { kind: 'layer'; layer: string; weight: number }
  | { kind: 'diversity'; layer: string; weight: number };

/** The terms of one image's objective (diversity terms act on the whole batch). */
export type Objective = ObjectiveTerm[];

function bad(text: string, why: string): never {
  throw new ConvlabError(`objective "${text}": ${why}`, {
    hint: 'write terms like LAYER:C (channel), LAYER:C@Y,X (neuron), LAYER:[v0,v1,...] (direction), class:K, LAYER (DeepDream), diversity:LAYER, joined by " + " / " - " with weights as 2*TERM; ";" separates the images of a batch',
  });
}

function parseTerm(raw: string, sign: number, whole: string): ObjectiveTerm {
  let text = raw.trim();
  let weight = sign;
  const w = /^([-+]?\d*\.?\d+(?:e[-+]?\d+)?)\s*\*\s*(.+)$/i.exec(text);
  if (w) {
    weight *= Number(w[1]);
    text = w[2].trim();
  }
  if (!text) bad(whole, 'an empty term');
  let m = /^(?:class|logit):(\d+)$/i.exec(text);
  if (m) return { kind: 'class', index: Number(m[1]), weight };
  m = /^diversity:(.+)$/i.exec(text);
  if (m) return { kind: 'diversity', layer: m[1].trim(), weight };
  m = /^(.+?):\[([^\]]*)\]$/.exec(text);
  if (m) {
    const vector = m[2].split(',').map((v) => Number(v.trim()));
    if (!vector.length || vector.some((v) => !Number.isFinite(v))) bad(whole, `the direction [${m[2]}] is not a list of numbers`);
    return { kind: 'direction', layer: m[1].trim(), vector, weight };
  }
  m = /^(.+?):(\d+)@(?:(center|centre)|(\d+)\s*,\s*(\d+))$/i.exec(text);
  if (m) return { kind: 'neuron', layer: m[1].trim(), channel: Number(m[2]), position: m[3] ? 'center' : [Number(m[4]), Number(m[5])], weight };
  m = /^(.+?):(\d+)$/.exec(text);
  if (m) return { kind: 'channel', layer: m[1].trim(), channel: Number(m[2]), weight };
  if (/^[@\w./-]+$/.test(text)) return { kind: 'layer', layer: text, weight };
  return bad(whole, `cannot read the term "${raw.trim()}"`);
}

/** Parse "2*L:3 + L:[..] - diversity:L ; L:4" into one objective per image. */
export function parseObjectives(text: string): Objective[] {
  const groups = text.split(';').map((g) => g.trim());
  if (groups.some((g) => !g)) bad(text, 'an empty objective between ";"');
  return groups.map((g) => {
    const terms: ObjectiveTerm[] = [];
    // Split on " + " / " - " outside brackets; a leading "-" negates the first term.
    let depth = 0;
    let start = 0;
    let sign = 1;
    let s = g;
    if (s.startsWith('-')) {
      sign = -1;
      s = s.slice(1);
    } else if (s.startsWith('+')) s = s.slice(1);
    for (let i = 0; i <= s.length; i++) {
      const ch = s[i];
      if (ch === '[') depth++;
      if (ch === ']') depth--;
      const end = i === s.length;
      if (end || (depth === 0 && (ch === '+' || ch === '-') && s[i - 1] === ' ' && s[i + 1] === ' ')) {
        terms.push(parseTerm(s.slice(start, i), sign, text));
        if (!end) {
          sign = ch === '-' ? -1 : 1;
          start = i + 1;
        }
      }
    }
    return terms;
  });
}


/** Why `text` is not an objective (the parser's reason), or undefined when it parses. */
export function objectiveSyntaxError(text: string): string | undefined {
  try {
    parseObjectives(text);
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const prefix = `objective "${text}": `;
    return message.startsWith(prefix) ? message.slice(prefix.length) : message;
  }
}
