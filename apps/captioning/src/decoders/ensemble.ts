/**
 * An ensemble of Show and Tell decoders that share a vocabulary, as Vinyals et al. and NMT systems decode:
 * at each step the members' next-word distributions are averaged (in probability space), and beam search
 * runs on the average. With `shared` (members trained on the same encoder, as a shipped ensemble is) every
 * member reads the one feature row; otherwise the input row is the members' pooled vectors concatenated in
 * member order, so members trained on different feature caches can be compared from one table.
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import { ParamStore } from '../params.js';
import { gatherState } from './common.js';
import type { CaptionDecoder, DecoderConfig, DecoderState, StepOutput } from './types.js';

export class EnsembleDecoder implements CaptionDecoder {
  readonly config: DecoderConfig;
  /** The members' weights under "<member>/<name>", so count() and dispose() cover the whole ensemble. */
  readonly params = new ParamStore();
  private readonly offsets: number[];

  constructor(
    readonly members: CaptionDecoder[],
    readonly options: { shared?: boolean } = {},
  ) {
    if (!members.length) throw new RangeError('an ensemble needs at least one decoder');
    const first = members[0].config;
    for (const m of members) {
      if (m.config.kind !== 'show-tell') throw new RangeError(`ensembles combine show-tell decoders, not ${m.config.kind}`);
      if (m.config.vocabSize !== first.vocabSize) throw new RangeError(`ensemble members must share a vocabulary (${m.config.vocabSize} vs ${first.vocabSize} words)`);
    }
    if (options.shared && members.some((m) => m.config.featureDim !== first.featureDim)) throw new RangeError('members sharing features must have the same feature size');
    members.forEach((m, i) => {
      for (const [k, v] of m.params.vars) this.params.vars.set(`${i}/${k}`, v);
    });
    this.offsets = members.map((_, i) => (options.shared ? 0 : members.slice(0, i).reduce((a, m) => a + m.config.featureDim, 0)));
    this.config = { ...first, featureDim: options.shared ? first.featureDim : members.reduce((a, m) => a + m.config.featureDim, 0) };
  }

  loss(): Scalar {
    throw new Error('train the members of an ensemble one by one');
  }

  init(features: Tensor): DecoderState {
    const state: DecoderState = {};
    this.members.forEach((m, i) => {
      const part = this.options.shared ? features : tf.slice(features, [0, this.offsets[i]], [-1, m.config.featureDim]);
      for (const [k, v] of Object.entries(m.init(part))) state[`${i}/${k}`] = v;
      if (part !== features) part.dispose();
    });
    return state;
  }

  step(state: DecoderState, tokens: Tensor1D): StepOutput {
    return tf.tidy(() => {
      const next: DecoderState = {};
      const logprobs = this.members.map((m, i) => {
        const own: DecoderState = {};
        for (const [k, v] of Object.entries(state)) if (k.startsWith(`${i}/`)) own[k.slice(k.indexOf('/') + 1)] = v;
        const out = m.step(own, tokens);
        for (const [k, v] of Object.entries(out.state)) next[`${i}/${k}`] = v;
        return out.logprobs;
      });
      // log mean_i p_i = logsumexp_i(log p_i) - log n
      const mixed = tf.sub(tf.logSumExp(tf.stack(logprobs), 0), Math.log(logprobs.length)) as Tensor2D;
      return { logprobs: mixed, state: next };
    });
  }

  gather(state: DecoderState, rows: Tensor1D): DecoderState {
    return tf.tidy(() => gatherState(state, rows));
  }
}
