/** Small helpers shared by the layer handlers: Keras config parsing and weight lookup. */
import { ConvlabError } from '@convlab/core';
import type { GraphNode } from '../graph.js';
import type { Padding } from '../ops.js';
import type { Tensor } from './registry.js';

type Config = GraphNode['config'];

/** A Keras int-or-pair config value as [h, w] (fallback when absent). */
export function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

/** A Keras int-or-pair config value as [h, w], or undefined when absent. */
export function optionalPair(v: unknown): [number, number] | undefined {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return undefined;
}

export function paddingOf(config: Config): Padding {
  const p = config.padding;
  if (p === 'same' || p === 'valid') return p;
  if (p === 'causal') throw new ConvlabError(`padding 'causal' is not supported for 2D layers`);
  return 'valid';
}

/** ZeroPadding2D's padding config as [[top, bottom], [left, right]]. */
export function zeroPaddingOf(config: Config): [[number, number], [number, number]] {
  const p = config.padding as number | [number, number] | [[number, number], [number, number]];
  if (typeof p === 'number') return [[p, p], [p, p]];
  if (Array.isArray(p) && typeof p[0] === 'number') return [[p[0], p[0]], [p[1] as number, p[1] as number]];
  return p as [[number, number], [number, number]];
}

export function channelsFirst(config: Config): boolean {
  return config.dataFormat === 'channels_first';
}

/** A layer weight by the end of its name ('kernel', 'bias', 'moving_mean', ...). */
export function weightByName(node: GraphNode, suffix: string): Tensor | undefined {
  const { layer } = node;
  const i = layer.weights.findIndex((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
  if (i < 0) return undefined;
  return layer.getWeights()[i];
}
