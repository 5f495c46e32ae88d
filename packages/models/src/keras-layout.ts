/**
 * The layout of the Keras-applications weight files, derived from an architecture built with Keras's
 * layer names: for every layer (weightless ones included, in model order) the weight names and shapes
 * the file stores, and a writer that produces such a file from given values (for tests and benchmarks:
 * no real weights can be downloaded on these machines).
 *
 * What the published files look like (Keras 2 `save_weights` layout): root attribute `layer_names`
 * (every layer), one group per layer with attribute `weight_names`, datasets at
 * `<layer>/<weight name>`. Two naming styles exist:
 * - 'keras2' (ResNet, Inception, MobileNetV2 files): `<layer>/kernel:0`, `/bias:0`, `/gamma:0`,
 *   `/beta:0`, `/moving_mean:0`, `/moving_variance:0`, `/depthwise_kernel:0`, stored nested
 *   (`conv1_conv/conv1_conv/kernel:0`); root attributes `backend` = 'tensorflow' and `keras_version`.
 * - 'keras1' (the VGG16/19 files, saved by Keras 1): `<layer>_W_1:0`, `<layer>_b_1:0`, stored flat
 *   (`block1_conv1/block1_conv1_W_1:0`); root attribute `layer_names` only.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import h5wasm from 'h5wasm/node';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { writeStringList } from './keras-h5.js';

export type KerasLayoutStyle = 'keras1' | 'keras2';

export interface KerasLayoutLayer {
  name: string;
  /** Weight names as the file lists them in `weight_names`, with shapes, in Keras's order. */
  weights: { name: string; role: string; shape: number[] }[];
}

const KERAS1_ROLE: Record<string, string> = { kernel: 'W', bias: 'b' };

/** The file layout of a model built with Keras's names. */
export function kerasLayout(model: LayersModel, style: KerasLayoutStyle = 'keras2'): KerasLayoutLayer[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    weights: layer.weights.map((w) => {
      const role = w.originalName.split('/').pop() ?? w.originalName;
      const name = style === 'keras2' ? `${layer.name}/${role}:0` : `${layer.name}_${KERAS1_ROLE[role] ?? role}_1:0`;
      return { name, role, shape: w.shape as number[] };
    }),
  }));
}

export interface WriteLayoutOptions {
  style?: KerasLayoutStyle;
  /** Root `keras_version` ('keras2' style; default '2.1.6'). */
  kerasVersion?: string;
}

/**
 * Write a weights file in a Keras-applications layout, atomically. `values(layer, weightIndex)` returns
 * the float32 data of each weight (row-major, the layout's shape).
 */
export async function writeKerasLayoutH5(
  path: string,
  layout: KerasLayoutLayer[],
  values: (layer: string, index: number) => Float32Array,
  options: WriteLayoutOptions = {},
): Promise<void> {
  await h5wasm.ready;
  const style = options.style ?? (layout.some((l) => l.weights.some((w) => w.name.includes('/'))) ? 'keras2' : 'keras1');
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = new h5wasm.File(tmp, 'w', { libver: ['earliest', 'latest'] } as never);
    try {
      writeStringList(file, 'layer_names', layout.map((l) => l.name));
      if (style === 'keras2') {
        file.create_attribute('backend', 'tensorflow');
        file.create_attribute('keras_version', options.kerasVersion ?? '2.1.6');
      }
      for (const layer of layout) {
        const group = file.create_group(layer.name);
        if (layer.weights.length) writeStringList(group, 'weight_names', layer.weights.map((w) => w.name));
        else group.create_attribute('weight_names', new Float64Array(0), [0], '<d');
        layer.weights.forEach((w, i) => {
          const parts = w.name.split('/');
          let g = group;
          for (const part of parts.slice(0, -1)) {
            const existing = g.get(part);
            g = existing instanceof h5wasm.Group ? existing : g.create_group(part);
          }
          const data = values(layer.name, i);
          const size = w.shape.reduce((a, b) => a * b, 1);
          if (data.length !== size) throw new Error(`writeKerasLayoutH5: ${layer.name}/${w.name} needs ${size} values, got ${data.length}`);
          g.create_dataset({ name: parts[parts.length - 1], data, shape: w.shape, dtype: '<f' });
        });
      }
    } finally {
      file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
