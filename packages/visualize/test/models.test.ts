/**
 * The methods on real architectures: the offline MobileNetV2 and InceptionV3 trunks (depthwise convs,
 * ReLU6, batch norm, residual adds, Inception concats and max-pools) and a generated VGG-style model.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, loadImage, saveImage, type RgbImage } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import { createMethod } from '../src/methods/index.js';
import { METHOD_NAMES } from '../src/attribution.js';
import { unitBoxes } from '../src/receptive.js';
import { fitImage } from '../src/images.js';
import { runTop9 } from '../src/top9/run.js';
import { occlusionForModel } from '../src/methods/occlusion.js';
import { tinyVgg } from './helpers/nets.js';

test.before(async () => {
  // wasm is the fast everyday backend; the hand-computed tests run on the cpu backend.
  await initEngine({ backend: 'wasm', log: false });
});

/** Bounding box of the non-zero pixels of an [h, w, 3] map. */
function support(pixels: Float32Array, w: number, h: number) {
  let y0 = h, y1 = -1, x0 = w, x1 = -1; // prettier-ignore
  for (let i = 0; i < w * h; i++) {
    if (pixels[i * 3] !== 0 || pixels[i * 3 + 1] !== 0 || pixels[i * 3 + 2] !== 0) {
      const y = Math.floor(i / w);
      const x = i % w;
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
    }
  }
  return { y0, y1, x0, x1, empty: y1 < 0 };
}

function finite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

async function sample(name: string, size: number): Promise<RgbImage> {
  return fitImage(await loadImage(join(import.meta.dirname, '../../../assets/content', name)), size, size);
}

/** Projections of a unit stay inside its receptive field (conv arithmetic and backprop agree). */
async function checkProjectionInField(t: import('ava').ExecutionContext, net: ConvNet, image: RgbImage, layer: string, unit: number) {
  const size: [number, number] = [image.height, image.width];
  const { boxFor } = unitBoxes(net, layer, size);
  for (const method of ['deconvnet', 'guided'] as const) {
    const map = await createMethod(method, net).attribute(image, { layer, unit });
    t.true(finite(map.pixels!), `${method} finite`);
    const s = support(map.pixels!, image.width, image.height);
    t.false(s.empty, `${method} projection of ${layer}:${unit} is not empty`);
    const box = boxFor(...map.target.position!);
    t.true(s.y0 >= box.y && s.y1 < box.y + box.height && s.x0 >= box.x && s.x1 < box.x + box.width, `${method} support ${JSON.stringify(s)} inside ${JSON.stringify(box)}`);
  }
}

// Serial: these tests share tfjs's global engine state (backend, gradient tape). (An empty SmoothGrad unit map
// seen in two CI runs was not interleaving: SmoothGrad's noise for seed 0 was unseeded, see opSeed.)
// tfjs reads a seed of 0 as "unseeded"; SmoothGrad's default seed 0 must still give the same map every run.
test.serial('SmoothGrad is reproducible with its default seed', async (t) => {
  const net = tinyVgg(32);
  const image: RgbImage = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 53) % 241) };
  const maps = [];
  for (let i = 0; i < 2; i++) maps.push(await createMethod('smoothgrad', net, { smoothgrad: { samples: 6, batchSize: 3 } }).attribute(image, { classIndex: 2 }));
  t.deepEqual(Array.from(maps[0].pixels!), Array.from(maps[1].pixels!));
  const other = await createMethod('smoothgrad', net, { smoothgrad: { samples: 6, batchSize: 3, seed: 1 } }).attribute(image, { classIndex: 2 });
  t.notDeepEqual(Array.from(other.pixels!), Array.from(maps[0].pixels!), 'another seed, other noise');
  net.dispose();
});

test.serial('a generated VGG-style model: every method, unit and class targets, receptive fields, top-9', async (t) => {
  const net = tinyVgg(32);
  const image: RgbImage = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 251) };
  for (const target of [{ layer: 'conv2_1', unit: 3 }, { classIndex: 1 }]) {
    for (const name of METHOD_NAMES) {
      const map = await createMethod(name, net, { smoothgrad: { samples: 4 } }).attribute(image, target);
      t.is(map.heat.length, 32 * 32, name);
      t.true(finite(map.heat) && map.heat.some((v) => v > 0), `${name} on ${JSON.stringify(target)}`);
      if (map.pixels) t.is(map.pixels.length, 32 * 32 * 3);
    }
  }
  await checkProjectionInField(t, net, image, 'block1_pool', 5);
  await checkProjectionInField(t, net, image, 'block2_conv1', 2);

  // Top-9 end to end over generated images, with the receptive-field crops.
  const dir = await mkdtemp(join(tmpdir(), 'deconv-vgg-'));
  for (let i = 0; i < 12; i++) {
    const data = Uint8Array.from({ length: 32 * 32 * 3 }, (_, k) => (k * (i + 3) * 7 + i * 13) % 256);
    await saveImage({ width: 32, height: 32, data }, join(dir, 'images', `g${i}.png`));
  }
  const res = await runTop9(net, { images: join(dir, 'images'), layer: 'block2_conv1', units: [0, 5], out: join(dir, 'out'), rules: ['deconvnet', 'guided'] });
  t.true(res.complete);
  t.is(res.scanned, 12);
  t.deepEqual(res.units, [0, 5]);
  t.is(res.tops[0].entries.length, 9);
  t.is(res.figures[0].projections.deconvnet.length, 9);
  t.is(res.figures[0].patches[0].width, res.figures[0].boxes[0].width);
  t.true(res.files.some((f) => f.endsWith('top9-block2_conv1.png')) && res.files.every((f) => existsSync(f)));
  const occ = await occlusionForModel(net, image, { classIndex: 0 }, { size: 8, stride: 8 });
  t.is(occ.target.length, 16);
  t.is(occ.topClass!.length, 16);
  t.deepEqual(occ.fill, [123.7, 116.8, 103.9]); // VGG's mean pixel: zero in the network's input space
  await rm(dir, { recursive: true, force: true });
  net.dispose();
});

test.serial('mobilenet_v2 (offline weights): projections inside receptive fields, saturated ReLU6 units project, Grad-CAM for a class', async (t) => {
  const net = await loadModel('mobilenet_v2');
  const image = await sample('dog.jpg', 224);
  await checkProjectionInField(t, net, image, 'block_3_expand_relu', 1);
  const cam = await createMethod('gradcam', net).attribute(image, { classIndex: 2 });
  t.is(cam.coarse!.layer, 'out_relu');
  t.is(cam.coarse!.height, 7);
  t.true(cam.heat.some((v) => v > 0) && finite(cam.heat));
  t.true(cam.target.probability! > 0 && cam.target.probability! <= 1);
  const sal = await createMethod('saliency', net).attribute(image, { classIndex: 2 });
  t.true(sal.heat.some((v) => v > 0));
  net.dispose();
});

test.serial('inception_v3 (offline weights) at a smaller input: deconvnet through max-pool switches and concats, Grad-CAM of a unit', async (t) => {
  const net = await loadModel('inception_v3', { includeHead: false });
  const image = await sample('eagle.jpg', 139);
  await checkProjectionInField(t, net, image, 'max_pooling2d_1', 10);
  const map = await createMethod('deconvnet', net).attribute(image, { layer: 'mixed0', unit: 40 });
  t.true(map.pixels!.some((v) => v !== 0) && finite(map.pixels!));
  const cam = await createMethod('gradcam', net, { gradcam: { layer: 'mixed0' } }).attribute(image, { layer: 'mixed1', unit: 7 });
  t.is(cam.coarse!.layer, 'mixed0');
  t.true(finite(cam.heat));
  net.dispose();
});
