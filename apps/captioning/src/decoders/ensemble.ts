/**
 * An ensemble of Show and Tell decoders that share a vocabulary, as Vinyals et al. and NMT systems decode:
 * at each step the members' next-word distributions are averaged (in probability space), and beam search
 * runs on the average. Members may read different features: the ensemble's input row is the members'
 * pooled vectors concatenated in member order, so one feature table (or one encoder with pooledLayers)
 * serves all of them.
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import { ParamStore } from '../params.js';
import { gatherState } from './common.js';
import type { CaptionDecoder, DecoderConfig, DecoderState, StepOutput } from './types.js';

export class EnsembleDecoder implements CaptionDecoder {
  readonly config: DecoderConfig;
  /** The ensemble has no weights of its own; members keep theirs. */
  readonly params = new ParamStore();
  private readonly offsets: number[];

  constructor(readonly members: CaptionDecoder[]) {
    if (!members.length) throw new RangeError('an ensemble needs at least one decoder');
    const first = members[0].config;
    for (const m of members) {
      if (m.config.kind !== 'show-tell') throw new RangeError(`ensembles combine show-tell decoders, not ${m.config.kind}`);
      if (m.config.vocabSize !== first.vocabSize) throw new RangeError(`ensemble members must share a vocabulary (${m.config.vocabSize} vs ${first.vocabSize} words)`);
    }
    this.offsets = members.map((_, i) => members.slice(0, i).reduce((a, m) => a + m.config.featureDim, 0));
    this.config = { ...first, featureDim: members.reduce((a, m) => a + m.config.featureDim, 0) };
  }

  loss(): Scalar {
    throw new Error('train the members of an ensemble one by one');
  }

  init(features: Tensor): DecoderState {
    const state: DecoderState = {};
    this.members.forEach((m, i) => {
      const part = tf.slice(features, [0, this.offsets[i]], [-1, m.config.featureDim]);
      for (const [k, v] of Object.entries(m.init(part))) state[`${i}/${k}`] = v;
      part.dispose();
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
