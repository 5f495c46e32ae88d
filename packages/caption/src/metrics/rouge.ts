/**
 * ROUGE-L (Lin 2004) as coco-caption's rouge.py: per sentence, the longest common subsequence against
 * each reference gives precision lcs/|cand| and recall lcs/|ref|; take the max precision and max recall
 * over the references; F with beta = 1.2. The corpus score is the mean over sentences.
 */
import { words } from './ngrams.js';

export function lcsLength(a: string[], b: string[]): number {
  const prev = new Array<number>(b.length + 1).fill(0);
  const cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    for (let j = 0; j <= b.length; j++) prev[j] = cur[j];
  }
  return prev[b.length];
}

export function sentenceRougeL(candidate: string | string[], references: (string | string[])[], beta = 1.2): number {
  const cand = words(candidate);
  let precMax = 0;
  let recMax = 0;
  for (const r of references) {
    const ref = words(r);
    const lcs = lcsLength(cand, ref);
    if (cand.length) precMax = Math.max(precMax, lcs / cand.length);
    if (ref.length) recMax = Math.max(recMax, lcs / ref.length);
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + beta * beta) * precMax * recMax) / (recMax + beta * beta * precMax);
}

export function corpusRougeL(candidates: (string | string[])[], references: (string | string[])[][]): { score: number; scores: number[] } {
  const scores = candidates.map((c, i) => sentenceRougeL(c, references[i]));
  const score = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  return { score, scores };
}
