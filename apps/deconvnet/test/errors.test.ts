import test from 'ava';
import { ConvlabError } from '@convlab/core';
import { createMethod } from '../src/methods/index.js';
import { parseMethods, parsePosition, parseTarget, parseUnits } from '../src/cli-args.js';
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

test('CLI flag parsing', (t) => {
  t.deepEqual(parseUnits('3, 17,42'), [3, 17, 42]);
  t.deepEqual(parseUnits('strongest:16'), { strongest: 16 });
  t.deepEqual(parseUnits(undefined), { spread: 16 });
  t.throws(() => parseUnits('a,b'), { message: /--units "a" is not a number: it must be an integer >= 0/ });
  t.deepEqual(parsePosition('5,9'), [5, 9]);
  t.is(parsePosition('all'), 'all');
  t.throws(() => parsePosition('5'), { instanceOf: ConvlabError });
  t.deepEqual(parseTarget({ class: '2' }), { classIndex: 2 });
  t.deepEqual(parseTarget({ layer: 'mixed3', unit: '7', position: '1,2' }), { layer: 'mixed3', unit: 7, position: [1, 2] });
  t.throws(() => parseTarget({ layer: 'mixed3' }), { message: /no target/ });
  t.deepEqual(parseMethods('deconvnet,guided-backprop,grad-cam'), ['deconvnet', 'guided', 'gradcam']);
  const err = t.throws(() => parseMethods('deconvnet,lrp'), { instanceOf: ConvlabError });
  t.regex((err as ConvlabError).hint ?? '', /deconvnet, guided, saliency, smoothgrad, gradcam, guided-gradcam/);
});
