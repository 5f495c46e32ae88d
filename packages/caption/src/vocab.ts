/**
 * Vocabulary: word <-> id with the four special tokens at fixed ids, built from training captions with a
 * minimum count, saved as JSON next to the model.
 */
import { ConvlabError } from '@convlab/core';

export const PAD = '<pad>';
export const START = '<start>';
export const END = '<end>';
export const UNK = '<unk>';
export const PAD_ID = 0;
export const START_ID = 1;
export const END_ID = 2;
export const UNK_ID = 3;

export interface VocabJson {
  format: 'convlab-caption-vocab/1';
  minCount: number;
  words: string[];
}

export class Vocabulary {
  readonly words: string[];
  private readonly index: Map<string, number>;

  constructor(
    words: string[],
    readonly minCount = 1,
  ) {
    if (words[PAD_ID] !== PAD || words[START_ID] !== START || words[END_ID] !== END || words[UNK_ID] !== UNK) {
      throw new ConvlabError('vocabulary must start with <pad> <start> <end> <unk>', {
        hint: 'rebuild the vocabulary with buildVocabulary()',
      });
    }
    this.words = words;
    this.index = new Map(words.map((w, i) => [w, i]));
    if (this.index.size !== words.length) throw new ConvlabError('vocabulary has duplicate words', { hint: 'rebuild it' });
  }

  get size(): number {
    return this.words.length;
  }

  id(word: string): number {
    return this.index.get(word) ?? UNK_ID;
  }

  has(word: string): boolean {
    return this.index.has(word);
  }

  /** Token list -> ids, <end> appended; truncated to maxLength words (the <end> is kept). */
  encode(tokens: string[], maxLength = Infinity): number[] {
    const ids = tokens.slice(0, maxLength).map((t) => this.id(t));
    ids.push(END_ID);
    return ids;
  }

  /** ids -> words, stopping at <end> and skipping <pad>/<start>. */
  decode(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === END_ID) break;
      if (id === PAD_ID || id === START_ID) continue;
      out.push(this.words[id] ?? UNK);
    }
    return out;
  }

  toJSON(): VocabJson {
    return { format: 'convlab-caption-vocab/1', minCount: this.minCount, words: this.words };
  }

  static fromJSON(json: unknown, source = 'vocabulary'): Vocabulary {
    const j = json as Partial<VocabJson>;
    if (!j || j.format !== 'convlab-caption-vocab/1' || !Array.isArray(j.words)) {
      throw new ConvlabError(`${source} is not a convlab caption vocabulary`, {
        hint: 'expected {"format":"convlab-caption-vocab/1","words":[...]}; retrain or re-export the model',
      });
    }
    return new Vocabulary(j.words, j.minCount ?? 1);
  }
}

/** Words seen at least minCount times, most frequent first (ties alphabetical, for determinism). */
export function buildVocabulary(captions: Iterable<string[]>, minCount = 5): Vocabulary {
  const counts = new Map<string, number>();
  for (const tokens of captions) for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  const kept = [...counts.entries()]
    .filter(([w, c]) => c >= minCount && w !== PAD && w !== START && w !== END && w !== UNK)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([w]) => w);
  return new Vocabulary([PAD, START, END, UNK, ...kept], minCount);
}
