/**
 * Feature info (timm's FeatureInfo) and layer roles.
 *
 * featureInfo: for every layer, its channels, reduction (the stride of its output w.r.t. the input, from
 * @convlab/core's receptive-field arithmetic: nominal, so InceptionV3's 8x8 mixed10 at 299 px is 32),
 * receptive field, output shape at a given input size, kind, and whether it is a conv-block output.
 *
 * Conv-block outputs (role candidates) are the layers that
 *   1. have a spatial output ([n, h, w, c], larger than 1x1 at the model's input size) and come
 *      before any global pooling / flatten / dense (nsfwjs's heads pool 7x7 -> 1x1 with an ordinary
 *      AveragePooling2D: rule 1's size test leaves it out);
 *   2. are cut points of the graph: no edge jumps over them in topological order, so every path from
 *      the input passes through them (Inception's mixedN and MobileNetV2's block_N_add qualify, the
 *      branches inside a module or residual block do not; in a plain chain such as VGG every layer does);
 *   3. are features rather than intermediate arithmetic: kind relu, activation, add, concat, maxpool,
 *      avgpool, or a conv with its own activation (VGG's block5_conv4). Padding, batch norm and linear
 *      convs are not.
 *
 * Roles among the candidates, by reduction:
 *   early: the last candidate at reduction <= 4;  mid: <= 8;  late: <= 16 (the first candidate where
 *   none qualifies); last-conv: the last candidate that is not a pooling layer.
 * A network that never reaches reduction 8 (a small test net) takes early / mid / late at the 1/4, 1/2
 * and 3/4 quantiles of its candidate list instead.
 */
import { receptiveFields, type ReceptiveField } from '@convlab/core';
import type { FeatureInfo, LayerInfo, LayerKind, LayerRole } from './types.js';

type Shape = (number | null)[];

export const LAYER_ROLES: readonly LayerRole[] = ['early', 'mid', 'late', 'last-conv'];

const GLOBAL_KINDS = new Set<LayerKind>(['global_pool', 'flatten', 'dense']);
const FEATURE_KINDS = new Set<LayerKind>(['relu', 'activation', 'add', 'concat', 'maxpool', 'avgpool']);
const POOL_KINDS = new Set<LayerKind>(['maxpool', 'avgpool']);
const ROLE_REDUCTION: Record<Exclude<LayerRole, 'last-conv'>, number> = { early: 4, mid: 8, late: 16 };

/** Names of the layers through which every input-to-output path passes (layers in topological order). */
export function cutPoints(layers: readonly Pick<LayerInfo, 'name' | 'inbound'>[]): Set<string> {
  const pos = new Map(layers.map((l, i) => [l.name, i]));
  const reachFrom = new Array<number>(layers.length).fill(-1);
  layers.forEach((l, i) => {
    for (const src of l.inbound) {
      const j = pos.get(src);
      if (j !== undefined) reachFrom[j] = Math.max(reachFrom[j], i);
    }
  });
  const cuts = new Set<string>();
  let reach = -1; // the furthest node an edge from an earlier node goes to
  layers.forEach((l, i) => {
    if (reach <= i) cuts.add(l.name);
    reach = Math.max(reach, reachFrom[i]);
  });
  return cuts;
}

/** The role candidates (conv-block outputs, see the rule above), in topological order. */
export function blockOutputs(layers: readonly LayerInfo[]): string[] {
  const cuts = cutPoints(layers);
  const afterGlobal = new Set<string>();
  for (const l of layers) {
    if (GLOBAL_KINDS.has(l.kind) || l.inbound.some((i) => afterGlobal.has(i))) afterGlobal.add(l.name);
  }
  return layers
    .filter(
      (l) =>
        l.outputShape.length === 4 &&
        ((l.outputShape[1] ?? 2) as number) * ((l.outputShape[2] ?? 2) as number) > 1 &&
        !afterGlobal.has(l.name) &&
        cuts.has(l.name) &&
        (FEATURE_KINDS.has(l.kind) || ((l.kind === 'conv' || l.kind === 'depthwise_conv') && l.activation !== undefined)),
    )
    .map((l) => l.name);
}

function reductionOf(rf: ReceptiveField | undefined): number | null {
  return rf ? Math.max(rf.stride[0], rf.stride[1]) : null;
}

/** The layer for each role (the rule above), from the layers at their default input size. */
export function chooseRoles(layers: readonly LayerInfo[], inputSize: [number, number]): Record<LayerRole, string> {
  let candidates = blockOutputs(layers);
  if (!candidates.length) candidates = layers.filter((l) => l.outputShape.length === 4 && l.kind !== 'input').map((l) => l.name);
  if (!candidates.length) candidates = [layers[layers.length - 1].name];
  const rfs = receptiveFields([...layers], inputSize);
  const reduction = (name: string): number => reductionOf(rfs.get(name)) ?? Infinity;
  const kinds = new Map(layers.map((l) => [l.name, l.kind]));
  const convLike = candidates.filter((n) => !POOL_KINDS.has(kinds.get(n)!));
  const roles = {} as Record<LayerRole, string>;
  const deep = candidates.some((n) => reduction(n) >= 8);
  for (const [role, r] of Object.entries(ROLE_REDUCTION) as [Exclude<LayerRole, 'last-conv'>, number][]) {
    if (deep) {
      const within = candidates.filter((n) => reduction(n) <= r);
      roles[role] = within[within.length - 1] ?? candidates[0];
    } else {
      const q = { early: 0.25, mid: 0.5, late: 0.75 }[role];
      roles[role] = candidates[Math.floor(q * (candidates.length - 1))];
    }
  }
  roles['last-conv'] = convLike[convLike.length - 1] ?? candidates[candidates.length - 1];
  return roles;
}

/**
 * Feature info for every layer at `inputSize`, given each layer's output shape at that size (layers
 * missing from `shapes` do not fit the size: a classifier head at another size).
 */
export function describeFeatures(
  layers: readonly LayerInfo[],
  shapes: ReadonlyMap<string, Shape>,
  inputSize: [number, number],
  roles: Record<LayerRole, string>,
): FeatureInfo[] {
  const fitting = layers.filter((l) => shapes.has(l.name)).map((l) => ({ ...l, outputShape: shapes.get(l.name)! }));
  const rfs = receptiveFields(fitting, inputSize);
  const blocks = new Set(blockOutputs(layers));
  const rolesOf = new Map<string, LayerRole[]>();
  for (const role of LAYER_ROLES) rolesOf.set(roles[role], [...(rolesOf.get(roles[role]) ?? []), role]);
  return layers.map((l, index) => {
    const shape = shapes.get(l.name);
    const rf = shape ? rfs.get(l.name) : undefined;
    const spatial = (shape ?? l.outputShape).length === 4;
    const last = (shape ?? l.outputShape)[(shape ?? l.outputShape).length - 1];
    return {
      name: l.name,
      aliases: l.aliases,
      className: l.className,
      kind: l.kind,
      index,
      channels: typeof last === 'number' ? last : 0,
      reduction: spatial ? reductionOf(rf) : null,
      receptiveField: rf ? rf.size : null,
      outputShape: shape ? (shape.slice(1) as number[]) : null,
      blockOutput: blocks.has(l.name),
      roles: rolesOf.get(l.name) ?? [],
    };
  });
}

/** Functional form of `model.featureInfo(inputSize)` (timm's `model.feature_info`). */
export function featureInfo(model: { featureInfo(inputSize?: [number, number]): FeatureInfo[] }, inputSize?: [number, number]): FeatureInfo[] {
  return model.featureInfo(inputSize);
}
