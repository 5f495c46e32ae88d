import test from 'ava';
import { toFloat16, fromFloat16 } from '../src/float16.js';

test('float16 round trip: exact for representable values, relative error <= 2^-11 otherwise', (t) => {
  const exact = Float32Array.from([0, 1, -2, 0.5, 65504, -0.000061035156, 1025, 0.333251953125]);
  t.deepEqual(Array.from(fromFloat16(toFloat16(exact))), Array.from(exact));
  const xs = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
  const back = fromFloat16(toFloat16(xs));
  for (let i = 0; i < xs.length; i++) {
    if (Math.abs(xs[i]) < 6.2e-5) continue; // subnormal range: absolute error instead
    t.true(Math.abs(back[i] - xs[i]) <= Math.abs(xs[i]) * 2 ** -11 + 1e-12, `${xs[i]} -> ${back[i]}`);
  }
  t.is(fromFloat16(toFloat16(Float32Array.from([1e6])))[0], Infinity);
  t.true(Number.isNaN(fromFloat16(toFloat16(Float32Array.from([NaN])))[0]));
});
