import test from 'ava';
import { tf, opSeed } from '../src/index.js';

test('tfjs ignores seed 0 (draws from Math.random); opSeed(0) is reproducible', (t) => {
  const draw = (seed: number) => Array.from(tf.randomNormal([8], 0, 1, 'float32', seed).dataSync());
  t.notDeepEqual(draw(0), draw(0), 'the reason opSeed exists: a raw 0 is not a seed');
  t.deepEqual(draw(opSeed(0)), draw(opSeed(0)));
  t.deepEqual(draw(opSeed(3, 2)), draw(opSeed(3, 2)));
});

test('opSeed: nonzero and distinct across seeds and streams; bad seeds are refused', (t) => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 20; seed++) for (let stream = 0; stream < 50; stream++) seen.add(opSeed(seed, stream));
  t.is(seen.size, 1000);
  t.false(seen.has(0));
  t.throws(() => opSeed(-1), { message: /non-negative integer/ });
  t.throws(() => opSeed(1.5), { message: /non-negative integer/ });
});
