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
