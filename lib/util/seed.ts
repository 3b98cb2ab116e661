/**
 * Reproducible randomness. One process-wide stream seeded by `seedEverything`; every random
 * draw in lib (initialisers, data order, augmentation, anchor jitter) takes either an explicit
 * `Rng` or a seed from `nextSeed()`, so a run is a function of its seed.
 */
import seedrandom from 'seedrandom';

export interface Rng {
  /** Uniform in [0, 1). */
  (): number;
}

let globalSeed = 0;
let stream: seedrandom.PRNG = seedrandom('0');

/** Reset the process-wide stream. */
export function seedEverything(seed: number): void {
  globalSeed = seed;
  stream = seedrandom(String(seed));
}

export function currentSeed(): number {
  return globalSeed;
}

/** A fresh 31-bit seed drawn from the process-wide stream (for tf.random* `seed` arguments). */
export function nextSeed(): number {
  return Math.floor(stream() * 2147483647);
}

/** An independent generator; the same `seed` always gives the same sequence. */
export function makeRng(seed: number): Rng {
  const prng = seedrandom(String(seed));
  return () => prng();
}

/** Uniform in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Standard normal draw (Box-Muller). */
export function normal(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** In-place Fisher-Yates shuffle. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
