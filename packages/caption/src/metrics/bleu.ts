/**
 * Corpus BLEU-1..4 (Papineni et al. 2002) exactly as coco-caption's bleu_scorer.py computes it with the
 * 'closest' reference-length option: clipped n-gram matches and candidate n-gram totals are summed over
 * the corpus; the effective reference length sums, per sentence, the reference length closest to the
 * candidate's (ties -> the shorter); brevity penalty exp(1 - r/c) when c < r. BLEU-n is the geometric
 * mean of the 1..n precisions, with coco-caption's tiny/small smoothing constants.
 */
import { ngramCounts, ngramOrder, words } from './ngrams.js';

export interface BleuResult {
  /** BLEU-1..n, corpus level. */
  bleu: number[];
  /** Modified n-gram precisions p_1..p_n (corpus level). */
  precisions: number[];
  brevityPenalty: number;
  candidateLength: number;
  referenceLength: number;
}

export function closestRefLength(refLengths: number[], candLength: number): number {
  let best = refLengths[0];
  for (const l of refLengths) {
    const d = Math.abs(l - candLength);
    const bd = Math.abs(best - candLength);
    if (d < bd || (d === bd && l < best)) best = l;
  }
  return best;
}

/** candidates[i] is scored against references[i] (one or more). */
export function corpusBleu(candidates: (string | string[])[], references: (string | string[])[][], n = 4): BleuResult {
  if (candidates.length !== references.length) throw new Error('corpusBleu: candidates and references differ in length');
  const correct = new Array<number>(n).fill(0);
  const guess = new Array<number>(n).fill(0);
  let testLen = 0;
  let refLen = 0;
  for (let i = 0; i < candidates.length; i++) {
    const cand = words(candidates[i]);
    const refs = references[i].map(words);
    // Max count of each n-gram over the references: the clip for the candidate's counts.
    const maxRef = new Map<string, number>();
    for (const r of refs) for (const [g, c] of ngramCounts(r, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
    for (const [g, c] of ngramCounts(cand, n)) correct[ngramOrder(g) - 1] += Math.min(c, maxRef.get(g) ?? 0);
    for (let k = 0; k < n; k++) guess[k] += Math.max(0, cand.length - k);
    testLen += cand.length;
    refLen += closestRefLength(
      refs.map((r) => r.length),
      cand.length,
    );
  }
  const tiny = 1e-15;
  const small = 1e-9;
  const bleu: number[] = [];
  const precisions: number[] = [];
  let prod = 1;
  for (let k = 0; k < n; k++) {
    const p = (correct[k] + tiny) / (guess[k] + small);
    precisions.push(p);
    prod *= p;
    bleu.push(prod ** (1 / (k + 1)));
  }
  const ratio = (testLen + tiny) / (refLen + small);
  const bp = ratio < 1 ? Math.exp(1 - 1 / ratio) : 1;
  return { bleu: bleu.map((b) => b * bp), precisions, brevityPenalty: bp, candidateLength: testLen, referenceLength: refLen };
}
