/**
 * Run records: the JSON written next to every result so it can be reproduced and compared
 * (parameters, seed, backend, model, environment, timings, per-step losses).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { writeJsonAtomic } from './atomic.js';
import { ConvlabError } from './errors.js';
import { z } from 'zod';

/**
 * The one run-record format, as a schema: every pipeline and the studio write it; the JSON Schema
 * in packages/core/run-record.schema.json is generated from it (`runRecordJsonSchema()`; a test keeps
 * the file in step).
 */
export const RunRecordSchema = z
  .object({
    tool: z.string().min(1).describe('the pipeline or command, e.g. "style-transfer"'),
    convlabVersion: z.string(),
    parameters: z.record(z.string(), z.unknown()).describe("the call's validated options (its schema's output)"),
    seed: z.number().int().optional(),
    backend: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().describe('backend summary or initEngine() info'),
    model: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().describe('model name, or name with weights and preprocessing'),
    environment: z.object({
      node: z.string(),
      platform: z.string(),
      arch: z.string(),
      cpus: z.number().int(),
      cpuModel: z.string(),
      totalMemoryGB: z.number(),
    }),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime(),
    totalSeconds: z.number().min(0),
    timings: z.record(z.string(), z.object({ totalMs: z.number(), count: z.number().int() })),
    steps: z.array(z.object({ step: z.number() }).catchall(z.union([z.number(), z.string()]))).describe('per-step values (losses); non-finite numbers as strings'),
    extra: z.record(z.string(), z.unknown()).describe('outputs, notes, final metrics'),
  })
  .describe('convlab run record');

/** JSON Schema of the run record (draft 2020-12). */
export function runRecordJsonSchema(): Record<string, unknown> {
  return { $id: 'https://convlab.dev/schemas/run-record.json', ...z.toJSONSchema(RunRecordSchema, { io: 'output' }) } as Record<string, unknown>;
}

/** Check a parsed record against the schema; a ConvlabError names the first bad field. */
export function validateRunRecord(value: unknown): RunRecordJson {
  const r = RunRecordSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConvlabError(`run record: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { hint: 'it was not written by this version of convlab, or was edited' });
  }
  return r.data as unknown as RunRecordJson;
}

export interface RunRecordInit {
  /** The tool or pipeline, e.g. 'style-transfer'. */
  tool: string;
  /** Any JSON-serialisable object (an options interface works as is). */
  parameters: object;
  seed?: number;
  /** Backend name, or an object such as initEngine()'s EngineInfo. */
  backend?: string | object;
  /** Model name, or an object with name and weights source. */
  model?: string | object;
}

export interface RunRecordJson {
  tool: string;
  convlabVersion: string;
  parameters: object;
  seed?: number;
  backend?: string | object;
  model?: string | object;
  environment: { node: string; platform: string; arch: string; cpus: number; cpuModel: string; totalMemoryGB: number };
  startedAt: string;
  endedAt: string;
  totalSeconds: number;
  /** Named durations in milliseconds (summed when a name is timed repeatedly; `count` says how often). */
  timings: Record<string, { totalMs: number; count: number }>;
  /** Per-step values, e.g. {step: 10, loss: 1.2e3, style: 800}. */
  steps: ({ step: number } & Record<string, number>)[];
  /** Anything else (outputs, notes, final metrics). */
  extra: Record<string, unknown>;
}

export interface RunRecord {
  log(step: number, values: Record<string, number>): void;
  time(name: string, ms: number): void;
  /** Time an async or sync function under a name and return its result. */
  measure<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  set(key: string, value: unknown): void;
  /** The record as it stands; endedAt/totalSeconds are the time of the call until finish() fixes them. */
  toJSON(): RunRecordJson;
  /** Fix the end time (idempotent). Save checkpoints before it, the final record after it. */
  finish(): void;
  /** Write atomically as JSON (safe to call repeatedly, e.g. after every checkpoint). */
  save(path: string): Promise<void>;
}

let cachedVersion: string | undefined;

/** @convlab/core's version from its package.json (the same file from src/ and dist/). */
export function convlabVersion(): string {
  if (cachedVersion) return cachedVersion;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    cachedVersion = pkg.version ?? 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

/** Non-finite numbers become null in JSON; keep them readable as strings instead ("NaN", "Infinity"). */
function jsonSafe(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

export function createRunRecord(init: RunRecordInit, clock: () => number = Date.now): RunRecord {
  if (!init?.tool) throw new ConvlabError('createRunRecord: a tool name is required');
  const startMs = clock();
  let endMs: number | undefined;
  const timings: RunRecordJson['timings'] = {};
  const steps: RunRecordJson['steps'] = [];
  const extra: Record<string, unknown> = {};
  const cpus = os.cpus();

  const record: RunRecord = {
    log(step, values) {
      const entry: Record<string, number | string> = { step };
      for (const [k, v] of Object.entries(values)) entry[k] = jsonSafe(v);
      steps.push(entry as { step: number } & Record<string, number>);
    },
    time(name, ms) {
      const t = (timings[name] ??= { totalMs: 0, count: 0 });
      t.totalMs += ms;
      t.count++;
    },
    async measure(name, fn) {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        record.time(name, performance.now() - t0);
      }
    },
    set(key, value) {
      extra[key] = value;
    },
    finish() {
      endMs ??= clock();
    },
    toJSON() {
      const end = endMs ?? clock();
      return {
        tool: init.tool,
        convlabVersion: convlabVersion(),
        parameters: init.parameters,
        ...(init.seed !== undefined ? { seed: init.seed } : {}),
        ...(init.backend !== undefined ? { backend: init.backend } : {}),
        ...(init.model !== undefined ? { model: init.model } : {}),
        environment: {
          node: process.version,
          platform: process.platform,
          arch: process.arch,
          cpus: cpus.length,
          cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
          totalMemoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        },
        startedAt: new Date(startMs).toISOString(),
        endedAt: new Date(end).toISOString(),
        totalSeconds: Math.round(end - startMs) / 1000,
        timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { totalMs: Math.round(v.totalMs * 1000) / 1000, count: v.count }])),
        steps: steps.map((s) => ({ ...s })),
        extra: { ...extra },
      };
    },
    async save(path) {
      await writeJsonAtomic(path, record.toJSON());
    },
  };
  return record;
}
