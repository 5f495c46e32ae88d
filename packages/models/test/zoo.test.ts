/**
 * The Keras-applications zoo: for each architecture a weights file is written in the exact layout of
 * the published file (layer names, weight names, shapes, root attributes; the old `_W_1:0` names for
 * VGG) with seeded random values at full width, loaded through the registry, and checked against a
 * reference forward written here with plain tf ops on the same arrays (first conv, a middle block,
 * the softmax). Files with one layer renamed or one shape changed are refused with the names listed.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, initEngine, seededRandom, tf } from '@convlab/core';
import { createConvNet } from '../src/convnet.js';
import { buildInceptionResNetV2 } from '../src/inception-resnet-v2.js';
import { buildInceptionV3 } from '../src/inception-v3.js';
import { assignLayerWeights, readKerasH5 } from '../src/keras-h5.js';
import { loadKerasApp } from '../src/keras-apps.js';
import { kerasLayout, writeKerasLayoutH5, type KerasLayoutLayer } from '../src/keras-layout.js';
import { buildMobileNetV2 } from '../src/mobilenet-v2.js';
import { readNsfwjsArtifacts } from '../src/nsfwjs.js';
import { loadModel } from '../src/registry.js';
import { buildResNet } from '../src/resnet.js';
import { buildVgg, loadVgg, VGG_MEAN_RGB } from '../src/vgg.js';
import { relDiff } from './helpers.js';

type Tensor = ReturnType<typeof tf.tensor>;
type T4 = ReturnType<typeof tf.tensor4d>;
type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

let dir = '';
test.before(async () => {
  await initEngine({ log: false });
  dir = await mkdtemp(join(tmpdir(), 'convlab-zoo-'));
  process.env.CONVLAB_HOME = join(dir, 'home');
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** mulberry32: fast seeded uniform [0, 1). */
const rng = seededRandom;

/** Seeded values for every weight of a layout, scaled so deep nets keep their activations finite. */
function randomValues(layout: KerasLayoutLayer[], seed: number): Map<string, Float32Array[]> {
  const r = rng(seed);
  const out = new Map<string, Float32Array[]>();
  for (const layer of layout) {
    if (!layer.weights.length) continue;
    out.set(
      layer.name,
      layer.weights.map((w) => {
        const n = w.shape.reduce((a, b) => a * b, 1);
        const d = new Float32Array(n);
        let lo = -0.1;
        let hi = 0.1;
        if (w.role === 'kernel' || w.role === 'depthwise_kernel') {
          const fanIn = w.shape.length === 4 ? w.shape[0] * w.shape[1] * (w.role === 'depthwise_kernel' ? 1 : w.shape[2]) : w.shape[0];
          hi = Math.sqrt(3 / fanIn);
          lo = -hi;
        } else if (w.role === 'gamma') [lo, hi] = [0.8, 1.2];
        else if (w.role === 'moving_variance') [lo, hi] = [0.5, 1.5];
        for (let i = 0; i < n; i++) d[i] = lo + (hi - lo) * r();
        return d;
      }),
    );
  }
  return out;
}

interface Written {
  path: string;
  layout: KerasLayoutLayer[];
  values: Map<string, Float32Array[]>;
}

async function writeLayout(file: string, model: LayersModel, style: 'keras1' | 'keras2', seed: number, kerasVersion?: string): Promise<Written> {
  const layout = kerasLayout(model, style);
  const values = randomValues(layout, seed);
  const path = join(dir, file);
  await writeKerasLayoutH5(path, layout, (l, i) => values.get(l)![i], { style, kerasVersion });
  return { path, layout, values };
}

/** A copy of a layout file with one layer renamed or one weight's shape changed. */
async function writeBroken(w: Written, file: string, change: { rename?: [string, string]; reshape?: [string, number[]] }): Promise<string> {
  const layout = w.layout.map((l) => {
    if (change.rename && l.name === change.rename[0]) {
      const to = change.rename[1];
      return { name: to, weights: l.weights.map((x) => ({ ...x, name: x.name.replace(l.name, to).replace(l.name, to) })) };
    }
    if (change.reshape && l.name === change.reshape[0]) {
      return { name: l.name, weights: l.weights.map((x, i) => (i === 0 ? { ...x, shape: change.reshape![1] } : x)) };
    }
    return l;
  });
  const path = join(dir, file);
  const original = (name: string) => (change.rename && name === change.rename[1] ? change.rename[0] : name);
  await writeKerasLayoutH5(path, layout, (l, i) => {
    const shape = layout.find((x) => x.name === l)!.weights[i].shape;
    const data = w.values.get(original(l))![i];
    const n = shape.reduce((a, b) => a * b, 1);
    return n === data.length ? data : new Float32Array(n);
  });
  return path;
}

/** Plain-tf-op reference forward over the file's arrays. */
class Ref {
  constructor(private values: Map<string, Float32Array[]>, private layout: KerasLayoutLayer[]) {}
  w(layer: string, role: string): Tensor {
    const l = this.layout.find((x) => x.name === layer);
    if (!l) throw new Error(`reference: no layer ${layer}`);
    const i = l.weights.findIndex((x) => x.role === role);
    if (i < 0) throw new Error(`reference: ${layer} has no ${role}`);
    return tf.tensor(this.values.get(layer)![i], l.weights[i].shape);
  }
  has(layer: string, role: string): boolean {
    return this.layout.some((x) => x.name === layer && x.weights.some((w) => w.role === role));
  }
  conv(x: Tensor, layer: string, strides: number, pad: 'same' | 'valid'): Tensor {
    let y: Tensor = tf.conv2d(x as T4, this.w(layer, 'kernel') as ReturnType<typeof tf.tensor4d>, strides, pad);
    if (this.has(layer, 'bias')) y = tf.add(y, this.w(layer, 'bias'));
    return y;
  }
  depthwise(x: Tensor, layer: string, strides: number, pad: 'same' | 'valid'): Tensor {
    return tf.depthwiseConv2d(x as T4, this.w(layer, 'depthwise_kernel') as ReturnType<typeof tf.tensor4d>, strides, pad);
  }
  bn(x: Tensor, layer: string, eps: number): Tensor {
    let y = tf.div(tf.sub(x, this.w(layer, 'moving_mean')), tf.sqrt(tf.add(this.w(layer, 'moving_variance'), eps)));
    if (this.has(layer, 'gamma')) y = tf.mul(y, this.w(layer, 'gamma'));
    return tf.add(y, this.w(layer, 'beta'));
  }
  dense(x: Tensor, layer: string): Tensor {
    return tf.add(tf.matMul(x as ReturnType<typeof tf.tensor2d>, this.w(layer, 'kernel') as ReturnType<typeof tf.tensor2d>), this.w(layer, 'bias'));
  }
  head(x: Tensor, layer: string): Tensor {
    return tf.softmax(this.dense(tf.mean(x, [1, 2]), layer));
  }
}

const pad = (x: Tensor, t: number, b: number, l: number, r: number) => tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]);
const maxPool = (x: Tensor, k: number, s: number, p: 'same' | 'valid' = 'valid') => tf.maxPool(x as T4, k, s, p);
const avgPool3 = (x: Tensor) => tf.avgPool(x as T4, 3, 1, 'same');

/** Compare the loaded net's outputs with the reference's; returns the relative differences. */
async function check(t: import('ava').ExecutionContext, net: Awaited<ReturnType<typeof loadModel>>, x: Tensor, reference: Record<string, Tensor>, tol = 1e-4): Promise<void> {
  const names = Object.keys(reference);
  const got = net.forward(x as T4, { outputs: names });
  for (const name of names) {
    t.deepEqual(got[name].shape, reference[name].shape, `${name} shape`);
    const d = relDiff(got[name], reference[name]);
    t.true(d < tol, `${name}: relative difference ${d}`);
    const spread = tf.tidy(() => tf.sub(tf.max(reference[name]), tf.min(reference[name])).dataSync()[0]);
    t.true(spread > 0, `${name} is not constant`);
  }
  tf.dispose([...Object.values(got), ...Object.values(reference)]);
}

function expectRefused(t: import('ava').ExecutionContext, err: ConvlabError | undefined, patterns: RegExp[]): void {
  t.truthy(err);
  for (const p of patterns) t.regex(err!.message, p);
  t.false(err!.message.includes('\n'));
}

test.serial('ResNet-50: Keras layout file loads by name, reference forward agrees; renamed layer and changed shape are refused', async (t) => {
  const model = buildResNet(50);
  t.is(model.countParams(), 25_636_712); // Keras ResNet50().count_params()
  const w = await writeLayout('resnet50_weights_tf_dim_ordering_tf_kernels.h5', model, 'keras2', 1);
  model.dispose();
  const first = w.layout.find((l) => l.weights.length)!;
  t.is(first.name, 'conv1_conv');
  t.deepEqual(first.weights.map((x) => [x.name, x.shape]), [['conv1_conv/kernel:0', [7, 7, 3, 64]], ['conv1_conv/bias:0', [64]]]);
  const contents = await readKerasH5(w.path);
  t.is(contents.kerasVersion, '2.1.6');
  t.is(contents.layerNames.length, 177);

  const net = await loadKerasApp('resnet50', { weights: w.path });
  t.is(net.headLayer, 'predictions');
  t.is(net.classNames?.[243], 'bull mastiff');
  t.is(net.weights.kind, 'imagenet');
  t.is(net.weights.variant, 'top');
  t.is(net.resolveLayer('layer3'), 'conv4_block6_out');
  const r = new Ref(w.values, w.layout);
  const x = tf.randomUniform([1, 64, 64, 3], -2, 2, 'float32', 3);
  const reference = tf.tidy(() => {
    const c1 = r.conv(pad(x, 3, 3, 3, 3), 'conv1_conv', 2, 'valid');
    let y: Tensor = maxPool(pad(tf.relu(r.bn(c1, 'conv1_bn', 1.001e-5)), 1, 1, 1, 1), 3, 2);
    let mid: Tensor | undefined;
    [3, 4, 6, 3].forEach((blocks, s) => {
      for (let i = 1; i <= blocks; i++) {
        const n = `conv${s + 2}_block${i}`;
        const stride = i === 1 && s > 0 ? 2 : 1;
        const shortcut = i === 1 ? r.bn(r.conv(y, `${n}_0_conv`, stride, 'valid'), `${n}_0_bn`, 1.001e-5) : y;
        let z = tf.relu(r.bn(r.conv(y, `${n}_1_conv`, stride, 'valid'), `${n}_1_bn`, 1.001e-5));
        z = tf.relu(r.bn(r.conv(z, `${n}_2_conv`, 1, 'same'), `${n}_2_bn`, 1.001e-5));
        z = r.bn(r.conv(z, `${n}_3_conv`, 1, 'valid'), `${n}_3_bn`, 1.001e-5);
        y = tf.relu(tf.add(shortcut, z));
        if (n === 'conv3_block4') mid = y;
      }
    });
    return { conv1_conv: c1, conv3_block4_out: mid!, predictions: r.head(y, 'predictions') };
  });
  await check(t, net, x, reference);
  net.dispose();

  // A trunk-only load of the same file skips the classifier.
  const trunk = await loadKerasApp('resnet50', { weights: w.path, includeHead: false });
  t.is(trunk.headLayer, undefined);
  t.regex(trunk.weights.description, /without its classifier/);
  trunk.dispose();

  const renamed = await writeBroken(w, 'resnet50_renamed.h5', { rename: ['conv2_block1_1_conv', 'conv2_block1_1_conv_x'] });
  const e1 = await t.throwsAsync(loadKerasApp('resnet50', { weights: renamed }), { instanceOf: ConvlabError });
  expectRefused(t, e1, [/missing weights for conv2_block1_1_conv \(kernel \[1,1,64,64\], bias \[64\]\)/, /unmapped weights in the file: conv2_block1_1_conv_x/]);
  const reshaped = await writeBroken(w, 'resnet50_reshaped.h5', { reshape: ['conv4_block2_2_conv', [3, 3, 256, 255]] });
  const e2 = await t.throwsAsync(loadKerasApp('resnet50', { weights: reshaped }), { instanceOf: ConvlabError });
  expectRefused(t, e2, [/shape mismatch: conv4_block2_2_conv\/kernel: model \[3,3,256,256\] vs file \[3,3,256,255\]/]);
  // The ResNet-50 file given to ResNet-101: one line naming what the file is.
  const e3 = await t.throwsAsync(loadKerasApp('resnet101', { weights: w.path }), { instanceOf: ConvlabError });
  expectRefused(t, e3, [/missing weights for conv4_block7_1_conv .* and \d+ more/]);
  x.dispose();
});

test.serial('Inception-v3: Keras layout (conv2d_1 ... names as nsfwjs ships them), reference forward agrees', async (t) => {
  const model = buildInceptionV3();
  t.is(model.countParams(), 23_851_784);
  // The trunk's weight names and shapes equal those of the Keras 2.2.4 topology nsfwjs ships.
  const nsfw = await readNsfwjsArtifacts('inception_v3');
  const theirs = new Map(nsfw.weightSpecs!.filter((s) => !s.name.startsWith('dense_')).map((s) => [s.name, JSON.stringify(s.shape)]));
  const mine = new Map(model.layers.filter((l) => l.name !== 'predictions').flatMap((l) => l.weights.map((w) => [`${l.name}/${w.originalName.split('/').pop()}`, JSON.stringify(w.shape)] as const)));
  t.deepEqual([...mine.entries()].sort(), [...theirs.entries()].sort());
  const w = await writeLayout('inception_v3_weights_tf_dim_ordering_tf_kernels.h5', model, 'keras2', 2, '2.0.2');
  model.dispose();
  const net = await loadModel('inception_v3', { weights: 'imagenet' }).catch((e: ConvlabError) => e);
  t.true(net instanceof ConvlabError && /pull inception_v3 --top/.test(net.hint ?? ''), 'nothing cached yet');
  const loaded = await loadModel('inception_v3', { weights: w.path });
  t.is(loaded.weights.kind, 'imagenet');
  t.deepEqual(loaded.featureInfo().find((f) => f.name === 'mixed10')?.channels, 2048);
  const r = new Ref(w.values, w.layout);
  let n = 0;
  const cbr = (x: Tensor, kh: number, kw: number, p: 'same' | 'valid' = 'same', s = 1) => {
    n++;
    void kh;
    void kw;
    return tf.relu(r.bn(r.conv(x, `conv2d_${n}`, s, p), `batch_normalization_${n}`, 1e-3));
  };
  const x = tf.randomUniform([1, 75, 75, 3], -1, 1, 'float32', 4);
  const reference = tf.tidy(() => {
    const c1 = r.conv(x, 'conv2d_1', 2, 'valid');
    let y: Tensor = cbr(x, 3, 3, 'valid', 2);
    y = cbr(y, 3, 3, 'valid');
    y = cbr(y, 3, 3);
    y = maxPool(y, 3, 2);
    y = cbr(y, 1, 1, 'valid');
    y = cbr(y, 3, 3, 'valid');
    y = maxPool(y, 3, 2);
    for (let i = 0; i < 3; i++) {
      const b1 = cbr(y, 1, 1);
      const b5 = cbr(cbr(y, 1, 1), 5, 5);
      const b3 = cbr(cbr(cbr(y, 1, 1), 3, 3), 3, 3);
      const bp = cbr(avgPool3(y), 1, 1);
      y = tf.concat([b1, b5, b3, bp], 3);
    }
    {
      const b3 = cbr(y, 3, 3, 'valid', 2);
      const bd = cbr(cbr(cbr(y, 1, 1), 3, 3), 3, 3, 'valid', 2);
      y = tf.concat([b3, bd, maxPool(y, 3, 2)], 3);
    }
    let mixed5: Tensor | undefined;
    for (let i = 0; i < 4; i++) {
      const b1 = cbr(y, 1, 1);
      const b7 = cbr(cbr(cbr(y, 1, 1), 1, 7), 7, 1);
      const bd = cbr(cbr(cbr(cbr(cbr(y, 1, 1), 7, 1), 1, 7), 7, 1), 1, 7);
      const bp = cbr(avgPool3(y), 1, 1);
      y = tf.concat([b1, b7, bd, bp], 3);
      if (i === 1) mixed5 = y;
    }
    {
      const b3 = cbr(cbr(y, 1, 1), 3, 3, 'valid', 2);
      const b7 = cbr(cbr(cbr(cbr(y, 1, 1), 1, 7), 7, 1), 3, 3, 'valid', 2);
      y = tf.concat([b3, b7, maxPool(y, 3, 2)], 3);
    }
    for (let i = 0; i < 2; i++) {
      const b1 = cbr(y, 1, 1);
      const b3 = cbr(y, 1, 1);
      const b3c = tf.concat([cbr(b3, 1, 3), cbr(b3, 3, 1)], 3);
      const bd = cbr(cbr(y, 1, 1), 3, 3);
      const bdc = tf.concat([cbr(bd, 1, 3), cbr(bd, 3, 1)], 3);
      const bp = cbr(avgPool3(y), 1, 1);
      y = tf.concat([b1, b3c, bdc, bp], 3);
    }
    return { conv2d_1: c1, mixed5: mixed5!, predictions: r.head(y, 'predictions') };
  });
  t.is(n, 94);
  await check(t, loaded, x, reference);
  loaded.dispose();
  x.dispose();
});

test.serial('MobileNetV2: Keras layout (names as nsfwjs ships them), reference forward, cache and refusals', async (t) => {
  const model = buildMobileNetV2();
  t.is(model.countParams(), 3_538_984);
  const nsfw = await readNsfwjsArtifacts('mobilenet_v2');
  const theirs = new Map(nsfw.weightSpecs!.filter((s) => !s.name.startsWith('dense_')).map((s) => [s.name, JSON.stringify(s.shape)]));
  const mine = new Map(model.layers.filter((l) => l.name !== 'Logits').flatMap((l) => l.weights.map((w) => [`${l.name}/${w.originalName.split('/').pop()}`, JSON.stringify(w.shape)] as const)));
  t.deepEqual([...mine.entries()].sort(), [...theirs.entries()].sort());
  // Written straight into the cache under the published name: weights 'imagenet' finds it.
  const cacheDir = join(process.env.CONVLAB_HOME!, 'models', 'mobilenet_v2');
  const w = await writeLayout(join('home', 'models', 'mobilenet_v2', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5'), model, 'keras2', 3);
  model.dispose();
  t.true(w.path.startsWith(cacheDir));
  const net = await loadModel('mobilenet_v2', { weights: 'imagenet' });
  t.is(net.headLayer, 'Logits');
  t.is(net.classNames?.length, 1000);
  t.deepEqual(net.weights.kind, 'imagenet');
  const bundled = await loadModel('mobilenet_v2', { upTo: 'out_relu' });
  t.is(bundled.weights.kind, 'nsfwjs');
  bundled.dispose();
  const r = new Ref(w.values, w.layout);
  const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 5);
  const blocks: [number, number, number][] = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6], [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6], [96, 1, 6], [96, 1, 6], [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
  const relu6 = (v: Tensor) => tf.clipByValue(v, 0, 6);
  const reference = tf.tidy(() => {
    const c1 = r.conv(pad(x, 0, 1, 0, 1), 'Conv1', 2, 'valid');
    let y: Tensor = relu6(r.bn(c1, 'bn_Conv1', 1e-3));
    let mid: Tensor | undefined;
    blocks.forEach(([filters, stride], id) => {
      const p = id ? `block_${id}_` : 'expanded_conv_';
      const input = y;
      let z = id ? relu6(r.bn(r.conv(y, `${p}expand`, 1, 'same'), `${p}expand_BN`, 1e-3)) : y;
      if (stride === 2) z = pad(z, 0, 1, 0, 1);
      z = relu6(r.bn(r.depthwise(z, `${p}depthwise`, stride, stride === 2 ? 'valid' : 'same'), `${p}depthwise_BN`, 1e-3));
      z = r.bn(r.conv(z, `${p}project`, 1, 'same'), `${p}project_BN`, 1e-3);
      y = input.shape[3] === filters && stride === 1 ? tf.add(input, z) : z;
      if (id === 8) mid = y;
    });
    y = relu6(r.bn(r.conv(y, 'Conv_1', 1, 'same'), 'Conv_1_bn', 1e-3));
    return { Conv1: c1, block_8_add: mid!, Logits: r.head(y, 'Logits') };
  });
  await check(t, net, x, reference);
  net.dispose();
  x.dispose();

  const renamed = await writeBroken(w, 'mnv2_renamed.h5', { rename: ['block_5_project_BN', 'block_5_project_bn'] });
  const e1 = await t.throwsAsync(loadModel('mobilenet_v2', { weights: renamed }), { instanceOf: ConvlabError });
  expectRefused(t, e1, [/missing weights for block_5_project_BN \(gamma \[32\], beta \[32\], moving_mean \[32\], moving_variance \[32\]\)/, /unmapped weights in the file: block_5_project_bn/]);
  const reshaped = await writeBroken(w, 'mnv2_reshaped.h5', { reshape: ['Logits', [1280, 1001]] });
  const e2 = await t.throwsAsync(loadModel('mobilenet_v2', { weights: reshaped }), { instanceOf: ConvlabError });
  expectRefused(t, e2, [/shape mismatch: Logits\/kernel: model \[1280,1000\] vs file \[1280,1001\]/]);
  // Wrong architecture: one line saying what the file is.
  const e3 = await t.throwsAsync(loadModel('inception_v3', { weights: w.path }), { instanceOf: ConvlabError });
  expectRefused(t, e3, [/holds weights for mobilenet_v2, not inception_v3/]);
  t.regex(e3!.hint ?? '', /'mobilenet_v2' model/);
});

test.serial('Inception-ResNet-v2: Keras layout, scaled residuals, reference forward agrees; tf.keras 0-based names are renumbered', async (t) => {
  const model = buildInceptionResNetV2();
  t.is(model.countParams(), 55_873_736);
  t.is(model.layers.length, 782);
  const w = await writeLayout('inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5', model, 'keras2', 6);
  model.dispose();
  const net = await loadModel('inception_resnet_v2', { weights: w.path });
  t.is(net.layer('block35_1').kind, 'add');
  const r = new Ref(w.values, w.layout);
  let n = 0;
  const cbr = (x: Tensor, p: 'same' | 'valid' = 'same', s = 1) => {
    n++;
    return tf.relu(r.bn(r.conv(x, `conv2d_${n}`, s, p), `batch_normalization_${n}`, 1e-3));
  };
  const x = tf.randomUniform([1, 75, 75, 3], -1, 1, 'float32', 7);
  const reference = tf.tidy(() => {
    const c1 = r.conv(x, 'conv2d_1', 2, 'valid');
    let y: Tensor = cbr(x, 'valid', 2);
    y = cbr(y, 'valid');
    y = cbr(y);
    y = maxPool(y, 3, 2);
    y = cbr(y, 'valid');
    y = cbr(y, 'valid');
    y = maxPool(y, 3, 2);
    {
      const b0 = cbr(y);
      const b1 = cbr(cbr(y));
      const b2 = cbr(cbr(cbr(y)));
      const bp = cbr(avgPool3(y));
      y = tf.concat([b0, b1, b2, bp], 3);
    }
    const block = (v: Tensor, type: string, idx: number, scale: number, act = true) => {
      const branches = type === 'block35' ? [cbr(v), cbr(cbr(v)), cbr(cbr(cbr(v)))] : [cbr(v), cbr(cbr(cbr(v)))];
      const up = r.conv(tf.concat(branches, 3), `${type}_${idx}_conv`, 1, 'same');
      const s = tf.add(v, tf.mul(up, scale));
      return act ? tf.relu(s) : s;
    };
    for (let i = 1; i <= 10; i++) y = block(y, 'block35', i, 0.17);
    {
      const b0 = cbr(y, 'valid', 2);
      const b1 = cbr(cbr(cbr(y)), 'valid', 2);
      y = tf.concat([b0, b1, maxPool(y, 3, 2)], 3);
    }
    let mid: Tensor | undefined;
    for (let i = 1; i <= 20; i++) {
      y = block(y, 'block17', i, 0.1);
      if (i === 10) mid = y;
    }
    {
      const b0 = cbr(cbr(y), 'valid', 2);
      const b1 = cbr(cbr(y), 'valid', 2);
      const b2 = cbr(cbr(cbr(y)), 'valid', 2);
      y = tf.concat([b0, b1, b2, maxPool(y, 3, 2)], 3);
    }
    for (let i = 1; i <= 9; i++) y = block(y, 'block8', i, 0.2);
    y = block(y, 'block8', 10, 1, false);
    y = tf.relu(r.bn(r.conv(y, 'conv_7b', 1, 'same'), 'conv_7b_bn', 1e-3));
    return { conv2d_1: c1, block17_10_ac: mid!, predictions: r.head(y, 'predictions') };
  });
  await check(t, net, x, reference);
  net.dispose();

  // The same weights saved by tf.keras (automatic names from 0: conv2d, conv2d_1, ...) map onto the model.
  const contents = await readKerasH5(w.path);
  const shifted = new Map([...contents.weights].map(([name, list]) => {
    const m = /^(conv2d|batch_normalization)_(\d+)$/.exec(name);
    return [m ? (m[2] === '1' ? m[1] : `${m[1]}_${Number(m[2]) - 1}`) : name, list] as const;
  }));
  const model2 = buildInceptionResNetV2();
  const report = assignLayerWeights(model2, shifted, { source: 'tf.keras file' });
  t.deepEqual(report.renumbered.sort(), ['batch_normalization +1', 'conv2d +1']);
  const shape7 = w.layout.find((l) => l.name === 'conv2d_7')!.weights[0].shape;
  const stored7 = tf.tensor(w.values.get('conv2d_7')![0], shape7);
  t.is(relDiff(model2.getLayer('conv2d_7').getWeights()[0], stored7), 0);
  stored7.dispose();
  model2.dispose();
  x.dispose();
});

test.serial('VGG16 with its classifier: Keras 1 layout (_W_1:0 names, layer_names only), reference forward; full-size layout names and shapes', async (t) => {
  // fc1 at 224 px is 25088 x 4096 (411 MB of float32): the value check uses the same layout built for
  // a 32 px input (fc1 512 x 4096); the full layout's names and shapes are checked without values.
  const small = buildVgg(16, { includeTop: true, topInputSize: 32, init: 'zeros' });
  const w = await writeLayout('vgg16_weights_tf_dim_ordering_tf_kernels.h5', small, 'keras1', 8);
  small.dispose();
  const fc1 = w.layout.find((l) => l.name === 'fc1')!;
  t.deepEqual(fc1.weights.map((x) => x.name), ['fc1_W_1:0', 'fc1_b_1:0']);
  const contents = await readKerasH5(w.path);
  t.is(contents.kerasVersion, undefined);
  t.deepEqual(contents.layerNames.slice(-5), ['block5_pool', 'flatten', 'fc1', 'fc2', 'predictions']);

  const model = buildVgg(16, { includeTop: true, topInputSize: 32, init: 'zeros' });
  assignLayerWeights(model, contents.weights, { source: w.path });
  const net = createConvNet({ name: 'vgg16', family: 'vgg', model, inputSize: [32, 32], preprocessing: { kind: 'caffe', meanRgb: VGG_MEAN_RGB }, weights: { source: w.path, description: '', quantized: false }, headLayer: 'predictions' });
  const r = new Ref(w.values, w.layout);
  const x = tf.randomUniform([1, 32, 32, 3], -100, 100, 'float32', 9);
  const reference = tf.tidy(() => {
    let y: Tensor = x;
    let first: Tensor | undefined;
    let mid: Tensor | undefined;
    [2, 2, 3, 3, 3].forEach((convs, b) => {
      for (let i = 1; i <= convs; i++) {
        y = tf.relu(r.conv(y, `block${b + 1}_conv${i}`, 1, 'same'));
        if (!first) first = y;
        if (b === 3 && i === 3) mid = y;
      }
      y = maxPool(y, 2, 2);
    });
    let f = tf.reshape(y, [1, -1]);
    f = tf.relu(r.dense(f, 'fc1'));
    f = tf.relu(r.dense(f, 'fc2'));
    return { block1_conv1: first!, block4_conv3: mid!, predictions: tf.softmax(r.dense(f, 'predictions')) };
  });
  await check(t, net, x, reference);
  net.dispose();
  x.dispose();

  // loadVgg maps the same names at the native size: the 32 px fc1 is refused, naming the layer.
  const e = await t.throwsAsync(loadVgg(16, { weights: w.path }), { instanceOf: ConvlabError });
  expectRefused(t, e, [/shape mismatch: fc1\/kernel: model \[25088,4096\] vs file \[512,4096\] \(fc1_W_1:0\)/]);
  // As a trunk the file loads (its head skipped).
  const trunk = await loadVgg(16, { weights: w.path, includeHead: false });
  t.is(trunk.headLayer, undefined);
  trunk.dispose();

  // The full-size layout: Keras VGG16(include_top=True) has 138,357,544 parameters.
  const expected = w.layout.map((l) => ({ name: l.name, shapes: l.weights.map((x) => (l.name === 'fc1' && x.role === 'kernel' ? [7 * 7 * 512, 4096] : x.shape)) }));
  const total = expected.reduce((s, l) => s + l.shapes.reduce((a, sh) => a + sh.reduce((p, d) => p * d, 1), 0), 0);
  t.is(total, 138_357_544);
});

test.serial('VGG19 with its classifier: full-size layout names and parameter count', (t) => {
  const small = buildVgg(19, { includeTop: true, topInputSize: 32, init: 'zeros' });
  const layout = kerasLayout(small, 'keras1');
  small.dispose();
  t.is(layout.length, 26);
  const total = layout.reduce((s, l) => s + l.weights.reduce((a, x) => a + (l.name === 'fc1' && x.role === 'kernel' ? 25088 * 4096 : x.shape.reduce((p, d) => p * d, 1)), 0), 0);
  t.is(total, 143_667_240); // Keras VGG19().count_params()
  t.deepEqual(layout.find((l) => l.name === 'block5_conv4')!.weights.map((x) => x.name), ['block5_conv4_W_1:0', 'block5_conv4_b_1:0']);
});

test.serial('ResNet-101/152 architectures have the Keras parameter counts and names', (t) => {
  for (const [depth, params, blocks] of [[101, 44_707_176, 23], [152, 60_419_944, 36]] as const) {
    const m = buildResNet(depth, { includeTop: false });
    t.is(m.countParams() + 2048 * 1000 + 1000, params);
    t.truthy(m.getLayer(`conv4_block${blocks}_out`));
    m.dispose();
  }
});
