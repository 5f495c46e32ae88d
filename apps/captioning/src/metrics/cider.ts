/**
 * CIDEr-D (Vedantam et al. 2015) as coco-caption's cider_scorer.py in pycocoevalcap/ciderD:
 * - n-grams n = 1..4, TF-IDF vectors with document frequency from the reference set: df(g) = number of
 *   images whose references contain g; idf = log(#images) - log(max(1, df(g)));
 * - per n, the similarity with each reference is sum_g min(v_cand, v_ref) * v_ref / (|v_cand| |v_ref|)
 *   (the clipping that makes it "-D"), times a Gaussian length penalty exp(-(l_c - l_r)^2 / (2 sigma^2))
 *   with sigma = 6, where lengths are counted as in coco-caption (number of bigrams);
 * - averaged over n and over references, times 10. The corpus score is the mean over images.
 */
import { ngramCounts, ngramOrder, words } from './ngrams.js';

interface NgramVector {
  vec: Map<string, number>[];
  norm: number[];
  length: number;
}

export interface CiderOptions {
  n?: number;
  sigma?: number;
}

function toVector(counts: Map<string, number>, df: Map<string, number>, refLen: number, n: number): NgramVector {
  const vec = Array.from({ length: n }, () => new Map<string, number>());
  const norm = new Array<number>(n).fill(0);
  let length = 0;
  for (const [g, tf] of counts) {
    const k = ngramOrder(g) - 1;
    const idf = refLen - Math.log(Math.max(1, df.get(g) ?? 0));
    const v = tf * idf;
    vec[k].set(g, v);
    norm[k] += v * v;
    if (k === 1) length += tf;
  }
  return { vec, norm: norm.map(Math.sqrt), length };
}

function sim(hyp: NgramVector, ref: NgramVector, n: number, sigma: number): number[] {
  const delta = hyp.length - ref.length;
  const val = new Array<number>(n).fill(0);
  for (let k = 0; k < n; k++) {
    for (const [g, v] of hyp.vec[k]) {
      const r = ref.vec[k].get(g) ?? 0;
      val[k] += Math.min(v, r) * r;
    }
    if (hyp.norm[k] !== 0 && ref.norm[k] !== 0) val[k] /= hyp.norm[k] * ref.norm[k];
    val[k] *= Math.exp(-(delta * delta) / (2 * sigma * sigma));
  }
  return val;
}

export function corpusCiderD(
  candidates: (string | string[])[],
  references: (string | string[])[][],
  options: CiderOptions = {},
): { score: number; scores: number[] } {
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  const refCounts = references.map((refs) => refs.map((r) => ngramCounts(words(r), n)));
  // Document frequency: in how many images' reference sets each n-gram appears.
  const df = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const c of refs) for (const g of c.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const refLen = Math.log(references.length);
  const scores = candidates.map((cand, i) => {
    const hyp = toVector(ngramCounts(words(cand), n), df, refLen, n);
    const total = new Array<number>(n).fill(0);
    for (const rc of refCounts[i]) {
      const s = sim(hyp, toVector(rc, df, refLen, n), n, sigma);
      for (let k = 0; k < n; k++) total[k] += s[k];
    }
    const mean = total.reduce((a, b) => a + b, 0) / n;
    return (mean / refCounts[i].length) * 10;
  });
  const score = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  return { score, scores };
}
