/**
 * Captioning many images from cached features, and scoring captions with the coco-caption metrics.
 */
import { tf } from '@convlab/core';
import type { CaptionDecoder } from './decoders/types.js';
import { beamSearch, decoderModel, greedyDecode, type BeamOptions } from './beam-search.js';
import { featureRows, type FeatureTable } from './batches.js';
import { corpusBleu } from './metrics/bleu.js';
import { corpusRougeL } from './metrics/rouge.js';
import { corpusCiderD } from './metrics/cider.js';
import { normalizeCaption } from './tokenizer.js';
import type { Vocabulary } from './vocab.js';

export interface MetricScores {
  'BLEU-1': number;
  'BLEU-2': number;
  'BLEU-3': number;
  'BLEU-4': number;
  'ROUGE-L': number;
  'CIDEr-D': number;
  /** Number of different captions among the candidates. */
  distinct: number;
  count: number;
}

/** Both sides go through the same PTB-style tokenizer, as coco-caption does. */
export function scoreCaptions(candidates: string[], references: string[][]): MetricScores {
  const cand = candidates.map(normalizeCaption);
  const refs = references.map((rs) => rs.map(normalizeCaption));
  const bleu = corpusBleu(cand, refs).bleu;
  return {
    'BLEU-1': bleu[0],
    'BLEU-2': bleu[1],
    'BLEU-3': bleu[2],
    'BLEU-4': bleu[3],
    'ROUGE-L': corpusRougeL(cand, refs).score,
    'CIDEr-D': corpusCiderD(cand, refs).score,
    distinct: new Set(cand).size,
    count: cand.length,
  };
}

export function formatScores(s: MetricScores): string {
  const keys = ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'ROUGE-L', 'CIDEr-D'] as const;
  const head = keys.map((k) => k.padStart(8)).join(' ') + '  distinct';
  const row = keys.map((k) => s[k].toFixed(4).padStart(8)).join(' ') + `  ${s.distinct}/${s.count}`;
  return `${head}\n${row}`;
}

export interface DecodeOptions extends BeamOptions {
  /** Rows decoded together (greedy) to amortize per-kernel overhead. */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Caption feature rows: greedy in batches when beamSize is 1, else beam search image by image. */
export function captionRows(decoder: CaptionDecoder, vocab: Vocabulary, table: FeatureTable, rows: number[], options: DecodeOptions = {}): string[] {
  const model = decoderModel(decoder);
  const maxLength = options.maxLength ?? 20;
  const out: string[] = [];
  const beam = options.beamSize ?? 1;
  const useGreedy = beam === 1 && !options.blockRepeatedTrigrams;
  const chunk = useGreedy ? (options.chunk ?? 250) : 1;
  for (let i = 0; i < rows.length; i += chunk) {
    if (options.signal?.aborted) break;
    const part = rows.slice(i, i + chunk);
    const feats = featureRows(table, part);
    const state = decoder.init(feats);
    feats.dispose();
    if (useGreedy) {
      for (const ids of greedyDecode(model, state, part.length, { maxLength })) out.push(vocab.decode(ids).join(' '));
    } else {
      const best = beamSearch(model, state, { ...options, maxLength })[0];
      out.push(vocab.decode(best.tokens).join(' '));
    }
    options.onProgress?.(Math.min(i + chunk, rows.length), rows.length);
  }
  void tf; // tensors are released by the sequence model adapter
  return out;
}
