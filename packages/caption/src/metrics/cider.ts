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

/**
 * CIDEr-D with document frequencies fixed from one reference corpus, scoring candidates one at a time.
 * Self-critical training uses it with the training set's references as the corpus (as coco-caption's
 * "coco-train" df mode does), so a sample's reward does not depend on the rest of its batch.
 */
export class CiderDScorer {
  private readonly n: number;
  private readonly sigma: number;
  private readonly df = new Map<string, number>();
  private readonly logImages: number;

  constructor(corpus: (string | string[])[][], options: CiderOptions = {}) {
    this.n = options.n ?? 4;
    this.sigma = options.sigma ?? 6;
    // Document frequency: in how many images' reference sets each n-gram appears.
    for (const refs of corpus) {
      const seen = new Set<string>();
      for (const r of refs) for (const g of ngramCounts(words(r), this.n).keys()) seen.add(g);
      for (const g of seen) this.df.set(g, (this.df.get(g) ?? 0) + 1);
    }
    this.logImages = Math.log(corpus.length);
  }

  /** TF-IDF vectors of one image's references, to reuse across many candidates of that image. */
  prepare(references: (string | string[])[]): NgramVector[] {
    return references.map((r) => toVector(ngramCounts(words(r), this.n), this.df, this.logImages, this.n));
  }

  /** CIDEr-D of one candidate against one image's prepared references. */
  score(candidate: string | string[], refs: NgramVector[]): number {
    const hyp = toVector(ngramCounts(words(candidate), this.n), this.df, this.logImages, this.n);
    const total = new Array<number>(this.n).fill(0);
    for (const ref of refs) {
      const s = sim(hyp, ref, this.n, this.sigma);
      for (let k = 0; k < this.n; k++) total[k] += s[k];
    }
    const mean = total.reduce((a, b) => a + b, 0) / this.n;
    return refs.length ? (mean / refs.length) * 10 : 0;
  }
}

export type { NgramVector };

/** Corpus CIDEr-D: document frequencies from the references being scored against, mean over images. */
export function corpusCiderD(
  candidates: (string | string[])[],
  references: (string | string[])[][],
  options: CiderOptions = {},
): { score: number; scores: number[] } {
  const scorer = new CiderDScorer(references, options);
  const scores = candidates.map((cand, i) => scorer.score(cand, scorer.prepare(references[i])));
  const score = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  return { score, scores };
}
