import test from 'ava';
import { tokenize, buildVocabulary, Vocabulary, END_ID, UNK_ID, normalizeCaption } from '../src/index.js';
import { ConvlabError } from '@convlab/core';

test('tokenize: lowercase, PTB clitics, punctuation removed, hyphenated words kept', (t) => {
  t.deepEqual(tokenize('A dog\'s T-shirt, "red"!'), ['a', 'dog', "'s", 't-shirt', 'red']);
  t.deepEqual(tokenize("Kids don't play ."), ['kids', 'do', "n't", 'play']);
  t.is(normalizeCaption('  Two   people - walking ; ok? '), 'two people walking ok');
});

test('vocabulary: specials first, min count, encode/decode round trip, JSON', (t) => {
  const v = buildVocabulary([['a', 'dog'], ['a', 'cat'], ['a', 'dog']], 2);
  t.deepEqual(v.words, ['<pad>', '<start>', '<end>', '<unk>', 'a', 'dog']);
  const ids = v.encode(['a', 'cat', 'dog']);
  t.deepEqual(ids, [4, UNK_ID, 5, END_ID]);
  t.deepEqual(v.decode(ids), ['a', '<unk>', 'dog']);
  t.deepEqual(v.encode(['a', 'dog', 'a'], 2), [4, 5, END_ID]);
  const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
  t.deepEqual(back.words, v.words);
  t.throws(() => Vocabulary.fromJSON({ words: ['x'] }), { instanceOf: ConvlabError });
});
