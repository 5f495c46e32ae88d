import test from 'ava';
import { ConvlabError, parseOptions } from '@convlab/core';
import { createMethod } from '../src/methods/index.js';
import { AttributeOptions, Top9Options, targetOf } from '../src/options.js';
import { tinyVgg } from './helpers/nets.js';

const image = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(90) };

test('an unknown layer lists the valid ones', async (t) => {
  const net = tinyVgg(32);
  const err = await t.throwsAsync(createMethod('deconvnet', net).attribute(image, { layer: 'block9_conv1', unit: 0 }), { instanceOf: ConvlabError });
  t.regex(err!.message, /unknown layer "block9_conv1"/);
  t.regex((err as ConvlabError).hint ?? '', /block1_conv1/);
  net.dispose();
});

test('a unit out of range gives the valid range, a class out of range lists the classes', async (t) => {
  const net = tinyVgg(32);
  const unit = await t.throwsAsync(createMethod('guided', net).attribute(image, { layer: 'conv2_1', unit: 16 }), { instanceOf: ConvlabError });
  t.regex(unit!.message, /unit 16 out of range for layer block2_conv1/);
  t.regex((unit as ConvlabError).hint ?? '', /16 channels: use units 0\.\.15/);
  const cls = await t.throwsAsync(createMethod('gradcam', net).attribute(image, { classIndex: 3 }), { instanceOf: ConvlabError });
  t.regex((cls as ConvlabError).hint ?? '', /0=a, 1=b, 2=c/);
  const pos = await t.throwsAsync(createMethod('saliency', net).attribute(image, { layer: 'block2_conv1', unit: 1, position: [20, 0] }), { instanceOf: ConvlabError });
  t.regex(pos!.message, /outside block2_conv1's 16x16 map/);
  const cam = await t.throwsAsync(createMethod('gradcam', net, { gradcam: { layer: 'block2_conv2' } }).attribute(image, { layer: 'block1_conv2', unit: 1 }), { instanceOf: ConvlabError });
  t.regex(cam!.message, /comes after the target layer/);
  const none = await t.throwsAsync(createMethod('saliency', net).attribute(image, {}), { instanceOf: ConvlabError });
  t.regex(none!.message, /needs a layer and a unit, or a class/);
  net.dispose();
});

test('CLI flag parsing: the special values are schema fields with transforms', (t) => {
  const units = (v: string | undefined) => parseOptions(Top9Options, { images: 'dir', layer: 'mixed3', units: v }, 'cli').units;
  const flags = (raw: Record<string, unknown>) => parseOptions(AttributeOptions, { images: ['a.jpg'], ...raw }, 'cli');
  t.deepEqual(units('3, 17,42'), [3, 17, 42]);
  t.deepEqual(units('strongest:16'), { strongest: 16 });
  t.is(units(undefined), undefined); // runTop9 spreads 16 units (or all of a smaller layer)
  t.throws(() => units('a,b'), { message: /^--units "a,b": "a" is not a unit: give 3,17,42, strongest:N or spread:N/ });
  t.deepEqual(flags({ layer: 'mixed3', unit: '1', position: '5,9' }).position, [5, 9]);
  t.is(flags({ layer: 'mixed3', unit: '1', position: 'all' }).position, 'all');
  t.throws(() => flags({ position: '5' }), { instanceOf: ConvlabError, message: /^--position "5": should be "y,x", "argmax" or "all"/ });
  t.deepEqual(targetOf(flags({ class: '2' })), { classIndex: 2 });
  t.deepEqual(targetOf(flags({ layer: 'mixed3', unit: '7', position: '1,2' })), { layer: 'mixed3', unit: 7, position: [1, 2] });
  t.throws(() => targetOf(flags({ layer: 'mixed3' })), { message: /no target/ });
  t.deepEqual(flags({ methods: 'deconvnet,guided-backprop,grad-cam' }).methods, ['deconvnet', 'guided', 'gradcam']);
  const err = t.throws(() => flags({ methods: 'deconvnet,lrp' }), { instanceOf: ConvlabError });
  t.regex(err!.message, /^--methods "deconvnet,lrp": unknown attribution method "lrp"/);
  t.regex(err!.message, /deconvnet, guided, saliency, smoothgrad, gradcam, guided-gradcam/);
});
