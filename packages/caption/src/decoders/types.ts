import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@convlab/core';
import type { ParamStore } from '../params.js';

export type DecoderKind = 'show-tell' | 'show-attend-tell';

export interface DecoderConfig {
  kind: DecoderKind;
  vocabSize: number;
  /** Show and Tell: length of the pooled feature vector. Attention: channels of the spatial grid. */
  featureDim: number;
  /** Attention only: number of grid locations (h * w). */
  gridSize?: number;
  embedDim: number;
  hiddenDim: number;
  /** Attention only: size of the attention MLP. */
  attentionDim?: number;
  dropout: number;
  /**
   * Standardize features with per-channel mean/std of the training set (stored as non-trainable weights
   * feat_mean/feat_std). ReLU features share a large common component that otherwise dominates.
   */
  normalizeFeatures?: boolean;
  /** Attention only: weight of the doubly stochastic regularizer sum_i (1 - sum_t alpha_ti)^2. */
  alphaReg?: number;
}

/** A batch for teacher-forced training; T includes the final <end>. */
export interface TrainBatch {
  /** [B, F] pooled features or [B, L, D] grid features. */
  features: Tensor;
  /** [B, T] int32: <start>, w1, ..., w_{T-1}. */
  inputs: Tensor2D;
  /** [B, T] int32: w1, ..., <end>, then <pad>. */
  targets: Tensor2D;
  /** [B, T] float32: 1 where targets are real tokens. */
  mask: Tensor2D;
  /**
   * Optional [B * T] per-token weights of the log-loss (row-major like mask): self-critical training sets each
   * sampled caption's advantage here. Regularizers are left out when present.
   */
  weights?: Float32Array;
}

export type DecoderState = Record<string, Tensor>;

export interface StepOutput {
  /** [B, V] log-probabilities of the next word. */
  logprobs: Tensor2D;
  state: DecoderState;
  /** Attention only: [B, L] weights over the grid used at this step. */
  alpha?: Tensor2D;
}

export interface CaptionDecoder {
  readonly config: DecoderConfig;
  readonly params: ParamStore;
  /** Mean cross-entropy per real token (+ regularizers), for tf.variableGrads. */
  loss(batch: TrainBatch, training: boolean): Scalar;
  /** State before the first word: the image has been read. Features as in TrainBatch. */
  init(features: Tensor): DecoderState;
  /** Feed one word per row. */
  step(state: DecoderState, tokens: Tensor1D): StepOutput;
  /** Reorder / repeat state rows (beam search). */
  gather(state: DecoderState, rows: Tensor1D): DecoderState;
}
