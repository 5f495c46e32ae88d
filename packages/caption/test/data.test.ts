import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError } from '@convlab/core';
import { loadFlickr, loadKarpathyJson, loadCocoCaptions, describeDataset, parseTokenFile } from '../src/index.js';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'caption-data-'));
  mkdirSync(join(dir, 'images'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('Flickr8k: token and split files; missing images listed, skipped and counted; malformed lines reported', (t) => {
  const dir = folder({
    'Flickr8k.token.txt': ['a.jpg#0\tA dog runs .', 'a.jpg#1\tA brown dog .', 'b.jpg#0\tTwo kids play', 'this line is broken', 'c.jpg#0\tA cat .', ''].join('\n'),
    'Flickr_8k.trainImages.txt': 'a.jpg\nb.jpg\n',
    'Flickr_8k.devImages.txt': 'c.jpg\n',
    'Flickr_8k.testImages.txt': 'd.jpg\n',
    'images/a.jpg': 'x',
    'images/c.jpg': 'x',
  });
  const ds = loadFlickr({ root: dir });
  t.deepEqual(
    ds.items.map((i) => [i.image, i.split, i.captions.length]),
    [
      ['a.jpg', 'train', 2],
      ['c.jpg', 'val', 1],
    ],
  );
  t.deepEqual(ds.missing, ['b.jpg']);
  t.is(ds.malformed.length, 2);
  t.is(ds.malformed[0].where, 'line 4');
  t.regex(ds.malformed[1].reason, /no captions/); // d.jpg is in a split but has no captions
  t.regex(describeDataset(ds), /2 images .*1 missing images skipped \(b\.jpg\).*2 malformed/);
});

test('parseTokenFile keeps caption order per image', (t) => {
  const { captions } = parseTokenFile('x.jpg#1\tsecond\nx.jpg#0\tfirst\n');
  t.deepEqual(captions.get('x.jpg'), ['second', 'first']);
});

test('Karpathy JSON: splits, raw or tokens, filepath subfolders, missing and malformed entries', (t) => {
  const dir = folder({
    'images/a.jpg': 'x',
    'dataset.json': JSON.stringify({
      dataset: 'flickr8k',
      images: [
        { filename: 'a.jpg', split: 'train', sentences: [{ raw: 'A dog .', tokens: ['a', 'dog'] }] },
        { filename: 'b.jpg', split: 'test', sentences: [{ tokens: ['a', 'cat'] }] },
        { filename: 'c.jpg', split: 'nonsense', sentences: [{ raw: 'x' }] },
        { split: 'val' },
      ],
    }),
  });
  mkdirSync(join(dir, 'images', 'val2014'));
  writeFileSync(join(dir, 'images', 'val2014', 'e.jpg'), 'x');
  const ds = loadKarpathyJson(join(dir, 'dataset.json'), join(dir, 'images'));
  t.is(ds.name, 'flickr8k');
  t.deepEqual(ds.items.map((i) => i.image), ['a.jpg']);
  t.deepEqual(ds.missing, ['b.jpg']);
  t.is(ds.malformed.length, 2);
  const coco = folder({
    'd.json': JSON.stringify({ images: [{ filename: 'e.jpg', filepath: 'val2014', split: 'restval', sentences: [{ raw: 'x y' }] }] }),
  });
  mkdirSync(join(coco, 'images', 'val2014'), { recursive: true });
  writeFileSync(join(coco, 'images', 'val2014', 'e.jpg'), 'x');
  const ds2 = loadKarpathyJson(join(coco, 'd.json'), join(coco, 'images'));
  t.deepEqual(ds2.items.map((i) => [i.image, i.split]), [['val2014/e.jpg', 'restval']]);
});

test('COCO captions JSON: captions grouped by image_id, bad annotations reported', (t) => {
  const dir = folder({
    'images/1.jpg': 'x',
    'captions.json': JSON.stringify({
      images: [
        { id: 1, file_name: '1.jpg' },
        { id: 2, file_name: '2.jpg' },
        { id: 'bad' },
      ],
      annotations: [
        { image_id: 1, caption: 'A dog.' },
        { image_id: 1, caption: 'A brown dog.' },
        { image_id: 2, caption: 'A cat.' },
        { image_id: 9, caption: 'orphan' },
      ],
    }),
  });
  const ds = loadCocoCaptions(join(dir, 'captions.json'), join(dir, 'images'), 'val');
  t.deepEqual(ds.items.map((i) => [i.image, i.split, i.captions]), [['1.jpg', 'val', ['A dog.', 'A brown dog.']]]);
  t.deepEqual(ds.missing, ['2.jpg']);
  t.is(ds.malformed.length, 2);
});

test('unreadable dataset files give one-line ConvlabErrors', (t) => {
  const dir = folder({ 'bad.json': '{"images": [' });
  t.throws(() => loadKarpathyJson(join(dir, 'bad.json'), join(dir, 'images')), { instanceOf: ConvlabError, message: /not valid JSON/ });
  t.throws(() => loadFlickr({ root: join(dir, 'nope') }), { instanceOf: ConvlabError, message: /not found/ });
  t.throws(() => loadCocoCaptions(join(dir, 'bad.json'), join(dir, 'missing-folder')), { instanceOf: ConvlabError });
});
