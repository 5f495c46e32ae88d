/**
 * Beam search and greedy decoding over any step-wise sequence model. The search itself is plain
 * TypeScript over log-probability arrays, so it can be checked with a toy model whose probabilities
 * are known; `decoderModel` adapts a tfjs CaptionDecoder to it.
 */
import { tf } from '@convlab/core';
import type { Tensor } from '@convlab/core';
import type { CaptionDecoder, DecoderState } from './decoders/types.js';
import { END_ID, START_ID } from './vocab.js';

export interface SequenceModel<S> {
  /** One row per live hypothesis: feed tokens, get log-probabilities [rows][V] and the next state. */
  step(state: S, tokens: number[]): { logprobs: Float32Array[]; state: S; attention?: Float32Array[] };
  /** Keep/duplicate state rows in the given order. */
  reorder(state: S, rows: number[]): S;
  /** Free a state that is no longer needed (tensor-backed models). */
  release?(state: S, keep?: S): void;
}

export interface BeamOptions {
  beamSize?: number;
  /** Maximum words (without <end>). */
  maxLength?: number;
  /** Rank finished hypotheses by logp / length^alpha (alpha 0 = raw log-probability). */
  lengthPenalty?: number;
  /** Forbid a word that would repeat a trigram already in the hypothesis. */
  blockRepeatedTrigrams?: boolean;
  startId?: number;
  endId?: number;
}

export interface Hypothesis {
  tokens: number[];
  logprob: number;
  score: number;
  /** Per word (and the final <end>), the attention weights that produced it, if the model has them. */
  attention?: Float32Array[];
}

interface Live {
  tokens: number[];
  logprob: number;
  attention?: Float32Array[];
}

function repeatsTrigram(tokens: number[], next: number): boolean {
  const n = tokens.length;
  if (n < 2) return false;
  const a = tokens[n - 2];
  const b = tokens[n - 1];
  for (let i = 0; i + 2 < n; i++) if (tokens[i] === a && tokens[i + 1] === b && tokens[i + 2] === next) return true;
  return false;
}

/**
 * Standard beam search: keep the beamSize best partial captions; a candidate ending in <end> is finished;
 * stop once beamSize captions are finished or maxLength is reached. Returns finished hypotheses, best first.
 */
/** Library callers get a RangeError instead of an empty caption (beam 0, max length 0) or a NaN score. */
function checkDecoding(k: number, maxLength: number, alpha = 0): void {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`beam search: beamSize must be an integer >= 1, got ${k}`);
  if (!(Number.isInteger(maxLength) && maxLength >= 1)) throw new RangeError(`decoding: maxLength must be an integer >= 1, got ${maxLength}`);
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new RangeError(`beam search: lengthPenalty must be a number >= 0, got ${alpha}`);
}

export function beamSearch<S>(model: SequenceModel<S>, initial: S, options: BeamOptions = {}): Hypothesis[] {
  const k = options.beamSize ?? 3;
  const maxLength = options.maxLength ?? 20;
  const alpha = options.lengthPenalty ?? 0;
  checkDecoding(k, maxLength, alpha);
  const startId = options.startId ?? START_ID;
  const endId = options.endId ?? END_ID;
  const norm = (logprob: number, length: number) => (alpha === 0 ? logprob : logprob / Math.pow(length, alpha));
  let live: Live[] = [{ tokens: [], logprob: 0 }];
  let state = initial;
  let feed = [startId];
  const finished: Hypothesis[] = [];
  for (let t = 0; t <= maxLength && live.length > 0 && finished.length < k; t++) {
    const out = model.step(state, feed);
    model.release?.(state, out.state);
    state = out.state;
    const cands: { row: number; word: number; logprob: number }[] = [];
    for (let r = 0; r < live.length; r++) {
      const lp = out.logprobs[r];
      // Top k words of this row suffice: no more than k candidates survive overall.
      const top: { word: number; logprob: number }[] = [];
      for (let w = 0; w < lp.length; w++) {
        if (t === maxLength && w !== endId) continue; // out of room: only <end> may follow
        if (options.blockRepeatedTrigrams && repeatsTrigram(live[r].tokens, w)) continue;
        const v = live[r].logprob + lp[w];
        if (top.length < k) {
          top.push({ word: w, logprob: v });
          top.sort((a, b) => b.logprob - a.logprob || a.word - b.word);
        } else if (v > top[k - 1].logprob) {
          top[k - 1] = { word: w, logprob: v };
          top.sort((a, b) => b.logprob - a.logprob || a.word - b.word);
        }
      }
      for (const c of top) cands.push({ row: r, ...c });
    }
    cands.sort((a, b) => b.logprob - a.logprob || a.row - b.row || a.word - b.word);
    const next: Live[] = [];
    const rows: number[] = [];
    for (const c of cands) {
      if (next.length + finished.length >= k) break;
      const prev = live[c.row];
      const attention = out.attention ? [...(prev.attention ?? []), out.attention[c.row]] : undefined;
      if (c.word === endId) {
        finished.push({ tokens: prev.tokens, logprob: c.logprob, score: norm(c.logprob, prev.tokens.length + 1), attention });
      } else {
        next.push({ tokens: [...prev.tokens, c.word], logprob: c.logprob, attention });
        rows.push(c.row);
      }
    }
    live = next;
    if (live.length) {
      const reordered = model.reorder(state, rows);
      model.release?.(state, reordered);
      state = reordered;
      feed = live.map((l) => l.tokens[l.tokens.length - 1]);
    }
  }
  model.release?.(state);
  if (!finished.length) {
    for (const l of live) finished.push({ tokens: l.tokens, logprob: l.logprob, score: norm(l.logprob, l.tokens.length + 1), attention: l.attention });
  }
  return finished.sort((a, b) => b.score - a.score);
}

/** Greedy decoding of many rows at once: argmax at each step until every row has emitted <end>. */
export function greedyDecode<S>(model: SequenceModel<S>, initial: S, rows: number, options: { maxLength?: number; startId?: number; endId?: number } = {}): number[][] {
  const maxLength = options.maxLength ?? 20;
  checkDecoding(1, maxLength);
  const endId = options.endId ?? END_ID;
  const out: number[][] = Array.from({ length: rows }, () => []);
  const done = new Array<boolean>(rows).fill(false);
  let feed = new Array<number>(rows).fill(options.startId ?? START_ID);
  let state = initial;
  for (let t = 0; t < maxLength; t++) {
    const step = model.step(state, feed);
    model.release?.(state, step.state);
    state = step.state;
    feed = step.logprobs.map((lp, r) => {
      let best = 0;
      for (let w = 1; w < lp.length; w++) if (lp[w] > lp[best]) best = w;
      if (!done[r]) {
        if (best === endId) done[r] = true;
        else out[r].push(best);
      }
      return best;
    });
    if (done.every(Boolean)) break;
  }
  model.release?.(state);
  return out;
}

/**
 * Sample one caption per row from the model's distribution (self-critical training's exploration).
 * `random` returns uniforms in [0, 1) so runs are reproducible; temperature 1 samples the model as is.
 * Returns the words of each row without <end>, and whether the row emitted <end> within maxLength.
 */
export function sampleDecode<S>(
  model: SequenceModel<S>,
  initial: S,
  rows: number,
  options: { maxLength?: number; random: () => number; temperature?: number; startId?: number; endId?: number },
): { tokens: number[][]; ended: boolean[] } {
  const maxLength = options.maxLength ?? 16;
  const endId = options.endId ?? END_ID;
  const invT = 1 / (options.temperature ?? 1);
  const tokens: number[][] = Array.from({ length: rows }, () => []);
  const ended = new Array<boolean>(rows).fill(false);
  let feed = new Array<number>(rows).fill(options.startId ?? START_ID);
  let state = initial;
  for (let t = 0; t <= maxLength && !ended.every(Boolean); t++) {
    const step = model.step(state, feed);
    model.release?.(state, step.state);
    state = step.state;
    feed = step.logprobs.map((lp, r) => {
      if (ended[r]) return endId;
      let w = endId;
      if (t < maxLength) {
        // Inverse-CDF draw from softmax(lp / T); lp are log-probabilities, so shift by their max first.
        let max = -Infinity;
        for (let j = 0; j < lp.length; j++) if (lp[j] > max) max = lp[j];
        let sum = 0;
        const p = new Float64Array(lp.length);
        for (let j = 0; j < lp.length; j++) sum += p[j] = Math.exp((lp[j] - max) * invT);
        let u = options.random() * sum;
        w = lp.length - 1;
        for (let j = 0; j < lp.length; j++) {
          u -= p[j];
          if (u < 0) {
            w = j;
            break;
          }
        }
      }
      if (w === endId) ended[r] = true;
      else tokens[r].push(w);
      return w;
    });
  }
  model.release?.(state);
  return { tokens, ended };
}

/** Adapts a tfjs CaptionDecoder: state tensors stay on the backend, log-probabilities come back to JS. */
export function decoderModel(decoder: CaptionDecoder): SequenceModel<DecoderState> {
  const rowsOf = (t: Tensor): Float32Array[] => {
    const [n, v] = t.shape;
    const data = t.dataSync() as Float32Array;
    return Array.from({ length: n }, (_, r) => data.slice(r * v, (r + 1) * v));
  };
  return {
    step(state, tokens) {
      const tok = tf.tensor1d(tokens, 'int32');
      const out = decoder.step(state, tok);
      tok.dispose();
      const logprobs = rowsOf(out.logprobs);
      out.logprobs.dispose();
      let attention: Float32Array[] | undefined;
      if (out.alpha) {
        attention = rowsOf(out.alpha);
        out.alpha.dispose();
      }
      return { logprobs, state: out.state, attention };
    },
    reorder(state, rows) {
      const idx = tf.tensor1d(rows, 'int32');
      const next = decoder.gather(state, idx);
      idx.dispose();
      return next;
    },
    release(state, keep) {
      const kept = new Set(keep ? Object.values(keep) : []);
      for (const t of Object.values(state)) if (!kept.has(t) && !t.isDisposed) t.dispose();
    },
  };
}
