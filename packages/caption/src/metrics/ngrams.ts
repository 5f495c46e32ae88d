/** n-gram counting shared by BLEU and CIDEr. Keys are the words joined by a space. */
export function ngramCounts(words: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= n; k++) {
    for (let i = 0; i + k <= words.length; i++) {
      const key = words.slice(i, i + k).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}

/** A caption already tokenized (array of words) or a string split on whitespace. */
export function words(caption: string | string[]): string[] {
  return typeof caption === 'string' ? caption.split(/\s+/).filter((w) => w !== '') : caption;
}
