/**
 * Extraction with the model zoo's ImageNet encoders (`extract --model resnet50 --weights imagenet`): the
 * encoder's defaults agree with @convlab/models (native size, minimum size, preprocessing, the layer a user
 * taps), a missing ImageNet file fails before anything is written with the models package's message, and the
 * weights in use (kind, variant, sha256) reach the feature cache index and the run record. No real weights can
 * be downloaded here: the ImageNet file is written in the exact Keras layout with random values, straight into
 * the weights cache (CONVLAB_HOME), and the features are checked against the same file loaded by the registry.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConvlabError, imagesToBatch, initEngine, parseOptions, tf, type Tensor4D } from '@convlab/core';
import {
  buildMobileNetV2,
  cachedWeightsPath,
  getModelEntry,
  KERAS_APP_SPECS,
  kerasLayout,
  loadModel,
  modelTransforms,
  writeKerasLayoutH5,
} from '@convlab/models';
import { defaultEncoderLayer, ENCODER_MIN_SIZE, ENCODER_NATIVE_SIZE, ENCODERS, encoderSpecOf, ExtractOptions, loadEncoderImage, loadFeatureCache, readCacheIndex, runExtract, runSynth } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'caption-imagenet-'));
let data: { karpathy: string; images: string };

test.before(async () => {
  process.env.CONVLAB_HOME = join(dir, 'home');
  await initEngine({ log: false });
  const synth = await runSynth({ out: join(dir, 'ds'), count: 10, size: 48, format: 'jpg' });
  data = { karpathy: synth.json!, images: synth.images };
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const record = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { model: { name: string; encoder: { weights?: string }; weights: Record<string, string> }; parameters: Record<string, unknown>; seed?: number };

test('every convnet encoder: native and minimum size, preprocessing and default layer as the model zoo declares them', (t) => {
  for (const model of ENCODERS) {
    if (model === 'random-conv') continue;
    for (const weights of model.startsWith('resnet') || model === 'inception_resnet_v2' ? ['imagenet'] : [undefined, 'imagenet']) {
      const tr = modelTransforms(model, weights);
      t.is(ENCODER_NATIVE_SIZE[model], tr.inputSize[0], `${model} ${weights}`);
      t.is(ENCODER_MIN_SIZE[model] as number, tr.minInputSize, `${model} ${weights}`);
      const spec = encoderSpecOf(parseOptions(ExtractOptions, { features: 'f', model, weights }, 'code'), tr);
      t.deepEqual(spec.inputSize, [tr.inputSize[0], tr.inputSize[0]]);
      t.is(spec.weights, weights);
      if (weights) t.true(spec.preprocessing!.includes(`Keras '${tr.preprocessing.kind}'`), `${model}: ${spec.preprocessing}`);
      const layer = defaultEncoderLayer(model, weights);
      t.is(spec.layer, layer);
      // The layer is one the zoo lists for tapping (or, for nsfwjs's InceptionV3, the shipped models' mixed6); for
      // the Keras applications it is the trunk's last layer, whose spatial mean is Keras's avg_pool vector.
      if (model === 'inception_v3' && weights === undefined) t.is(layer, 'mixed6');
      else t.true(getModelEntry(model).tapLayers!.includes(layer), `${model}: ${layer}`);
      if (weights === 'imagenet' && KERAS_APP_SPECS[model]) t.is(layer, KERAS_APP_SPECS[model].trunkEnd);
    }
  }
  t.is(defaultEncoderLayer('resnet50', 'imagenet'), 'conv5_block3_out');
  // The first encoders' specs with their default weights are what older caches and the shipped models carry.
  t.deepEqual(encoderSpecOf(parseOptions(ExtractOptions, { features: 'f', model: 'inception_v3', layer: 'mixed6', size: 299, gridPool: 2 }, 'code')), {
    type: 'convnet',
    model: 'inception_v3',
    layer: 'mixed6',
    inputSize: [299, 299],
    pool: 'mean',
    preprocessing: "RGB squashed to 299x299, the model's own preprocessing",
    gridPool: 2,
  });
});

test.serial('offline without the ImageNet file: the models package says which file to place where, before anything is written', async (t) => {
  const features = join(dir, 'missing');
  const err = await t.throwsAsync(runExtract({ ...data, features, model: 'resnet50', weights: 'imagenet' }), { instanceOf: ConvlabError });
  t.regex(err!.message, /^no ImageNet weights for resnet50 on this machine: neither resnet50_weights_tf_dim_ordering_tf_kernels\.h5 nor resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5 is in /);
  t.true(err!.message.includes(join(dir, 'home', 'models', 'resnet50')));
  t.regex((err as ConvlabError).hint ?? '', /convlab-models pull resnet50 --top/);
  // resnet's default weights are ImageNet's: the same message without --weights.
  await t.throwsAsync(runExtract({ ...data, features, model: 'resnet50' }), { message: /^no ImageNet weights for resnet50/ });
  await t.throwsAsync(runExtract({ ...data, features, model: 'inception_v3', weights: 'imagenet' }), { message: /^no ImageNet weights for inception_v3/ });
  await t.throwsAsync(runExtract({ ...data, features, model: 'mobilenet_v2', weights: join(dir, 'nope.h5') }), { message: /^weights .*nope\.h5 not found$/ });
  t.false(existsSync(features));
});

test.serial('resnet50 with random weights: conv5_block3_out grid, its mean as the pooled vector, the weights in the index and the record', async (t) => {
  const features = join(dir, 'resnet50-random');
  const run = await runExtract({ ...data, features, model: 'resnet50', weights: 'random', seed: 3, size: 64, grid: true, batch: 4 });
  t.is(run.done, 10);
  t.is(run.spec.layer, 'conv5_block3_out');
  t.is(run.spec.weights, 'random');
  t.is(run.spec.seed, 3);
  t.regex(run.spec.preprocessing!, /Keras 'caffe' preprocessing/);
  const index = readCacheIndex(features);
  t.is(index.weights?.kind, 'random');
  t.regex(index.weights!.description, /seed 3/);
  t.deepEqual(index.gridShape, [2, 2, 2048]);
  t.is(index.pooledDim, 2048);
  const cache = loadFeatureCache(features, { grid: true });
  // The pooled vector is the spatial mean of the grid (Keras's avg_pool); the grid went through float16.
  let worst = 0;
  for (let i = 0; i < 10; i++) {
    for (let c = 0; c < 2048; c += 97) {
      let m = 0;
      for (let k = 0; k < 4; k++) m += cache.grid![i * 4 * 2048 + k * 2048 + c] / 4;
      const p = cache.pooled[i * 2048 + c];
      worst = Math.max(worst, Math.abs(m - p) / (Math.abs(p) + 1e-2));
    }
  }
  t.true(worst < 2e-3, `worst ${worst}`);
  const r = record(join(features, 'run-record.json'));
  t.is(r.model.name, 'resnet50');
  t.is(r.model.weights.kind, 'random');
  t.is(r.model.encoder.weights, 'random');
  t.is(r.seed, 3);
  t.is(r.parameters.size, 64);
});

test.serial('mobilenet_v2 --weights imagenet from a Keras-layout file in the cache: its features, its sha256 in the index and the record', async (t) => {
  const file = cachedWeightsPath('mobilenet_v2:top');
  const model = buildMobileNetV2({ includeTop: true });
  const layout = kerasLayout(model, 'keras2');
  model.dispose();
  let s = 1;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  await writeKerasLayoutH5(file, layout, (l, i) => {
    const w = layout.find((x) => x.name === l)!.weights[i];
    const n = w.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const scale = w.role === 'kernel' || w.role === 'depthwise_kernel' ? Math.sqrt(3 / (w.shape.length === 4 ? w.shape[0] * w.shape[1] * (w.role === 'kernel' ? w.shape[2] : 1) : w.shape[0])) : 0.1;
    for (let j = 0; j < n; j++) v[j] = w.role === 'gamma' || w.role === 'moving_variance' ? 1 + 0.2 * rand() : scale * rand();
    return v;
  });
  const sha256 = 'ab'.repeat(32);
  const cacheRecord = { file: 'x', url: 'x', bytes: 1, md5: 'x', sha256, recordedAt: new Date(0).toISOString(), how: 'verify' };
  writeFileSync(`${file}.json`, JSON.stringify(cacheRecord));

  const features = join(dir, 'mnv2-imagenet');
  const run = await runExtract({ ...data, features, model: 'mobilenet_v2', weights: 'imagenet', size: 64 });
  t.is(run.spec.layer, 'out_relu');
  t.regex(run.spec.preprocessing!, /Keras 'tf' preprocessing \(scaled to \[-1, 1\]\)/);
  const index = readCacheIndex(features);
  t.like(index.weights, { kind: 'imagenet', variant: 'top', source: file, sha256 });
  t.like(record(join(features, 'run-record.json')).model.weights, { kind: 'imagenet', variant: 'top', sha256 });

  // The cached features are the registry's net on the same images, with [-1, 1] inputs (not nsfwjs's x / 255).
  const net = await loadModel('mobilenet_v2', { weights: 'imagenet', includeHead: false });
  t.is(net.weights.kind, 'imagenet');
  const images = await Promise.all(index.images.slice(0, 3).map((name) => loadEncoderImage(join(data.images, name), run.spec)));
  const want = tf.tidy(() => tf.mean(net.forward(net.preprocess(imagesToBatch(images)), { outputs: ['out_relu'] }).out_relu as Tensor4D, [1, 2]).dataSync());
  net.dispose();
  const cache = loadFeatureCache(features);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(cache.pooled[i] - want[i]) / (Math.abs(want[i]) + 1e-2));
  t.true(worst < 1e-4, `worst ${worst}`);
  const offline = await runExtract({ ...data, features: join(dir, 'mnv2-nsfwjs'), model: 'mobilenet_v2', size: 64 });
  t.is(readCacheIndex(offline.features).weights?.kind, 'nsfwjs');
  const other = loadFeatureCache(offline.features);
  t.true(other.pooled.slice(0, 1280).some((v, i) => Math.abs(v - cache.pooled[i]) > 1e-3));

  // Rerun: same weights resume (nothing left); other weights in the same folder are refused, never overwritten.
  const again = await runExtract({ ...data, features, model: 'mobilenet_v2', weights: 'imagenet', size: 64 });
  t.is(again.done, 10);
  writeFileSync(`${file}.json`, JSON.stringify({ ...cacheRecord, sha256: 'cd'.repeat(32) }));
  await t.throwsAsync(runExtract({ ...data, features, model: 'mobilenet_v2', weights: 'imagenet', size: 64 }), { message: /holds a feature cache made with other weights/ });
  await t.throwsAsync(runExtract({ ...data, features, model: 'mobilenet_v2', weights: 'random', size: 64 }), { message: /holds a feature cache made otherwise \(encoder convnet-mobilenet_v2-imagenet-out_relu-64x64-mean, not convnet-mobilenet_v2-random0-out_relu-64x64-mean\)/ });
  t.like(readCacheIndex(features).weights, { sha256 });
});
