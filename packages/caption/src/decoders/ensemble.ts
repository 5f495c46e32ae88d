/**
 * An ensemble of caption decoders that share a vocabulary, as Vinyals et al. and NMT systems decode: at each
 * step the members' next-word distributions are averaged (in probability space), and beam search runs on the
 * average. With `shared` (members trained on the same features, as a shipped ensemble is) every member reads
 * the one feature input. Otherwise the input row is the members' features flattened and concatenated in
 * member order (a pooled vector, or an attention member's whole L x D grid), so members trained on different
 * encoders, or different decoders, are compared from one table.
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import { ParamStore } from '../params.js';
import type { CaptionDecoder, DecoderConfig, DecoderState, StepOutput } from './types.js';

export class EnsembleDecoder implements CaptionDecoder {
  readonly config: DecoderConfig;
  /** The members' weights under "<member>/<name>", so count() and dispose() cover the whole ensemble. */
  readonly params = new ParamStore();
  private readonly offsets: number[];
  private readonly widths: number[];

  constructor(
    readonly members: CaptionDecoder[],
    readonly options: { shared?: boolean } = {},
  ) {
    if (!members.length) throw new RangeError('an ensemble needs at least one decoder');
    const first = members[0].config;
    for (const m of members) {
      if (m.config.vocabSize !== first.vocabSize) throw new RangeError(`ensemble members must share a vocabulary (${m.config.vocabSize} vs ${first.vocabSize} words)`);
    }
    if (options.shared && members.some((m) => m.config.kind !== first.kind || m.config.featureDim !== first.featureDim || m.config.gridSize !== first.gridSize)) {
      throw new RangeError('members sharing features must be the same kind of decoder with the same feature shape');
    }
    members.forEach((m, i) => {
      for (const [k, v] of m.params.vars) this.params.vars.set(`${i}/${k}`, v);
    });
    this.widths = members.map((m) => inputWidth(m.config));
    this.offsets = members.map((_, i) => (options.shared ? 0 : this.widths.slice(0, i).reduce((a, w) => a + w, 0)));
    // Separate inputs are one flat row per image, which is what a show-tell config describes.
    this.config = options.shared ? { ...first } : { ...first, kind: 'show-tell', gridSize: undefined, featureDim: this.widths.reduce((a, w) => a + w, 0) };
  }

  loss(): Scalar {
    throw new Error('train the members of an ensemble one by one');
  }

  init(features: Tensor): DecoderState {
    const state: DecoderState = {};
    this.members.forEach((m, i) => {
      const part = this.options.shared ? features : memberInput(features, this.offsets[i], this.widths[i], m.config);
      for (const [k, v] of Object.entries(m.init(part))) state[`${i}/${k}`] = v;
      if (part !== features) part.dispose();
    });
    return state;
  }

  step(state: DecoderState, tokens: Tensor1D): StepOutput {
    return tf.tidy(() => {
      const next: DecoderState = {};
      const logprobs = this.members.map((m, i) => {
        const out = m.step(ownState(state, i), tokens);
        for (const [k, v] of Object.entries(out.state)) next[`${i}/${k}`] = v;
        return out.logprobs;
      });
      // log mean_i p_i = logsumexp_i(log p_i) - log n
      const mixed = tf.sub(tf.logSumExp(tf.stack(logprobs), 0), Math.log(logprobs.length)) as Tensor2D;
      return { logprobs: mixed, state: next };
    });
  }

  /** Each member reorders its own state (their layouts differ: see ShowAttendTellDecoder.gather). */
  gather(state: DecoderState, rows: Tensor1D): DecoderState {
    const next: DecoderState = {};
    this.members.forEach((m, i) => {
      for (const [k, v] of Object.entries(m.gather(ownState(state, i), rows))) next[`${i}/${k}`] = v;
    });
    return next;
  }
}

/** Member i's part of an ensemble state, under its own key names. */
function ownState(state: DecoderState, i: number): DecoderState {
  const own: DecoderState = {};
  for (const [k, v] of Object.entries(state)) if (k.startsWith(`${i}/`)) own[k.slice(k.indexOf('/') + 1)] = v;
  return own;
}

/** Flat input columns a member reads from a concatenated row: L * D for an attention grid, D for a vector. */
function inputWidth(config: DecoderConfig): number {
  return (config.gridSize ?? 1) * config.featureDim;
}

/** A member's columns of the concatenated [B, total] row, shaped as the member expects ([B, L, D] for a grid). */
function memberInput(features: Tensor, offset: number, width: number, config: DecoderConfig): Tensor {
  return tf.tidy(() => {
    const cols = tf.slice(features, [0, offset], [-1, width]);
    return config.gridSize ? tf.reshape(cols, [-1, config.gridSize, config.featureDim]) : cols;
  });
}
