import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlabError, initEngine, saveImage, tf } from '@convlab/core';
import type { Tensor2D } from '@convlab/core';
import { captionImages, captionRows, createDecoder, EnsembleDecoder, loadCaptionModel, saveCaptionEnsemble, saveCaptionModel, resolveModelDir, DEFAULT_MODEL, SHIPPED_MODELS, Vocabulary, generateScenes, type EncoderSpec, type ShippedModel } from '../src/index.js';

const CONTENT = fileURLToPath(new URL('../../../assets/content/', import.meta.url));
const SPEC: EncoderSpec = { type: 'random-conv', layer: 'conv2', inputSize: [64, 64], pool: 'flatten', seed: 7 };

test.before(async () => {
  await initEngine({ log: false });
});

async function tinyModel(dir: string): Promise<void> {
  const vocab = new Vocabulary(['<pad>', '<start>', '<end>', '<unk>', 'a', 'shape']);
  const decoder = createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: 768, embedDim: 8, hiddenDim: 8, dropout: 0 }, 1);
  await saveCaptionModel(dir, { decoder, vocab, encoder: SPEC, maxLength: 5 });
  decoder.params.dispose();
}

for (const name of Object.keys(SHIPPED_MODELS) as ShippedModel[]) {
  test(`the shipped ${name} model captions the bundled sample photos, with different captions`, async (t) => {
    const dir = resolveModelDir(name);
    if (!existsSync(join(dir, 'config.json'))) {
      t.fail(`no shipped model in ${dir}`);
      return;
    }
    const images = readdirSync(CONTENT)
      .filter((f) => f.endsWith('.jpg'))
      .map((f) => join(CONTENT, f));
    const results = await captionImages({ images, beam: 3, model: name, attentionMaps: true });
    const model = loadCaptionModel(dir);
    t.is(model.config.decoder.kind, name);
    for (const r of results) {
      t.log(`${r.path.split('/').pop()}: ${r.caption}`);
      const words = r.caption.split(' ');
      t.true(words.length >= 3 && words.length <= 20, r.caption);
      for (const w of words) t.true(model.vocab.has(w), `${w} in vocabulary`);
      if (name === 'show-attend-tell') {
        t.is(r.attention!.words.length, words.length + 1, 'one map per word and <end>');
        for (const a of r.attention!.words) t.true(Math.abs(a.weights.reduce((x, y) => x + y, 0) - 1) < 1e-3);
      } else t.is(r.attention, undefined);
    }
    t.true(new Set(results.map((r) => r.caption)).size >= 3, 'captions differ across photos');
    model.decoder.params.dispose();
  });
}

test('predict on an unreadable image gives a ConvlabError naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'caption-err-'));
  try {
    await tinyModel(join(dir, 'model'));
    writeFileSync(join(dir, 'broken.jpg'), 'not a jpeg at all');
    const err = await t.throwsAsync(captionImages({ images: [join(dir, 'broken.jpg')], model: join(dir, 'model') }), { instanceOf: ConvlabError });
    t.regex(err!.message, /broken\.jpg/);
    await t.throwsAsync(captionImages({ images: [join(dir, 'nope.jpg')], model: join(dir, 'model') }), { instanceOf: ConvlabError, message: /not found/ });
    // A readable image works with the same model.
    await saveImage(generateScenes(1)[0].image, join(dir, 'ok.png'));
    const [r] = await captionImages({ images: [join(dir, 'ok.png')], model: join(dir, 'model'), beam: 2 });
    t.is(typeof r.caption, 'string');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing model files and a vocabulary mismatch give clear ConvlabErrors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'caption-err-'));
  try {
    const model = join(dir, 'model');
    await tinyModel(model);
    t.throws(() => loadCaptionModel(join(dir, 'absent')), { instanceOf: ConvlabError, message: /not found/ });
    for (const file of ['weights.bin', 'vocab.json', 'config.json']) {
      const broken = join(dir, `no-${file}`);
      mkdirSync(broken);
      for (const f of ['weights.bin', 'vocab.json', 'config.json']) if (f !== file) copyFileSync(join(model, f), join(broken, f));
      t.throws(() => loadCaptionModel(broken), { instanceOf: ConvlabError, message: new RegExp(`missing ${file.replace('.', '\\.')}`) });
    }
    const mismatch = join(dir, 'mismatch');
    mkdirSync(mismatch);
    for (const f of ['weights.bin', 'config.json']) copyFileSync(join(model, f), join(mismatch, f));
    const vocab = JSON.parse(readFileSync(join(model, 'vocab.json'), 'utf8'));
    vocab.words.push('extra');
    writeFileSync(join(mismatch, 'vocab.json'), JSON.stringify(vocab));
    t.throws(() => loadCaptionModel(mismatch), { instanceOf: ConvlabError, message: /vocabulary mismatch/ });
    // Weights of another shape (a config edited to a larger vocabulary): named weight and shapes in the message.
    const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    cfg.decoder.vocabSize += 1;
    writeFileSync(join(mismatch, 'config.json'), JSON.stringify(cfg));
    t.throws(() => loadCaptionModel(mismatch), { instanceOf: ConvlabError, message: /shape/ });
    // Truncated weights.
    const trunc = join(dir, 'trunc');
    mkdirSync(trunc);
    for (const f of ['vocab.json', 'config.json']) copyFileSync(join(model, f), join(trunc, f));
    writeFileSync(join(trunc, 'weights.bin'), readFileSync(join(model, 'weights.bin')).subarray(0, 100));
    t.throws(() => loadCaptionModel(trunc), { instanceOf: ConvlabError, message: /truncated/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an ensemble folder loads as one model: same captions as the members decoded together; mixed vocabularies refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'caption-ens-'));
  try {
    const vocab = new Vocabulary(['<pad>', '<start>', '<end>', '<unk>', 'a', 'red', 'blue', 'shape']);
    const make = (seed: number) => createDecoder({ kind: 'show-tell', vocabSize: vocab.size, featureDim: 768, embedDim: 8, hiddenDim: 8, dropout: 0 }, seed);
    const members = [make(1), make(2)];
    const models = members.map((decoder) => ({ decoder, vocab, config: { format: 'convlab-caption-model/1' as const, decoder: decoder.config, encoder: SPEC, maxLength: 6, weights: [] } }));
    await saveCaptionEnsemble(join(dir, 'ens'), models, { dtype: 'float32', decoding: { lengthPenalty: 0.5 } });
    const loaded = loadCaptionModel(join(dir, 'ens'));
    t.true(loaded.decoder instanceof EnsembleDecoder);
    t.deepEqual(loaded.config.decoding, { lengthPenalty: 0.5 }, 'the dev-chosen decoding default travels with the model');
    await saveCaptionModel(join(dir, 'one'), { decoder: members[0], vocab, encoder: SPEC, maxLength: 6, decoding: { lengthPenalty: 0.25 } });
    const one = loadCaptionModel(join(dir, 'one'));
    t.deepEqual(one.config.decoding, { lengthPenalty: 0.25 });
    one.decoder.params.dispose();
    t.is(loaded.decoder.params.count(), members[0].params.count() * 2);
    const feats = tf.randomNormal([3, 768], 0, 2, 'float32', 9) as Tensor2D;
    const rows = [0, 1, 2];
    const table = { shape: [768], data: feats.dataSync() as Float32Array };
    const want = captionRows(new EnsembleDecoder(members, { shared: true }), vocab, table, rows, { beamSize: 3, maxLength: 6 });
    t.deepEqual(captionRows(loaded.decoder, loaded.vocab, table, rows, { beamSize: 3, maxLength: 6 }), want);
    const other = new Vocabulary(['<pad>', '<start>', '<end>', '<unk>', 'a', 'red', 'green', 'shape']);
    await t.throwsAsync(saveCaptionEnsemble(join(dir, 'bad'), [models[0], { ...models[1], vocab: other }]), { instanceOf: ConvlabError, message: /another vocabulary/ });
    t.false(existsSync(join(dir, 'bad')), 'nothing written');
    loaded.decoder.params.dispose();
    feats.dispose();
    members.forEach((m) => m.params.dispose());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveModelDir: shipped names map to their folders, anything else is a folder, nothing is the default', (t) => {
  t.is(resolveModelDir('show-tell'), SHIPPED_MODELS['show-tell'].dir);
  t.is(resolveModelDir('show-attend-tell'), SHIPPED_MODELS['show-attend-tell'].dir);
  t.is(resolveModelDir(undefined), SHIPPED_MODELS[DEFAULT_MODEL].dir);
  t.is(resolveModelDir('runs/att/best'), 'runs/att/best');
});
