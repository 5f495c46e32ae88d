import test from 'ava';
import { corpusBleu, closestRefLength, corpusCiderD, corpusRougeL, lcsLength, scoreCaptions } from '../src/index.js';

const REFS = ['the cat is on the mat', 'there is a cat on the mat'];

test('BLEU: modified n-gram precisions of Papineni et al. worked by hand', (t) => {
  // cand: the cat sat on the mat (6 words)
  // 1-grams: the x2 (clip 2), cat, sat (0), on, mat -> 5/6
  // 2-grams: the cat, cat sat, sat on, on the, the mat -> matches the cat, on the, the mat -> 3/5
  // 3-grams: the cat sat, cat sat on, sat on the, on the mat -> on the mat -> 1/4
  // 4-grams: none of 3 match -> 0/3. Closest ref length 6 = c, so BP = 1.
  const r = corpusBleu(['the cat sat on the mat'], [REFS]);
  t.true(Math.abs(r.precisions[0] - 5 / 6) < 1e-9);
  t.true(Math.abs(r.precisions[1] - 3 / 5) < 1e-9);
  t.true(Math.abs(r.precisions[2] - 1 / 4) < 1e-9);
  t.true(Math.abs(r.brevityPenalty - 1) < 1e-9); // coco-caption: ratio (c + 1e-15)/(r + 1e-9) is a hair below 1
  t.true(Math.abs(r.bleu[0] - 5 / 6) < 1e-9);
  t.true(Math.abs(r.bleu[1] - Math.sqrt(0.5)) < 1e-9); // sqrt(5/6 * 3/5)
  t.true(Math.abs(r.bleu[2] - 0.5) < 1e-9); // cbrt(0.5 * 0.25)
  t.true(r.bleu[3] < 1e-3); // no 4-gram match: only coco-caption's 1e-15 smoothing is left
});

test('BLEU: clipping counts a word at most as often as the reference with most of it', (t) => {
  // Papineni's example: 7 x "the" against references holding "the" at most twice -> p1 = 2/7.
  const r = corpusBleu(['the the the the the the the'], [REFS]);
  t.true(Math.abs(r.precisions[0] - 2 / 7) < 1e-9);
  t.is(r.referenceLength, 7); // closest reference length to c = 7 is 7
  t.true(Math.abs(r.bleu[0] - 2 / 7) < 1e-9);
});

test('BLEU: brevity penalty exp(1 - r/c) with the closest reference length', (t) => {
  // c = 2, closest reference length 6 -> BP = exp(1 - 6/2) = exp(-2); p1 = 1.
  const r = corpusBleu(['the cat'], [REFS]);
  t.is(r.referenceLength, 6);
  t.true(Math.abs(r.brevityPenalty - Math.exp(-2)) < 1e-9);
  t.true(Math.abs(r.bleu[0] - Math.exp(-2)) < 1e-9);
  // Ties between reference lengths go to the shorter one (coco-caption 'closest').
  t.is(closestRefLength([4, 6], 5), 4);
  t.is(closestRefLength([7, 3], 6), 7);
});

test('BLEU: corpus level sums counts over sentences before dividing', (t) => {
  // Sentence 1 matches 2/2 unigrams, sentence 2 matches 0/4: corpus p1 = 2/6, not the mean 0.5.
  const r = corpusBleu(['a b', 'c d e f'], [['a b'], ['x y z w']]);
  t.true(Math.abs(r.precisions[0] - 2 / 6) < 1e-9);
});

test('ROUGE-L: LCS-based F with beta 1.2', (t) => {
  t.is(lcsLength('the cat sat on the mat'.split(' '), 'the cat is on the mat'.split(' ')), 5);
  // P = R = 5/6 -> F = (1 + 1.44) P R / (R + 1.44 P) = 5/6
  const r = corpusRougeL(['the cat sat on the mat'], [['the cat is on the mat']]);
  t.true(Math.abs(r.score - 5 / 6) < 1e-9);
  // Max precision and max recall are taken over references separately: cand "a b", refs "a b c d" (P 1, R .5), "a" (P .5, R 1)
  // -> P = 1, R = 1 -> F = 1.
  t.true(Math.abs(corpusRougeL(['a b'], [['a b c d', 'a']]).score - 1) < 1e-9);
});

test('CIDEr-D on a two-image corpus, by hand', (t) => {
  // Images: A with reference "a dog runs", B with reference "a cat sleeps". Candidates "a dog runs", "a cat".
  // Document frequency over the 2 reference sets: "a" in 2 images -> idf log(2) - log(2) = 0; every other
  // n-gram in 1 image -> idf log 2.
  // A: unigram, bigram and trigram vectors equal the reference's -> cosine 1 each; no 4-grams -> 0.
  //    Lengths (coco-caption counts bigrams) equal -> no penalty. Score = 10 * (1 + 1 + 1 + 0) / 4 = 7.5.
  // B: unigrams {a: 0, cat: l} vs {a: 0, cat: l, sleeps: l}: min(l, l) * l / (l * sqrt(2) l) = 1/sqrt(2).
  //    bigrams {a cat: l} vs {a cat: l, cat sleeps: l}: again 1/sqrt(2). No trigrams in the candidate -> 0.
  //    Length 1 bigram vs 2 -> penalty exp(-(1 - 2)^2 / (2 * 6^2)) = exp(-1/72).
  //    Score = 10 * 2 / sqrt(2) * exp(-1/72) / 4 = (5 / sqrt(2)) * exp(-1/72).
  const r = corpusCiderD(['a dog runs', 'a cat'], [['a dog runs'], ['a cat sleeps']]);
  const b = (5 / Math.SQRT2) * Math.exp(-1 / 72);
  t.true(Math.abs(r.scores[0] - 7.5) < 1e-9, `A ${r.scores[0]}`);
  t.true(Math.abs(r.scores[1] - b) < 1e-9, `B ${r.scores[1]} vs ${b}`);
  t.true(Math.abs(r.score - (7.5 + b) / 2) < 1e-9);
});

test('CIDEr-D clips: repeating a matching n-gram does not raise the score', (t) => {
  const refs = [['a dog runs on grass'], ['a cat sleeps on a bed']];
  const once = corpusCiderD(['a dog runs', 'a cat'], refs).scores[0];
  const twice = corpusCiderD(['a dog dog runs', 'a cat'], refs).scores[0];
  t.true(twice <= once);
});

test('scoreCaptions tokenizes like coco-caption and counts distinct captions', (t) => {
  const s = scoreCaptions(['A dog runs.', 'a dog runs'], [['A dog runs!'], ['a dog runs']]);
  t.true(Math.abs(s['BLEU-1'] - 1) < 1e-9);
  t.is(s.distinct, 1);
  t.is(s.count, 2);
});
