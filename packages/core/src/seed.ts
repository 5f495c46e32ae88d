/**
 * Seeds for tfjs's random ops. tfjs treats a seed of 0 as "no seed" and draws from Math.random(), so a user's
 * `--seed 0` (the usual default) would silently make noise, initial images and dropout irreproducible.
 * opSeed maps a user seed and a stream number (one per call site or per batch) to a distinct nonzero seed.
 */
export function opSeed(seed: number, stream = 0): number {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(stream) || stream < 0) throw new RangeError(`stream must be a non-negative integer, got ${stream}`);
  // Nonzero for every (seed, stream), and distinct while stream < 1e6.
  return seed * 1_000_003 + stream + 1;
}

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32): for the draws made in JavaScript (data order,
 * jitter shifts, initial weights), where tfjs's seeded ops do not apply. The same seed gives the same sequence
 * on every machine and backend.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
