/**
 * Show, Attend and Tell with soft attention (Xu et al. 2015). Grid features a_i (L locations) are first
 * projected to hiddenDim channels with a learned linear layer + ReLU (saves per-step cost with 1280-channel
 * MobileNetV2 grids); h_0, c_0 = tanh(MLP(mean_i a_i)); at step t the attention MLP scores
 * e_ti = w^T tanh(W_a a_i + W_h h_{t-1}), alpha_t = softmax(e_t), z_t = beta_t * sum_i alpha_ti a_i with the
 * gate beta_t = sigmoid(f_beta(h_{t-1})); the LSTM reads [E y_{t-1}, z_t]; the deep output layer is
 * p(y_t) = softmax(L_o(E y_{t-1} + L_h h_t + L_z z_t)). Loss: cross-entropy
 * + lambda * sum_i (1 - sum_t alpha_ti)^2 (the doubly stochastic regularizer), scaled per word like the loss.
 */
import { tf } from '@convlab/core';
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D } from '@convlab/core';
import { ParamStore } from '../params.js';
import { gatherRows, lstmStep, mm } from '../lstm.js';
import { softmaxCrossEntropy } from '../fused.js';
import type { CaptionDecoder, DecoderConfig, DecoderState, StepOutput, TrainBatch } from './types.js';
import { selectWeights, addFeatureStats, embed, gatherBlocks, maybeDropout, normalize } from './common.js';

export class ShowAttendTellDecoder implements CaptionDecoder {
  readonly params: ParamStore;

  constructor(
    readonly config: DecoderConfig,
    seed = 1,
  ) {
    const { vocabSize: v, featureDim: d, embedDim: e, hiddenDim: h } = config;
    const a = config.attentionDim ?? h;
    if (!config.gridSize) throw new Error('show-attend-tell needs gridSize');
    const p = new ParamStore(seed);
    addFeatureStats(p, config);
    p.add('enc_w', [d, h]);
    p.add('enc_b', [h], 'zeros');
    p.add('init_h_w', [h, h]);
    p.add('init_h_b', [h], 'zeros');
    p.add('init_c_w', [h, h]);
    p.add('init_c_b', [h], 'zeros');
    p.add('att_wa', [h, a]);
    p.add('att_wh', [h, a]);
    p.add('att_b', [a], 'zeros');
    p.add('att_v', [a, 1]);
    p.add('beta_w', [h, 1]);
    p.add('beta_b', [1], 'zeros');
    p.add('embed', [v, e], 'uniform', 0.1);
    p.add('lstm_wx', [e, 4 * h]);
    p.add('lstm_wz', [h, 4 * h]);
    p.add('lstm_wh', [h, 4 * h]);
    p.add('lstm_b', [4 * h], 'zeros');
    p.add('out_wh', [h, e]);
    p.add('out_wz', [h, e]);
    p.add('out_w', [e, v]);
    p.add('out_b', [v], 'zeros');
    this.params = p;
  }

  private w(name: string): Tensor2D {
    return this.params.get(name) as unknown as Tensor2D;
  }

  /**
   * [B, L, D] -> annotations [B, L, H] and their attention projection, location-major [L, B, A]. Every
   * per-step op below is then a matmul or a broadcast over trailing axes: with a [B, 1, A] broadcast and
   * sums over the middle axis, tfjs's cpu backend fell back to JS loops and a training batch took 6.6 s
   * instead of about 1 s (tools/bench/caption-attention.ts).
   */
  private annotate(features: Tensor, training: boolean): { ann: Tensor3D; annProjT: Tensor3D } {
    const [b, l, d] = features.shape as [number, number, number];
    const h = this.config.hiddenDim;
    const flat = maybeDropout(normalize(this.params, this.config, tf.reshape(features, [b * l, d])) as Tensor2D, this.config.dropout, training, this.params);
    const ann2 = tf.relu(tf.add(mm(flat, this.w('enc_w')), this.w('enc_b'))) as Tensor2D;
    const annProj = tf.reshape(tf.add(mm(ann2, this.w('att_wa')), this.w('att_b')), [b, l, -1]);
    return { ann: tf.reshape(ann2, [b, l, h]) as Tensor3D, annProjT: tf.transpose(annProj, [1, 0, 2]) as Tensor3D };
  }

  private initial(ann: Tensor3D): { h: Tensor2D; c: Tensor2D } {
    const [b, l, h] = ann.shape;
    // The mean over locations as a batched matmul (a middle-axis reduction is slow on the cpu backend).
    const mean = tf.reshape(tf.matMul(tf.fill([b, 1, l], 1 / l), ann), [b, h]) as Tensor2D;
    return {
      h: tf.tanh(tf.add(mm(mean, this.w('init_h_w')), this.w('init_h_b'))) as Tensor2D,
      c: tf.tanh(tf.add(mm(mean, this.w('init_c_w')), this.w('init_c_b'))) as Tensor2D,
    };
  }

  /** Attention with h_{t-1}: returns alpha [B, L] and the gated context z [B, H]. */
  private attend(ann: Tensor3D, annProjT: Tensor3D, h: Tensor2D): { alpha: Tensor2D; z: Tensor2D } {
    const [l, b, a] = annProjT.shape;
    const e = tf.tanh(tf.add(annProjT, mm(h, this.w('att_wh')))); // [L, B, A] + [B, A]
    const scores = tf.transpose(tf.reshape(mm(tf.reshape(e, [l * b, a]) as Tensor2D, this.w('att_v')), [l, b]));
    const alpha = tf.softmax(scores) as Tensor2D;
    const context = tf.reshape(tf.matMul(tf.reshape(alpha, [b, 1, l]), ann), [b, -1]) as Tensor2D;
    const beta = tf.sigmoid(tf.add(mm(h, this.w('beta_w')), this.w('beta_b')));
    return { alpha, z: tf.mul(beta, context) as Tensor2D };
  }

  private cell(xWord: Tensor2D, z: Tensor2D, state: { h: Tensor2D; c: Tensor2D }) {
    return lstmStep(tf.add(xWord, mm(z, this.w('lstm_wz'))) as Tensor2D, state, this.w('lstm_wh'));
  }

  private logits(emb: Tensor2D, h: Tensor2D, z: Tensor2D, training: boolean): Tensor2D {
    const out = tf.add(tf.add(emb, mm(h, this.w('out_wh'))), mm(z, this.w('out_wz'))) as Tensor2D;
    return tf.add(mm(maybeDropout(out, this.config.dropout, training, this.params), this.w('out_w')), this.w('out_b')) as Tensor2D;
  }

  loss(batch: TrainBatch, training: boolean): Scalar {
    const { vocabSize, embedDim: e } = this.config;
    const [b, t] = batch.inputs.shape;
    const { ann, annProjT } = this.annotate(batch.features, training);
    let state = this.initial(ann);
    const embs = maybeDropout(embed(this.w('embed'), batch.inputs) as Tensor, this.config.dropout, training, this.params); // [B, T, E]
    const embT = tf.transpose(embs, [1, 0, 2]);
    const xProj = tf.add(mm(tf.reshape(embT, [t * b, e]) as Tensor2D, this.w('lstm_wx')), this.w('lstm_b'));
    const xSteps = tf.unstack(tf.reshape(xProj, [t, b, -1])) as Tensor2D[];
    const embSteps = tf.unstack(embT) as Tensor2D[];
    const maskT = tf.unstack(tf.transpose(batch.mask)) as Tensor1D[];
    const outs: Tensor2D[] = [];
    let alphaSum: Tensor = tf.zeros([b, ann.shape[1]]);
    for (let i = 0; i < t; i++) {
      const { alpha, z } = this.attend(ann, annProjT, state.h);
      state = this.cell(xSteps[i], z, state);
      outs.push(tf.add(tf.add(embSteps[i], mm(state.h, this.w('out_wh'))), mm(z, this.w('out_wz'))) as Tensor2D);
      alphaSum = tf.add(alphaSum, tf.mul(alpha, tf.expandDims(maskT[i], 1)));
    }
    const [, tt] = batch.targets.shape;
    const outFlat = tf.reshape(tf.transpose(tf.stack(outs), [1, 0, 2]), [b * tt, e]) as Tensor2D;
    const maskValues = batch.mask.dataSync();
    const rows: number[] = [];
    for (let i = 0; i < maskValues.length; i++) if (maskValues[i] > 0) rows.push(i);
    const logits = tf.add(mm(maybeDropout(gatherRows(outFlat, Int32Array.from(rows)), this.config.dropout, training, this.params), this.w('out_w')), this.w('out_b')) as Tensor2D;
    const tgtAll = batch.targets.dataSync();
    const ce = softmaxCrossEntropy(logits, Int32Array.from(rows, (r) => tgtAll[r]), selectWeights(batch.weights, rows));
    void vocabSize;
    if (batch.weights) return ce;
    // Xu et al. add lambda * sum_i (1 - sum_t alpha_ti)^2 to a caption's summed log-loss; our cross-entropy is
    // a mean per word, so the penalty is divided by the mean caption length (real tokens per caption) to keep
    // their balance.
    const lambda = this.config.alphaReg ?? 1;
    const wordsPerCaption = rows.length / b;
    const reg = tf.mul(lambda / wordsPerCaption, tf.mean(tf.sum(tf.square(tf.sub(1, alphaSum)), 1)));
    return tf.add(ce, reg) as Scalar;
  }

  init(features: Tensor): DecoderState {
    return tf.tidy(() => {
      const { ann, annProjT } = this.annotate(features, false);
      const { h, c } = this.initial(ann);
      return { h, c, ann, annProjT };
    });
  }

  step(state: DecoderState, tokens: Tensor1D): StepOutput {
    return tf.tidy(() => {
      const ann = state.ann as Tensor3D;
      const annProjT = state.annProjT as Tensor3D;
      const emb = embed(this.w('embed'), tokens) as Tensor2D;
      const { alpha, z } = this.attend(ann, annProjT, state.h as Tensor2D);
      const x = tf.add(mm(emb, this.w('lstm_wx')), this.w('lstm_b')) as Tensor2D;
      const next = this.cell(x, z, { h: state.h as Tensor2D, c: state.c as Tensor2D });
      const logits = this.logits(emb, next.h, z, false);
      return { logprobs: tf.logSoftmax(logits), state: { h: next.h, c: next.c, ann, annProjT }, alpha };
    });
  }

  /** Rows of the state; annProjT is location-major, so its rows are on axis 1. */
  gather(state: DecoderState, rows: Tensor1D): DecoderState {
    const ids = rows.dataSync();
    const out: DecoderState = {};
    for (const [k, v] of Object.entries(state)) out[k] = gatherBlocks(v, ids, k === 'annProjT' ? 1 : 0);
    return out;
  }
}
