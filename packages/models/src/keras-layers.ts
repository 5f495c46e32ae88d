/**
 * Small helpers for building the Keras-applications architectures in code with Keras's own layer
 * names: a builder that hands out Keras 2's automatic names (`conv2d_1`, `batch_normalization_1`, ...,
 * counted from 1 per class as Keras 2.0-2.2 did when the published weight files were saved), and the
 * one custom layer they need (Inception-ResNet's scaled residual sum, a Keras `Lambda`).
 */
import { tf } from '@convlab/core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';

type Tensor = ReturnType<typeof tf.tensor>;
export type Sym = SymbolicTensor;

/** Keras's automatic layer names, one counter per class prefix, starting at 1. */
export class KerasNamer {
  private counts = new Map<string, number>();
  next(prefix: string): string {
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}_${n}`;
  }
}

export const apply = (layer: { apply(x: Sym | Sym[]): unknown }, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/**
 * x + scale * residual (Inception-ResNet, Szegedy et al. 2016, section 3.3: "scaling down the residuals
 * before adding them"). Keras writes it as Lambda(lambda inputs, scale: inputs[0] + inputs[1] * scale).
 */
export class ScaledResidual extends tf.layers.Layer {
  static className = 'ScaledResidual';
  readonly scale: number;
  constructor(config: { scale: number; name: string }) {
    super({ name: config.name });
    this.scale = config.scale;
  }
  override computeOutputShape(shapes: Parameters<InstanceType<typeof tf.layers.Layer>['computeOutputShape']>[0]) {
    return (shapes as (number | null)[][])[0];
  }
  override call(inputs: Tensor | Tensor[]): Tensor {
    const [x, up] = inputs as Tensor[];
    return tf.tidy(() => tf.add(x, tf.mul(up, this.scale)));
  }
  override getConfig() {
    return { ...super.getConfig(), scale: this.scale };
  }
}
tf.serialization.registerClass(ScaledResidual as unknown as Parameters<typeof tf.serialization.registerClass>[0]);
