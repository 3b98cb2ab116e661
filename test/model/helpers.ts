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
    // A MetaAnchor model detects in its Eq. 7 frame (ModelConfig.standardBoxP3); the trainer sets it.
    ...(overrides.method === 'metaanchor' ? { standardBoxP3: { heightPx: 32, widthPx: 32 } } : {}),
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

/** max |a - b| / max |b|. */
export function maxRelDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    d = Math.max(d, Math.abs(actual[i] - expected[i]));
    m = Math.max(m, Math.abs(expected[i]));
  }
  return m > 0 ? d / m : d;
}

/**
 * GroupNorm in its textbook tfjs form (the project's implementation until it was rewritten for
 * wasm speed): moments over axes [1, 3] of x reshaped to [N, HW, G, C/G], gradients by autodiff.
 * The reference the current `groupNorm` is tested against.
 */
export function groupNormMomentsForm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
    const { mean, variance } = tf.moments(xg, [1, 3], true);
    const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(tf.reshape(y, [n, h, w, c]), gamma), beta) as tf.Tensor4D;
  });
}

/**
 * GroupNorm of NHWC `x` in float64 loops (two-pass moments), and the gradients of sum(y * dy)
 * for x, gamma and beta from the textbook formula dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
 */
export function groupNormFloat64(
  x: ArrayLike<number>,
  shape: [number, number, number, number],
  groups: number,
  eps: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  dy: ArrayLike<number>,
): { y: Float64Array; dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const [n, h, w, c] = shape;
  const cg = c / groups;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dGamma = new Float64Array(c);
  const dBeta = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let p = 0; p < h * w; p++) for (let k = g * cg; k < (g + 1) * cg; k++) idx.push((b * h * w + p) * c + k);
      const mean = idx.reduce((s, i) => s + x[i], 0) / idx.length;
      const variance = idx.reduce((s, i) => s + (x[i] - mean) ** 2, 0) / idx.length;
      const r = 1 / Math.sqrt(variance + eps);
      let meanD = 0;
      let meanDX = 0;
      for (const i of idx) {
        const k = i % c;
        const xhat = (x[i] - mean) * r;
        y[i] = xhat * gamma[k] + beta[k];
        dGamma[k] += dy[i] * xhat;
        dBeta[k] += dy[i];
        meanD += (dy[i] * gamma[k]) / idx.length;
        meanDX += (dy[i] * gamma[k] * xhat) / idx.length;
      }
      for (const i of idx) dx[i] = r * (dy[i] * gamma[i % c] - meanD - (x[i] - mean) * r * meanDX);
    }
  }
  return { y, dx, dGamma, dBeta };
}

type GroupNormFn = (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number) => tf.Tensor4D;

/** x = offset + spread * u, u uniform in [-1, 1), plus a per-channel offset of `channelSpread` * v. */
export function gnInput(shape: [number, number, number, number], seed: number, offset: number, spread: number, channelSpread: number): Float32Array {
  const [n, h, w, c] = shape;
  const u = pseudoRandom(n * h * w * c, seed);
  const v = pseudoRandom(c, seed + 1);
  return u.map((ui, i) => offset + spread * ui + channelSpread * v[i % c]);
}

export interface GnCase {
  shape: [number, number, number, number];
  groups: number;
  offset: number;
  spread: number;
  channelSpread: number;
}

/** Forward and gradients (x, gamma, beta) of sum(gn(x) * dy) for one implementation, on the current backend. */
export function gnRun(fn: GroupNormFn, k: GnCase, seed: number): { y: Float32Array; dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array } {
  const c = k.shape[3];
  const x = tf.tensor4d(gnInput(k.shape, seed, k.offset, k.spread, k.channelSpread), k.shape);
  const gamma = tf.tensor1d(pseudoRandom(c, seed + 2, 0.5, 1.5));
  const beta = tf.tensor1d(pseudoRandom(c, seed + 3, -0.5, 0.5));
  const dy = tf.tensor4d(pseudoRandom(x.size, seed + 4), k.shape);
  const y = fn(x, gamma, beta, k.groups, 1e-5);
  const [dx, dGamma, dBeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(fn(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, k.groups, 1e-5), dy)),
  )([x, gamma, beta]);
  const out = { y: values(y), dx: values(dx), dGamma: values(dGamma), dBeta: values(dBeta) };
  tf.dispose([x, gamma, beta, dy, y, dx, dGamma, dBeta]);
  return out;
}

export function gnReference64(k: GnCase, seed: number) {
  const c = k.shape[3];
  return groupNormFloat64(
    gnInput(k.shape, seed, k.offset, k.spread, k.channelSpread),
    k.shape,
    k.groups,
    1e-5,
    pseudoRandom(c, seed + 2, 0.5, 1.5),
    pseudoRandom(c, seed + 3, -0.5, 0.5),
    pseudoRandom(
      k.shape.reduce((p, q) => p * q, 1),
      seed + 4,
    ),
  );
}
