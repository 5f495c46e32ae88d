/**
 * Image boxes for the units of a layer, from @convlab/core's receptive-field arithmetic: where a
 * top-9 patch is cut. Boxes keep the field's full size (up to the image size) and are slid inside
 * the image at the borders, so all nine crops of a unit have the same size.
 */
import { ConvlabError, receptiveFieldBox, receptiveFields, type ReceptiveField } from '@convlab/core';
import type { ConvNet } from '@convlab/models';
import type { Box } from './render.js';

export function layerReceptiveField(model: ConvNet, layer: string, inputSize: [number, number]): ReceptiveField {
  const name = model.resolveLayer(layer);
  // Only the layers the target depends on: a head further up may not fit a small input (a 7x7 pool
  // on a 2x2 map) and is irrelevant here.
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [name];
  while (stack.length) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    const l = byName.get(n);
    if (l) stack.push(...l.inbound);
  }
  const rf = receptiveFields(model.layers.filter((l) => needed.has(l.name)), inputSize).get(name);
  if (!rf) {
    throw new ConvlabError(`layer ${name} has no receptive field in the image (it pools globally)`, {
      hint: 'pick a convolutional layer with a spatial map',
    });
  }
  return rf;
}

export function unitBoxes(model: ConvNet, layer: string, inputSize: [number, number]): { rf: ReceptiveField; boxFor: (y: number, x: number) => Box } {
  const rf = layerReceptiveField(model, layer, inputSize);
  const [H, W] = inputSize;
  const full = (lo: number, hi: number, size: number, limit: number): [number, number] => {
    const want = Math.min(size, limit);
    if (hi - lo >= want) return [lo, hi];
    return lo === 0 ? [0, want] : [limit - want, limit];
  };
  return {
    rf,
    boxFor: (y, x) => {
      const b = receptiveFieldBox(rf, y, x, inputSize);
      const [y0, y1] = full(b.y0, b.y1, rf.size[0], H);
      const [x0, x1] = full(b.x0, b.x1, rf.size[1], W);
      return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    },
  };
}
