/**
 * A style-transfer run's record is @convlab/core's one run-record format (createRunRecord), written by
 * stylize itself: parameters = the resolved StylizeOptions, seed, backend, model with its weights, one step
 * per iteration with its weighted losses, extra = memory estimate, stages, iterations done, s/iteration,
 * whether it was interrupted, the output size (and, from the CLI, the files written). `readStyleRun` reads
 * one back with types, live (a RunRecord) or parsed from its JSON file.
 */
import type { RunRecord, RunRecordJson } from '@convlab/core';
import type { IterationLosses } from './gatys.js';

export const STYLE_TOOL = 'convlab-style';

export interface StageInfo {
  /** Longer side of the stage in px, and its image size. */
  size: number;
  width: number;
  height: number;
  iterations: number;
  seconds: number;
}

/** What stylize puts in the record's `extra`. */
export interface StyleRecordExtra {
  memoryEstimateBytes: number;
  memoryLimitBytes: number;
  stages: StageInfo[];
  iterationsDone: number;
  secondsPerIteration: number;
  aborted: boolean;
  output?: { width: number; height: number };
  /** Files written, set by the caller (the CLI: image, record, plot, checkpoints, html). */
  outputs?: Record<string, unknown>;
}

export type StepLosses = IterationLosses & { step: number; stage: number };

export interface StyleRun extends StyleRecordExtra {
  parameters: Record<string, unknown>;
  backend: { name: string; tfBackend?: string; detail?: string };
  model: { name: string; weights?: string };
  seconds: number;
  /** One entry per iteration over all stages. */
  losses: StepLosses[];
  /** The losses of each stage. */
  stageLosses: IterationLosses[][];
}

/** A style run record, typed. */
export function readStyleRun(record: RunRecord | RunRecordJson): StyleRun {
  const json = 'toJSON' in record && typeof record.toJSON === 'function' ? record.toJSON() : (record as RunRecordJson);
  const extra = json.extra as unknown as StyleRecordExtra;
  const losses = json.steps as unknown as StepLosses[];
  const stages = extra.stages ?? [];
  const asObject = <T extends { name: string }>(v: unknown): T => (typeof v === 'string' ? ({ name: v } as T) : ((v ?? { name: 'unknown' }) as T));
  return {
    ...extra,
    stages,
    parameters: json.parameters as Record<string, unknown>,
    backend: asObject(json.backend),
    model: asObject(json.model),
    seconds: json.totalSeconds,
    losses,
    stageLosses: stages.map((_, i) => losses.filter((l) => l.stage === i + 1)),
  };
}

/** Loss history over all stages, one entry per iteration. */
export function allLosses(record: RunRecord | RunRecordJson): IterationLosses[] {
  return readStyleRun(record).losses;
}
