/** Shared pieces of the model tests: cpu backend, tiny configs, numeric comparison. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ModelConfig, modelConfig } from '../../lib/model/config';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** The smoke preset shrunk further: every path of the network, milliseconds per forward. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return modelConfig('smoke', {
    smallWidths: [4, 4, 8, 8, 8],
    gnGroups: 2,
    fpnChannels: 8,
    towerDepth: 1,
    towerWidth: 8,
    numClasses: 3,
    hiddenM: 4,
    numAnchors: 2,
    ...overrides,
  });
}

export const silent = { log: () => undefined };

/** max |a - b| <= atol + rtol * max |b|. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxDiff)) {
      maxDiff = d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  const tol = atol + rtol * maxRef;
  assert.ok(maxDiff <= tol, `${what}: max |diff| ${maxDiff} at ${at} (${actual[at]} vs ${expected[at]}) > ${tol}`);
}

export function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** Deterministic pseudo-random values in [lo, hi) (no tf randomness involved). */
export function pseudoRandom(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}
