/**
 * A named set of trainable variables with seeded initialisation, so decoders can be saved, loaded and
 * checked for shape mismatches by name.
 */
import { tf, ConvlabError, opSeed, seededRandom } from '@convlab/core';
import type { Tensor, Variable } from '@convlab/core';

/** Small deterministic PRNG (mulberry32, @convlab/core's seededRandom) so runs with the same seed start from the same weights. */
export const rng = seededRandom;

export type Init = 'zeros' | 'ones' | 'uniform' | 'glorot' | 'orthogonal-ish' | { constant: number };

let storeCounter = 0;

export class ParamStore {
  /** tfjs variable names are global: each store prefixes its own. */
  readonly prefix = `caption${++storeCounter}`;
  readonly vars = new Map<string, Variable>();
  private readonly random: () => number;
  private dropoutCalls = 0;

  constructor(readonly seed = 1) {
    this.random = rng(seed);
  }

  /**
   * A fresh tfjs seed for each dropout mask, so a training run with the same seed draws the same masks
   * (tfjs's unseeded dropout would make every run different). A resumed run restarts the sequence.
   */
  dropoutSeed(): number {
    return opSeed(this.seed, this.dropoutCalls++);
  }

  add(name: string, shape: number[], init: Init = 'glorot', scale = 0.08, trainable = true): Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (init === 'uniform') for (let i = 0; i < size; i++) values[i] = (this.random() * 2 - 1) * scale;
    else if (init === 'glorot' || init === 'orthogonal-ish') {
      const fanIn = shape.length > 1 ? shape[0] : 1;
      const fanOut = shape[shape.length - 1];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) values[i] = (this.random() * 2 - 1) * limit;
    } else if (init === 'ones') values.fill(1);
    else if (typeof init === 'object') values.fill(init.constant);
    const init0 = tf.tensor(values, shape);
    const v = tf.variable(init0, trainable, `${this.prefix}/${name}`);
    init0.dispose();
    this.vars.set(name, v);
    return v;
  }

  get(name: string): Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Copy values in by name, checking every shape. */
  assign(values: Map<string, Tensor>, source: string): void {
    for (const [name, v] of this.vars) {
      const t = values.get(name);
      if (!t) throw new ConvlabError(`${source} lacks weight "${name}"`, { hint: 'the weights do not belong to this decoder configuration' });
      if (t.shape.join('x') !== v.shape.join('x')) {
        throw new ConvlabError(`${source}: weight "${name}" has shape [${t.shape}] but the decoder expects [${v.shape}]`, {
          hint: 'the vocabulary or config does not match these weights (vocabulary mismatch?): use the files saved together',
        });
      }
      v.assign(t);
    }
  }

  trainable(): Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
