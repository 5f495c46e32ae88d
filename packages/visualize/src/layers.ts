/**
 * The `layers` call: every layer of a model with its output shape, receptive field and reduction at
 * an input size, and the layers that play a role (@early, @mid, @late, @last-conv), from
 * @convlab/models' feature info (`net.featureInfo(size)`, `net.layerRoles()`).
 */
import { parseOptions } from '@convlab/core';
import type { ConvNet, FeatureInfo, LayerRole } from '@convlab/models';
import { checkSizeForModel } from './checks.js';
import { LayersOptions } from './options.js';

export interface LayersResult {
  model: string;
  /** The input size the shapes and receptive fields are for. */
  size: [number, number];
  layers: FeatureInfo[];
  roles: Record<LayerRole, string>;
}

export function describeLayers(model: ConvNet, options: LayersOptions = {}): LayersResult {
  const o = parseOptions(LayersOptions, options, 'code');
  const size = checkSizeForModel(model, o.size);
  return { model: model.name, size, layers: model.featureInfo(size), roles: model.layerRoles() };
}

/** One line per layer (name, kind, shape, receptive field, reduction, aliases, roles), then the roles. */
export function formatLayers(r: LayersResult): string[] {
  const lines = r.layers.map((l) => {
    const shape = l.outputShape ? l.outputShape.join('x') : '-';
    const rf = l.receptiveField && l.reduction !== null ? `rf ${l.receptiveField[0]}x${l.receptiveField[1]} stride ${l.reduction}` : '';
    const extra = [...l.aliases, ...l.roles.map((role) => `@${role}`)];
    return `${l.name.padEnd(32)} ${l.kind.padEnd(15)} ${shape.padEnd(14)} ${rf}${extra.length ? `  (${extra.join(', ')})` : ''}`.trimEnd();
  });
  lines.push('', `roles at ${r.size.join('x')}: ${Object.entries(r.roles).map(([role, name]) => `@${role} = ${name}`).join(', ')}`);
  return lines;
}
