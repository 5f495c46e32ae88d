/**
 * ImageNet (ILSVRC-2012) class names, offline: lookups by index, WordNet id or name (any synonym,
 * case-insensitive, Keras's underscore names too), suggestions for unknown names, and top-k with names.
 * The table and its provenance are in imagenet-synsets.ts.
 */
import { ConvlabError, tf } from '@convlab/core';
import { SYNSET_WORDS } from './imagenet-synsets.js';

type Tensor = ReturnType<typeof tf.tensor>;

export const IMAGENET_CLASS_COUNT = 1000;

export interface ImagenetClass {
  /** 0..999, the output unit of a Keras / torchvision ImageNet classifier. */
  index: number;
  /** WordNet id, e.g. 'n02108422'. */
  wnid: string;
  /** The first synonym: 'bull mastiff'. */
  name: string;
  /** Every synonym, as WordNet lists them: ['tench', 'Tinca tinca']. */
  synonyms: string[];
  /** The synonyms joined as the Caffe/tfjs lists show them: 'tench, Tinca tinca'. */
  label: string;
  /** Keras's name (decode_predictions): the first synonym with spaces as underscores, 'bull_mastiff'. */
  kerasName: string;
}

let table: ImagenetClass[] | undefined;

/** Every class, index order. */
export function imagenetClasses(): readonly ImagenetClass[] {
  table ??= SYNSET_WORDS.map((line, index) => {
    const wnid = line.slice(0, 9);
    const label = line.slice(10);
    const synonyms = label.split(', ');
    return { index, wnid, name: synonyms[0], synonyms, label, kerasName: synonyms[0].replace(/ /g, '_') };
  });
  return table;
}

/** The class names (first synonyms) in index order, for `ConvNet.classNames`. */
export function imagenetClassNames(): string[] {
  return imagenetClasses().map((c) => c.name);
}

/**
 * Keras's imagenet_class_index.json, byte for byte as Keras downloads it (md5
 * c2c37ea517e94d9795004a39431a14cb): {"0": ["n01440764", "tench"], ...}.
 */
export function kerasClassIndexJson(): string {
  return `{${imagenetClasses()
    .map((c) => `"${c.index}": ["${c.wnid}", "${c.kerasName}"]`)
    .join(', ')}}`;
}

function norm(s: string): string {
  return s.trim().toLowerCase().replace(/[_\s]+/g, ' ');
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function describe(c: ImagenetClass): string {
  return `${c.index} '${c.label}'`;
}

/** The closest class names to an unknown one (substring matches first, then edit distance). */
export function suggestImagenetClasses(query: string, count = 5): ImagenetClass[] {
  const q = norm(query);
  const scored = imagenetClasses().map((c) => {
    let best = Infinity;
    for (const s of c.synonyms) {
      const n = norm(s);
      const d = n.includes(q) || q.includes(n) ? Math.abs(n.length - q.length) / 100 : levenshtein(q, n);
      best = Math.min(best, d);
    }
    return { c, best };
  });
  scored.sort((a, b) => a.best - b.best || a.c.index - b.c.index);
  return scored.slice(0, count).map((s) => s.c);
}

/**
 * One class by index (243 or '243'), WordNet id ('n02108422') or name: any synonym, case-insensitive,
 * spaces or underscores ('bull mastiff', 'Bull_Mastiff', 'Tinca tinca', 'tench, Tinca tinca'). A name
 * that is the first synonym of a class wins over a later synonym of another ('cardigan' is the sweater,
 * 'Cardigan' the corgi: exact case decides a tie). Unknown or ambiguous names throw a ConvlabError with
 * suggestions.
 */
export function imagenetClass(nameOrIndex: string | number): ImagenetClass {
  const classes = imagenetClasses();
  const raw = typeof nameOrIndex === 'number' ? String(nameOrIndex) : nameOrIndex.trim();
  if (/^-?\d+$/.test(raw)) {
    const i = Number(raw);
    if (i < 0 || i >= classes.length) {
      throw new ConvlabError(`ImageNet class index ${i} is out of range`, { hint: `use 0..${classes.length - 1} or a class name such as 'bull mastiff'` });
    }
    return classes[i];
  }
  if (/^n\d{8}$/.test(raw)) {
    const c = classes.find((x) => x.wnid === raw);
    if (c) return c;
  }
  const q = norm(raw);
  if (!q) throw new ConvlabError('empty ImageNet class name', { hint: "pass an index 0..999 or a name such as 'bull mastiff'" });
  const spaced = raw.replace(/_/g, ' ');
  const tiers: ((c: ImagenetClass) => boolean)[] = [
    (c) => c.label === spaced || c.name === spaced,
    (c) => norm(c.label) === q || norm(c.name) === q,
    (c) => c.synonyms.some((s) => s === spaced),
    (c) => c.synonyms.some((s) => norm(s) === q),
  ];
  for (const tier of tiers) {
    const hits = classes.filter(tier);
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new ConvlabError(`ImageNet class name '${raw}' names ${hits.length} classes: ${hits.map(describe).join('; ')}`, {
        hint: `pass the index instead, e.g. --class ${hits[0].index}`,
      });
    }
  }
  const near = suggestImagenetClasses(raw);
  throw new ConvlabError(`unknown ImageNet class '${raw}'`, {
    hint: `closest: ${near.map(describe).join('; ')}; or pass an index 0..${classes.length - 1}`,
  });
}

export interface TopKEntry {
  rank: number;
  index: number;
  /** Class name: ImageNet's first synonym for a 1000-way output, else classNames[index] or 'class <i>'. */
  name: string;
  /** ImageNet WordNet id, for a 1000-way output. */
  wnid?: string;
  /** The output's value: a probability for a softmax head. */
  probability: number;
}

/**
 * The k largest outputs with their class names. `probs` is a vector of class scores, a [1, C] tensor, or
 * a plain array; C = 1000 names them by ImageNet, other sizes by `classNames` when given.
 */
export function topK(probs: Tensor | ArrayLike<number>, k = 5, classNames?: readonly string[]): TopKEntry[] {
  let values: ArrayLike<number>;
  if (probs instanceof tf.Tensor) {
    if (probs.rank > 2 || (probs.rank === 2 && probs.shape[0] !== 1)) {
      throw new ConvlabError(`topK expects one vector of class scores, got shape [${probs.shape.join(', ')}]`, { hint: 'pass one image at a time (a [C] or [1, C] tensor)' });
    }
    values = probs.dataSync();
  } else {
    values = probs;
  }
  const n = values.length;
  const imagenet = n === IMAGENET_CLASS_COUNT && !classNames ? imagenetClasses() : undefined;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, Math.min(k, n)).map((index, r) => {
    const entry: TopKEntry = {
      rank: r + 1,
      index,
      name: imagenet ? imagenet[index].name : classNames?.[index] ?? `class ${index}`,
      probability: values[index],
    };
    if (imagenet) entry.wnid = imagenet[index].wnid;
    return entry;
  });
}

/** A top-k list as aligned text lines: ' 1  243  bull mastiff   0.9132'. */
export function formatTopK(entries: readonly TopKEntry[]): string[] {
  const w = Math.max(...entries.map((e) => e.name.length), 5);
  return entries.map((e) => `${String(e.rank).padStart(2)}  ${String(e.index).padStart(4)}  ${e.name.padEnd(w)}  ${e.probability.toFixed(4)}`);
}
