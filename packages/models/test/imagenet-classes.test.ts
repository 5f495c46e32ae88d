import test from 'ava';
import { createHash } from 'node:crypto';
import { ConvlabError, tf } from '@convlab/core';
import { formatTopK, imagenetClass, imagenetClasses, kerasClassIndexJson, suggestImagenetClasses, topK } from '../src/imagenet-classes.js';

test("the table rebuilds Keras's imagenet_class_index.json byte for byte (its published md5)", (t) => {
  const json = kerasClassIndexJson();
  t.is(createHash('md5').update(json).digest('hex'), 'c2c37ea517e94d9795004a39431a14cb'); // keras imagenet_utils.py file_hash
  t.is(json.length, 35_363);
  const parsed = JSON.parse(json) as Record<string, [string, string]>;
  t.deepEqual(parsed['243'], ['n02108422', 'bull_mastiff']);
  const classes = imagenetClasses();
  t.is(classes.length, 1000);
  t.true(classes.every((c, i) => i === 0 || c.wnid > classes[i - 1].wnid), 'WordNet ids sorted');
});

test('lookups by index, WordNet id, and name: any synonym, case-insensitive, underscores', (t) => {
  t.is(imagenetClass(243).name, 'bull mastiff');
  t.is(imagenetClass('243').index, 243);
  t.is(imagenetClass('n01440764').name, 'tench');
  t.is(imagenetClass('bull mastiff').index, 243);
  t.is(imagenetClass('Bull Mastiff').index, 243);
  t.is(imagenetClass('bull_mastiff').index, 243);
  t.is(imagenetClass('Tinca tinca').index, 0);
  t.is(imagenetClass('tench, Tinca tinca').index, 0);
  t.is(imagenetClass('tabby cat').index, 281);
  t.is(imagenetClass('Egyptian cat').index, 285);
  t.is(imagenetClass('African elephant').index, 386);
  t.is(imagenetClass('tusker').index, 101);
  t.deepEqual(imagenetClass(0).synonyms, ['tench', 'Tinca tinca']);
  t.is(imagenetClass(999).label, 'toilet tissue, toilet paper, bathroom tissue');
  // A first synonym wins over a later synonym of another class; exact case decides a tie.
  t.is(imagenetClass('cardigan').index, 474);
  t.is(imagenetClass('Cardigan').index, 264);
  t.is(imagenetClass('Cardigan Welsh corgi').index, 264);
});

test('unknown, ambiguous and out-of-range names: one line, with suggestions', (t) => {
  const e1 = t.throws(() => imagenetClass('bull mastif'), { instanceOf: ConvlabError });
  t.is(e1!.message, "unknown ImageNet class 'bull mastif'");
  t.regex(e1!.hint ?? '', /^closest: 243 'bull mastiff'/);
  const e2 = t.throws(() => imagenetClass('crane'), { instanceOf: ConvlabError });
  t.regex(e2!.message, /names 2 classes: 134 'crane'; 517 'crane'/);
  t.regex(e2!.hint ?? '', /--class 134/);
  t.throws(() => imagenetClass(1000), { instanceOf: ConvlabError, message: /out of range/ });
  t.throws(() => imagenetClass(''), { instanceOf: ConvlabError });
  t.true(suggestImagenetClasses('mastiff', 2).every((c) => /mastiff/.test(c.label)));
});

test('topK names the largest outputs (ImageNet for 1000-way, given names otherwise)', (t) => {
  const probs = new Float32Array(1000).fill(0.0001);
  probs[243] = 0.6;
  probs[242] = 0.3;
  probs[245] = 0.05;
  const top = topK(tf.tensor2d(probs, [1, 1000]), 3);
  t.deepEqual(top.map((e) => [e.rank, e.index, e.name, e.wnid]), [[1, 243, 'bull mastiff', 'n02108422'], [2, 242, 'boxer', 'n02108089'], [3, 245, 'French bulldog', 'n02108915']]);
  t.true(Math.abs(top[0].probability - 0.6) < 1e-6);
  t.deepEqual(topK([0.1, 0.7, 0.2], 2, ['a', 'b', 'c']).map((e) => e.name), ['b', 'c']);
  t.deepEqual(topK([0.1, 0.7], 5).map((e) => e.name), ['class 1', 'class 0']);
  t.throws(() => topK(tf.zeros([2, 1000]), 5), { instanceOf: ConvlabError });
  t.regex(formatTopK(top)[0], /^ 1 {3}243 {2}bull mastiff\s+0\.6000$/);
});
