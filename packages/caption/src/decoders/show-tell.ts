/**
 * Show and Tell (Vinyals et al. 2015): the image embedding W_img * CNN(I) is the LSTM's first input
 * (t = -1), then <start> and the caption words; a linear layer on h_t predicts word t+1. The paper's
 * unrolled model and loss:
 *   x_{-1} = CNN(I),   x_t = W_e S_t (t = 0..N-1),   p_{t+1} = LSTM(x_t),   L(I, S) = -sum_{t=1..N} log p_t(S_t)
 * (here CNN(I) is a frozen encoder's pooled vector, standardized and projected by W_img).
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import { ParamStore } from '../params.js';
import { lstmStep, mm } from '../lstm.js';
import type { CaptionDecoder, DecoderConfig, DecoderState, StepOutput, TrainBatch } from './types.js';
import { addFeatureStats, embed, gatherState, maskedCrossEntropy, maybeDropout, normalize } from './common.js';

export class ShowTellDecoder implements CaptionDecoder {
  readonly params: ParamStore;

  constructor(
    readonly config: DecoderConfig,
    seed = 1,
  ) {
    const { vocabSize: v, featureDim: f, embedDim: e, hiddenDim: h } = config;
    const p = new ParamStore(seed);
    addFeatureStats(p, config);
    p.add('img_w', [f, e]);
    p.add('img_b', [e], 'zeros');
    p.add('embed', [v, e], 'uniform', 0.1);
    p.add('lstm_wx', [e, 4 * h]);
    p.add('lstm_wh', [h, 4 * h]);
    p.add('lstm_b', [4 * h], 'zeros');
    p.add('out_w', [h, v]);
    p.add('out_b', [v], 'zeros');
    this.params = p;
  }

  private w(name: string): Tensor2D {
    return this.params.get(name) as unknown as Tensor2D;
  }

  private imageInput(features: Tensor, training: boolean): Tensor2D {
    const x = tf.add(mm(maybeDropout(normalize(this.params, this.config, features) as Tensor2D, this.config.dropout, training, this.params), this.w('img_w')), this.w('img_b')) as Tensor2D;
    return x;
  }

  loss(batch: TrainBatch, training: boolean): Scalar {
    const { hiddenDim: h, vocabSize } = this.config;
    const [b, t] = batch.inputs.shape;
    const img = this.imageInput(batch.features, training); // [B, E]
    const words = maybeDropout(embed(this.w('embed'), batch.inputs) as Tensor, this.config.dropout, training, this.params); // [B, T, E]
    // Time-major sequence [T+1, B, E]: the image first, then the words; one matmul projects it all.
    const seq = tf.concat([tf.expandDims(img, 0), tf.transpose(words, [1, 0, 2])], 0);
    const e = seq.shape[2] as number;
    const xProj = tf.add(mm(tf.reshape(seq, [(t + 1) * b, e]) as Tensor2D, this.w('lstm_wx')), this.w('lstm_b'));
    const steps = tf.unstack(tf.reshape(xProj, [t + 1, b, 4 * h])) as Tensor2D[];
    let state = { h: tf.zeros([b, h]) as Tensor2D, c: tf.zeros([b, h]) as Tensor2D };
    const hs: Tensor2D[] = [];
    for (let i = 0; i <= t; i++) {
      state = lstmStep(steps[i], state, this.w('lstm_wh'));
      if (i > 0) hs.push(state.h);
    }
    return maskedCrossEntropy(hs, batch.targets, batch.mask, (x) => tf.add(mm(maybeDropout(x, this.config.dropout, training, this.params), this.w('out_w')), this.w('out_b')) as Tensor2D, vocabSize, batch.weights);
  }

  init(features: Tensor): DecoderState {
    return tf.tidy(() => {
      const b = features.shape[0];
      const x = tf.add(mm(this.imageInput(features, false), this.w('lstm_wx')), this.w('lstm_b')) as Tensor2D;
      const zeros = tf.zeros([b, this.config.hiddenDim]) as Tensor2D;
      const { h, c } = lstmStep(x, { h: zeros, c: zeros }, this.w('lstm_wh'));
      return { h, c };
    });
  }

  step(state: DecoderState, tokens: Tensor1D): StepOutput {
    return tf.tidy(() => {
      const x = tf.add(mm(embed(this.w('embed'), tokens) as Tensor2D, this.w('lstm_wx')), this.w('lstm_b')) as Tensor2D;
      const next = lstmStep(x, { h: state.h as Tensor2D, c: state.c as Tensor2D }, this.w('lstm_wh'));
      const logits = tf.add(mm(next.h, this.w('out_w')), this.w('out_b')) as Tensor2D;
      return { logprobs: tf.logSoftmax(logits), state: { h: next.h, c: next.c } };
    });
  }

  gather(state: DecoderState, rows: Tensor1D): DecoderState {
    return tf.tidy(() => gatherState(state, rows));
  }
}
