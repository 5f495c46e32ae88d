import test from 'ava';
import { ConvlabError } from '@convlab/core';
import { parseStylizeOptions, stageSizes, BACKBONE_DEFAULTS } from '../src/options.js';

const base = { content: 'c.jpg', style: ['s.jpg'] };

test('defaults fill every field, weights are normalised', (t) => {
  const o = parseStylizeOptions({ ...base, style: ['a.jpg', 'b.jpg'], styleBlend: [3, 1] });
  t.deepEqual(o.styleBlend, [0.75, 0.25]);
  t.deepEqual(o.styleLayers, BACKBONE_DEFAULTS[o.backbone].styleLayers);
  t.is(o.styleLayerWeights.length, o.styleLayers.length);
  t.is(o.optimizer, 'lbfgs');
  t.is(o.lr, 1);
  t.is(parseStylizeOptions({ ...base, optimizer: 'adam' }).lr, 0.03);
});

test('multi-scale stages: off at 512, halving from above 512', (t) => {
  t.deepEqual(stageSizes(512, 'auto'), [512]);
  t.deepEqual(stageSizes(1024, 'auto'), [256, 512, 1024]);
  t.deepEqual(stageSizes(768, 'auto'), [384, 768]);
  t.deepEqual(stageSizes(256, 'on'), [128, 256]);
  t.deepEqual(stageSizes(1024, 'off'), [1024]);
  t.deepEqual(parseStylizeOptions({ ...base, size: 256, multiscale: true }).stages, [128, 256]);
  t.deepEqual(parseStylizeOptions({ ...base, size: 300, multiscale: '150, 300' }).stages, [150, 300]);
  t.deepEqual(stageSizes(300, [150, 300]), [150, 300]);
});

const bad: [string, object, RegExp][] = [
  ['weights that sum to 0', { style: ['a.jpg', 'b.jpg'], styleBlend: [0, 0] }, /styleBlend: weights sum to 0/],
  ['blend count mismatch', { styleBlend: [1, 1] }, /styleBlend: has 2 values but there are 1 style images/],
  ['negative weight', { styleLayerWeights: [-1, 1, 1, 1, 1, 1] }, /styleLayerWeights -1 is out of range: it must be (each value of )?a number >= 0/],
  ['layer weights sum to 0', { styleLayerWeights: [0, 0, 0, 0, 0, 0] }, /sum to 0/],
  ['unknown backbone', { backbone: 'resnet' }, /backbone "resnet" is not one of the choices/],
  ['unknown optimizer', { optimizer: 'sgd' }, /optimizer "sgd" is not one of the choices/],
  ['tiny size', { size: 8 }, /size 8 is out of range: it must be an integer >= 16/],
  ['stage list not ending at size', { size: 256, multiscale: [128, 200] }, /last stage/],
  ['no style', { style: [] }, /no style image/],
  ['zero learning rate', { lr: 0 }, /lr 0 is out of range: it must be a number > 0/],
  ['a stage below 16 px', { size: 256, multiscale: [8, 256] }, /multiscale 8 is out of range: it must be an integer >= 16/],
  ['an unknown option', { learningRate: 1 }, /unknown option "learningRate"/],
  ['both weights zero', { contentWeight: 0, styleWeight: 0 }, /both 0/],
];
for (const [name, o, re] of bad) {
  test(`rejects ${name} with one ConvlabError`, (t) => {
    const err = t.throws(() => parseStylizeOptions({ ...base, ...o }));
    t.true(err instanceof ConvlabError);
    t.regex(err!.message, re);
  });
}
