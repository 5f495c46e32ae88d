/**
 * Caption tokenization following coco-caption's PTBTokenizer: lowercase, Penn-Treebank-style splitting
 * of clitics ("dog's" -> "dog 's", "don't" -> "do n't"), then the punctuation tokens coco-caption drops
 * are removed. Hyphenated words ("t-shirt") stay one token, as in PTB.
 */

/** The tokens coco-caption's tokenizer removes after PTB tokenization. */
const PUNCTUATION = new Set(["''", "'", '``', '`', '.', '?', '!', ',', ':', '-', '--', '...', ';', '"', '(', ')', '[', ']', '{', '}']);

export function tokenize(text: string): string[] {
  let s = text.toLowerCase();
  // Split punctuation off words; keep apostrophes and inner hyphens for the clitic rules below.
  s = s.replace(/([.,!?;:"()[\]{}&/])/g, ' $1 ');
  s = s.replace(/(\w)'(s|m|d|ll|re|ve)\b/g, "$1 '$2");
  s = s.replace(/(\w)n't\b/g, "$1 n't");
  // Hyphens and apostrophes not inside a word are punctuation.
  s = s.replace(/(^|\s)[-']+(?=\s|$)/g, ' ').replace(/(\w)-+(?=\s|$)/g, '$1 ').replace(/(^|\s)-+(\w)/g, '$1$2');
  const tokens: string[] = [];
  for (const t of s.split(/\s+/)) {
    if (t === '' || PUNCTUATION.has(t)) continue;
    tokens.push(t);
  }
  return tokens;
}

/** Tokenize and join with single spaces, the form metrics compare. */
export function normalizeCaption(text: string): string {
  return tokenize(text).join(' ');
}
