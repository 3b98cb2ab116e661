/**
 * Seeds derived from a run seed and a purpose ("mnist-det/train", epoch 3, ...), so that every
 * random stream in the data layer is a function of (seed, purpose) and independent of the others:
 * drawing one more number for augmentation never changes the data order.
 */
import { Rng, makeRng } from '../util/seed';

/** FNV-1a over the parts' text, as a 31-bit non-negative integer. */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  const text = [String(seed), ...parts.map(String)].join('/');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

export function derivedRng(seed: number, ...parts: (string | number)[]): Rng {
  return makeRng(deriveSeed(seed, ...parts));
}
