/**
 * End to end on the synthetic shapes dataset: features from the fixed random conv encoder, a small Show and
 * Tell decoder trained here, held-out BLEU-4 >= 0.5, and save -> load reproducing the captions exactly.
 * The random conv encoder (features.ts) is used instead of MobileNetV2 because it costs milliseconds
 * instead of a pretrained trunk's load and forward time, and its ReLU features keep the colour/size/
 * position information these scenes need.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '@convlab/core';
import {
  generateScenes,
  randomConvExtractor,
  buildVocabulary,
  tokenize,
  createDecoder,
  trainDecoder,
  captionRows,
  scoreCaptions,
  saveCaptionModel,
  loadCaptionModel,
  type EncoderSpec,
} from '../src/index.js';

test('synthetic scenes: captions follow the grammar and describe both objects', (t) => {
  const [s] = generateScenes(1, { seed: 5, size: 64 });
  t.is(s.image.width, 64);
  t.is(s.captions.length, 2);
  const [a, b] = s.objects;
  const rel = s.layout === 'horizontal' ? ['left of', 'right of'] : ['above', 'below'];
  t.is(s.captions[0], `a ${a.size} ${a.colour} ${a.shape} ${rel[0]} a ${b.size} ${b.colour} ${b.shape}`);
  t.is(s.captions[1], `a ${b.size} ${b.colour} ${b.shape} ${rel[1]} a ${a.size} ${a.colour} ${a.shape}`);
  // The left/upper object really is left of/above the other.
  t.true(s.layout === 'horizontal' ? a.x < b.x : a.y < b.y);
});

test('a small decoder trained on synthetic scenes reaches BLEU-4 >= 0.5 on held-out scenes; save -> load keeps captions', async (t) => {
  await initEngine({ log: false });
  const nTrain = 700;
  const scenes = generateScenes(nTrain + 100, { seed: 3, size: 64 });
  const spec: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [64, 64], pool: 'flatten', seed: 7 };
  const encoder = randomConvExtractor(spec);
  const parts: Float32Array[] = [];
  for (let i = 0; i < scenes.length; i += 100) parts.push((await encoder.extract(scenes.slice(i, i + 100).map((s) => s.image))).pooled);
  const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((o, p) => (data.set(p, o), o + p.length), 0);
  const features = { shape: [encoder.pooledDim], data };
  const vocab = buildVocabulary(scenes.slice(0, nTrain).flatMap((s) => s.captions.map(tokenize)), 1);
  const decoder = createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: encoder.pooledDim, embedDim: 64, hiddenDim: 128, dropout: 0.1, normalizeFeatures: true }, 1);
  const train = scenes.slice(0, nTrain).map((s, i) => ({ row: i, captions: s.captions.map((c) => vocab.encode(tokenize(c))) }));
  const heldOut = scenes.slice(nTrain).map((s, i) => ({ row: nTrain + i, references: s.captions }));
  await trainDecoder(decoder, { features, vocab, train, val: [] }, { epochs: EPOCHS, batchSize: 32, learningRate: 3e-3, seed: 1 });
  const rows = heldOut.map((h) => h.row);
  const captions = captionRows(decoder, vocab, features, rows, { beamSize: 3 });
  const scores = scoreCaptions(
    captions,
    heldOut.map((h) => h.references),
  );
  t.log(`held-out BLEU-4 ${scores['BLEU-4'].toFixed(3)}, CIDEr-D ${scores['CIDEr-D'].toFixed(3)}, distinct ${scores.distinct}/${scores.count}; e.g. "${captions[0]}"`);
  t.true(scores['BLEU-4'] >= 0.5, `BLEU-4 ${scores['BLEU-4']}`);

  const dir = mkdtempSync(join(tmpdir(), 'caption-model-'));
  try {
    await saveCaptionModel(join(dir, 'model'), { decoder, vocab, encoder: spec, maxLength: 20 });
    const loaded = loadCaptionModel(join(dir, 'model'));
    t.deepEqual(captionRows(loaded.decoder, loaded.vocab, features, rows, { beamSize: 3 }), captions);
    // float16 export (what the shipped model uses): nearly the same captions, same quality.
    await saveCaptionModel(join(dir, 'half'), { decoder, vocab, encoder: spec, maxLength: 20 }, { dtype: 'float16' });
    const half = loadCaptionModel(join(dir, 'half'));
    const halfCaps = captionRows(half.decoder, half.vocab, features, rows, { beamSize: 3 });
    const same = halfCaps.filter((c, i) => c === captions[i]).length;
    t.log(`float16 weights: ${same}/${captions.length} captions identical`);
    // Near-ties between words may flip; the quality must not change.
    const halfScores = scoreCaptions(
      halfCaps,
      heldOut.map((h) => h.references),
    );
    t.true(same >= 0.8 * captions.length, `float16: ${same}/${captions.length} identical`);
    t.true(Math.abs(halfScores['BLEU-4'] - scores['BLEU-4']) < 0.05);
    loaded.decoder.params.dispose();
    half.decoder.params.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    decoder.params.dispose();
    encoder.dispose();
  }
});

const EPOCHS = 8;

test('training is reproducible: the same seeds give the same weights, dropout included', async (t) => {
  await initEngine({ log: false });
  const scenes = generateScenes(60, { seed: 4, size: 32 });
  const spec: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [32, 32], pool: 'mean', seed: 7 };
  const encoder = randomConvExtractor(spec);
  const features = { shape: [encoder.pooledDim], data: (await encoder.extract(scenes.map((s) => s.image))).pooled };
  encoder.dispose();
  const vocab = buildVocabulary(scenes.flatMap((s) => s.captions.map(tokenize)), 1);
  const train = scenes.map((s, i) => ({ row: i, captions: s.captions.map((c) => vocab.encode(tokenize(c))) }));
  const run = async (seed: number) => {
    const decoder = createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: encoder.pooledDim, embedDim: 16, hiddenDim: 24, dropout: 0.5, normalizeFeatures: true }, seed);
    const { history } = await trainDecoder(decoder, { features, vocab, train, val: [] }, { epochs: 2, batchSize: 16, learningRate: 3e-3, seed });
    const weights = Array.from(decoder.params.get('out_w').dataSync());
    decoder.params.dispose();
    return { losses: history.map((h) => h.loss), weights };
  };
  const [a, b, c] = [await run(1), await run(1), await run(2)];
  t.deepEqual(a.losses, b.losses);
  t.deepEqual(a.weights, b.weights);
  t.notDeepEqual(a.weights, c.weights);
});
