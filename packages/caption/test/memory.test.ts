/** The training memory estimate (memory.ts): parameter counts as allocated, and what a refusal names. */
import test from 'ava';
import { ConvlabError } from '@convlab/core';
import { checkTrainingMemory, createDecoder, decoderParamCount, estimateTrainingMemory, type DecoderConfig } from '../src/index.js';

const FLICKR8K_ATTENTION = { kind: 'show-attend-tell' as const, images: 8000, pooledDim: 768, gridShape: [9, 9, 768] as [number, number, number], vocabSize: 2542, embedDim: 256, hiddenDim: 256, attentionDim: 256, batchSize: 64, maxLength: 16 };

test('decoderParamCount is what the decoders allocate', (t) => {
  const configs: DecoderConfig[] = [
    { kind: 'show-tell', vocabSize: 37, featureDim: 21, embedDim: 5, hiddenDim: 7, dropout: 0, normalizeFeatures: true },
    { kind: 'show-tell', vocabSize: 37, featureDim: 21, embedDim: 5, hiddenDim: 7, dropout: 0 },
    { kind: 'show-attend-tell', vocabSize: 37, featureDim: 21, gridSize: 9, embedDim: 5, hiddenDim: 7, attentionDim: 3, dropout: 0, normalizeFeatures: true },
  ];
  for (const c of configs) {
    const d = createDecoder(c, 1);
    t.is(decoderParamCount(c), d.params.count(), c.kind);
    d.params.dispose();
  }
});

test('training memory estimate: the shipped attention recipe fits a few GB, dominated by the feature table; a huge --batch is refused naming --batch', (t) => {
  const est = estimateTrainingMemory(FLICKR8K_ATTENTION);
  // 8000 x (81 x 768 grid + 2 x 768 pooled) float32 = 2.04 GB of features.
  t.is(est.parts.features, 4 * 8000 * (81 * 768 + 2 * 768));
  t.is(est.dominant, 'features');
  t.true(est.bytes > 2.5e9 && est.bytes < 4e9, `${est.bytes}`);
  t.notThrows(() => checkTrainingMemory(est, 'xe', 8e9));
  const huge = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, batchSize: 100_000 });
  t.is(huge.dominant, 'activations');
  const err = t.throws(() => checkTrainingMemory(huge, 'xe', 8e9), { instanceOf: ConvlabError });
  t.regex(err!.message, /^training \(about .* GB .*\) needs about .* GB of memory, more than the 8\.0 GB available$/);
  t.regex(err!.hint!, /lower --batch/);
  const scst = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, batchSize: 20_000, samples: 5 });
  t.regex(t.throws<ConvlabError>(() => checkTrainingMemory(scst, 'scst', 8e9))!.hint ?? '', /--batch or --samples/);
  const features = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, images: 200_000 });
  t.regex(t.throws<ConvlabError>(() => checkTrainingMemory(features, 'xe', 8e9))!.hint ?? '', /--grid-pool/);
  // Show and Tell on pooled vectors is small.
  const st = estimateTrainingMemory({ ...FLICKR8K_ATTENTION, kind: 'show-tell' });
  t.true(st.bytes < 1e9, `${st.bytes}`);
});
