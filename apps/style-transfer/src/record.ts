/** The JSON run record of a style-transfer run: everything needed to reproduce and compare it. */
import type { EngineInfo } from '@convlab/core';
import type { FeatureNet } from './features.js';
import type { ResolvedOptions } from './options.js';

export interface IterationLosses {
  /** Weighted total and its weighted parts. */
  total: number;
  content: number;
  style: number;
  tv: number;
}

export interface StageRecord {
  size: number;
  width: number;
  height: number;
  iterations: number;
  seconds: number;
  losses: IterationLosses[];
}

export interface StyleRunRecord {
  tool: 'convlab-style';
  version: 1;
  createdAt: string;
  /** Options as run (images as paths, or '<image WxH>' for in-memory ones). */
  options: Record<string, unknown>;
  seed: number;
  backend: { name: string; tfBackend: string; detail: string };
  model: { name: string; weights: string };
  memoryEstimateBytes: number;
  stages: StageRecord[];
  iterationsDone: number;
  seconds: number;
  secondsPerIteration: number;
  aborted: boolean;
  output?: { width: number; height: number };
  /** Files the caller wrote (filled by the CLI). */
  files?: Record<string, string | string[]>;
}

function describeImage(v: unknown): unknown {
  if (v && typeof v === 'object' && 'width' in v && 'data' in v) {
    const img = v as unknown as { width: number; height: number };
    return `<image ${img.width}x${img.height}>`;
  }
  return v;
}

export function createStyleRecord(o: ResolvedOptions, engine: EngineInfo, net: FeatureNet, memoryEstimateBytes: number): StyleRunRecord {
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) options[k] = Array.isArray(v) ? v.map(describeImage) : describeImage(v);
  return {
    tool: 'convlab-style',
    version: 1,
    createdAt: new Date().toISOString(),
    options,
    seed: o.seed,
    backend: { name: engine.backend, tfBackend: engine.tfBackend, detail: engine.detail },
    model: { name: net.name, weights: net.weights },
    memoryEstimateBytes,
    stages: [],
    iterationsDone: 0,
    seconds: 0,
    secondsPerIteration: 0,
    aborted: false,
  };
}

/** Loss history over all stages, one entry per iteration. */
export function allLosses(record: StyleRunRecord): IterationLosses[] {
  return record.stages.flatMap((s) => s.losses);
}
