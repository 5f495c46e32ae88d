import test from 'ava';
import { tf, initEngine } from '@convlab/core';
import type { Tensor } from '@convlab/core';
import { beamSearch, greedyDecode, decoderModel, createDecoder, EnsembleDecoder, gatherBlocks, type SequenceModel } from '../src/index.js';

test.before(async () => {
  await initEngine({ backend: 'cpu', log: false });
});

// Toy bigram model over ids 0 pad, 1 start, 2 end, 3 A, 4 B; the state is the last token.
const P: Record<number, Record<number, number>> = {
  1: { 3: 0.5, 4: 0.4, 2: 0.1 }, // after <start>: A .5, B .4, <end> .1
  3: { 3: 0.35, 4: 0.35, 2: 0.3 }, // after A
  4: { 2: 0.9, 3: 0.05, 4: 0.05 }, // after B
};
const toy: SequenceModel<number[]> = {
  step(_state, tokens) {
    return {
      logprobs: tokens.map((tok) => Float32Array.from([0, 1, 2, 3, 4], (w) => Math.log(P[tok][w] ?? 1e-12))),
      state: tokens,
    };
  },
  reorder(state, rows) {
    return rows.map((r) => state[r]);
  },
};

test('toy model: beam search finds the most probable caption where greedy does not', (t) => {
  // Complete captions (max 2 words): [B] .4 * .9 = .36 is best; [A] .5 * .3 = .15; [] .1; [A A] .5*.35*.3 = .0525.
  // Greedy takes A (.5) first and can no longer reach [B].
  const greedy = greedyDecode(toy, [1], 1, { maxLength: 2 });
  t.deepEqual(greedy[0], [3, 3]);
  const best = beamSearch(toy, [1], { beamSize: 2, maxLength: 2 });
  t.deepEqual(best[0].tokens, [4]);
  t.true(Math.abs(best[0].logprob - Math.log(0.36)) < 1e-5);
  // Step 2 keeps [B <end>] (.36, finished) and [A A] (.175) over [A <end>] (.15): only 2 slots. [A A] then
  // must end at the length limit: .0525.
  t.deepEqual(best[1].tokens, [3, 3]);
  t.true(Math.abs(best[1].logprob - Math.log(0.0525)) < 1e-5);
});

test('beam size 1 equals greedy decoding on a random decoder', (t) => {
  const dec = createDecoder({ kind: 'show-tell', vocabSize: 30, featureDim: 12, embedDim: 8, hiddenDim: 16, dropout: 0 }, 3);
  const feats = tf.randomNormal([6, 12], 0, 3, 'float32', 11);
  const model = decoderModel(dec);
  const greedy = greedyDecode(model, dec.init(feats), 6, { maxLength: 12 });
  for (let i = 0; i < 6; i++) {
    const one = tf.slice(feats, [i, 0], [1, 12]);
    const beam = beamSearch(model, dec.init(one), { beamSize: 1, maxLength: 12 });
    one.dispose();
    t.deepEqual(beam[0].tokens, greedy[i], `image ${i}`);
  }
  t.true(new Set(greedy.map((g) => g.join(','))).size > 1, 'captions differ across images');
});

test('beam search on an attention decoder returns one attention map per word and <end>', (t) => {
  const dec = createDecoder({ kind: 'show-attend-tell', vocabSize: 20, featureDim: 6, gridSize: 4, embedDim: 8, hiddenDim: 8, dropout: 0 }, 2);
  const before = tf.memory().numTensors;
  const feats = tf.randomNormal([1, 4, 6], 0, 1, 'float32', 3);
  const hyps = beamSearch(decoderModel(dec), dec.init(feats), { beamSize: 3, maxLength: 6 });
  feats.dispose();
  const best = hyps[0];
  t.is(best.attention!.length, best.tokens.length + 1);
  for (const a of best.attention!) t.true(Math.abs(a.reduce((x, y) => x + y, 0) - 1) < 1e-4);
  t.is(tf.memory().numTensors, before, 'no tensors leak');
});

test('attention decoder: gather reorders every part of its state (annProjT is location-major), alone and in an ensemble', (t) => {
  const dec = createDecoder({ kind: 'show-attend-tell', vocabSize: 20, featureDim: 6, gridSize: 4, embedDim: 8, hiddenDim: 8, dropout: 0 }, 2);
  const ens = new EnsembleDecoder([dec, createDecoder({ kind: 'show-attend-tell', vocabSize: 20, featureDim: 6, gridSize: 4, embedDim: 8, hiddenDim: 8, dropout: 0 }, 3)], { shared: true });
  const before = tf.memory().numTensors;
  const feats = tf.randomNormal([2, 4, 6], 0, 1, 'float32', 4);
  const rows = tf.tensor1d([1, 0, 1], 'int32');
  const reordered = tf.gather(feats, rows);
  const tokens = tf.tensor1d([1, 5, 7], 'int32');
  for (const [name, d] of [['single', dec], ['ensemble', ens]] as const) {
    const s0 = d.init(feats);
    const gathered = d.gather(s0, rows);
    const direct = d.init(reordered);
    const [a, b] = [d.step(gathered, tokens), d.step(direct, tokens)];
    const worst = (x: Tensor, y: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]);
    t.true(worst(a.logprobs, b.logprobs) < 1e-5, `${name}: log-probabilities`);
    if (a.alpha) t.true(worst(a.alpha, b.alpha!) < 1e-6, `${name}: attention`);
    tf.dispose([...Object.values(s0), ...Object.values(gathered), ...Object.values(direct), a.logprobs, b.logprobs, ...Object.values(a.state), ...Object.values(b.state), ...(a.alpha ? [a.alpha, b.alpha!] : [])]);
  }
  tf.dispose([feats, rows, reordered, tokens]);
  t.is(tf.memory().numTensors, before, 'no tensors leak');
  ens.params.dispose();
});

test('trigram blocking and length penalty options', (t) => {
  // A model that loves "A B A B ...": with blocking, "A B A" may appear but "A B A B" repeats the trigram "A B A"? no:
  // trigrams of A B A B are (A B A), (B A B): distinct; A B A B A repeats (A B A) and is blocked.
  const loop: SequenceModel<number[]> = {
    step: (_s, tokens) => ({ logprobs: tokens.map((tok) => Float32Array.from([0, 1, 2, 3, 4], (w) => Math.log(w === (tok === 3 ? 4 : 3) ? 0.9 : w === 2 ? 0.001 : 0.03))), state: tokens }),
    reorder: (s, rows) => rows.map((r) => s[r]),
  };
  const free = beamSearch(loop, [1], { beamSize: 2, maxLength: 6 })[0].tokens;
  const blocked = beamSearch(loop, [1], { beamSize: 2, maxLength: 6, blockRepeatedTrigrams: true })[0].tokens;
  t.deepEqual(free, [3, 4, 3, 4, 3, 4]);
  const tri = new Set<string>();
  for (let i = 0; i + 2 < blocked.length; i++) {
    const k = blocked.slice(i, i + 3).join(',');
    t.false(tri.has(k));
    tri.add(k);
  }
  const short = beamSearch(loop, [1], { beamSize: 3, maxLength: 6, lengthPenalty: 0 });
  const long = beamSearch(loop, [1], { beamSize: 3, maxLength: 6, lengthPenalty: 1 });
  t.true(long[0].tokens.length >= short[0].tokens.length);
});

test('ensemble decoding: members read their own feature columns; step log-probs are the log of the mean probability', (t) => {
  const a = createDecoder({ kind: 'show-tell', vocabSize: 30, featureDim: 12, embedDim: 8, hiddenDim: 16, dropout: 0 }, 3);
  const b = createDecoder({ kind: 'show-tell', vocabSize: 30, featureDim: 5, embedDim: 8, hiddenDim: 16, dropout: 0 }, 4);
  const ens = new EnsembleDecoder([a, b]);
  t.is(ens.config.featureDim, 17);
  const fa = tf.randomNormal([4, 12], 0, 3, 'float32', 1);
  const fb = tf.randomNormal([4, 5], 0, 3, 'float32', 2);
  const tokens = tf.tensor1d([1, 1, 1, 1], 'int32');
  const sa = a.step(a.init(fa), tokens);
  const sb = b.step(b.init(fb), tokens);
  const both = tf.concat([fa, fb], 1);
  const se = ens.step(ens.init(both), tokens);
  const want = tf.log(tf.div(tf.add(tf.exp(sa.logprobs), tf.exp(sb.logprobs)), 2));
  t.true(tf.max(tf.abs(tf.sub(se.logprobs, want))).dataSync()[0] < 1e-5);
  // Beam search runs on the ensemble like on any decoder, and a one-member ensemble is that member.
  const one = new EnsembleDecoder([a]);
  const row = tf.slice(fa, [0, 0], [1, 12]);
  t.deepEqual(beamSearch(decoderModel(one), one.init(row), { beamSize: 3 })[0].tokens, beamSearch(decoderModel(a), a.init(row), { beamSize: 3 })[0].tokens);
  t.true(beamSearch(decoderModel(ens), ens.init(tf.slice(both, [0, 0], [1, 17])), { beamSize: 3 }).length > 0);
  // An attention member reads its flattened L x D grid from the same row, after the show-tell member's vector.
  const att = createDecoder({ kind: 'show-attend-tell', vocabSize: 30, featureDim: 6, gridSize: 4, embedDim: 8, hiddenDim: 16, attentionDim: 8, dropout: 0 }, 6);
  const grid = tf.randomNormal([4, 4, 6], 0, 1, 'float32', 3);
  const mixed = new EnsembleDecoder([a, att]);
  t.is(mixed.config.featureDim, 12 + 24);
  const sAtt = att.step(att.init(grid), tokens);
  const mixedRow = tf.concat([fa, tf.reshape(grid, [4, 24])], 1);
  const sMixed = mixed.step(mixed.init(mixedRow), tokens);
  const wantMixed = tf.log(tf.div(tf.add(tf.exp(sa.logprobs), tf.exp(sAtt.logprobs)), 2));
  t.true(tf.max(tf.abs(tf.sub(sMixed.logprobs, wantMixed))).dataSync()[0] < 1e-5, 'show-tell + attention ensemble');
  t.throws(() => new EnsembleDecoder([a, att], { shared: true }), { message: /same kind of decoder/ });
  tf.dispose([grid, mixedRow, sAtt.logprobs, sMixed.logprobs, wantMixed]);
  t.throws(() => new EnsembleDecoder([a, createDecoder({ kind: 'show-tell', vocabSize: 31, featureDim: 5, embedDim: 8, hiddenDim: 16, dropout: 0 }, 5)]), { message: /share a vocabulary/ });
  tf.dispose([fa, fb, tokens, both, row, want, sa.logprobs, sb.logprobs, se.logprobs]);
});

test('gatherBlocks equals tf.gather on any axis (float32 and int32) and rejects rows out of range', (t) => {
  const x = tf.randomNormal([4, 5, 3], 0, 1, 'float32', 9);
  const ids = tf.tensor3d(Int32Array.from({ length: 60 }, (_, i) => i), [4, 5, 3], 'int32');
  for (const [tensor, axis, rows] of [[x, 0, [3, 0, 3]], [x, 1, [4, 4, 1, 0]], [x, 2, [2]], [ids, 1, [0, 2]]] as const) {
    const got = gatherBlocks(tensor, rows, axis);
    const want = tf.gather(tensor, tf.tensor1d(rows as unknown as number[], 'int32'), axis);
    t.deepEqual(got.shape, want.shape);
    t.is(got.dtype, tensor.dtype);
    t.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()));
    tf.dispose([got, want]);
  }
  t.throws(() => gatherBlocks(x, [5]), { instanceOf: RangeError, message: /row 5 is outside \[0, 4\)/ });
  tf.dispose([x, ids]);
});
