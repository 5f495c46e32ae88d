export { corpusBleu, closestRefLength, type BleuResult } from './bleu.js';
export { corpusRougeL, sentenceRougeL, lcsLength } from './rouge.js';
export { corpusCiderD, CiderDScorer, type CiderOptions } from './cider.js';
export { ngramCounts } from './ngrams.js';
