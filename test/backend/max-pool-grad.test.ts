/**
 * MaxPoolGrad on wasm (lib/backend/wasm-kernels/max-pool-grad.ts): tfjs-backend-wasm's own kernel
 * is wrong for negative inputs. Checked on a hand-computed case and against the cpu backend.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '../../lib/backend/wasm-kernels';

before(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

async function poolGrad(
  backend: 'cpu' | 'wasm',
  xs: number[],
  shape: [number, number, number, number],
  weights: number[],
  k: number,
  s: number,
  pad: 'same' | 'valid',
): Promise<number[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(xs, shape);
    return tf.grad((a: tf.Tensor) => {
      const y = tf.maxPool(a as tf.Tensor4D, k, s, pad);
      return tf.sum(tf.mul(y, tf.tensor(weights.slice(0, y.size), y.shape)));
    })(x);
  });
  const v = Array.from(await out.data());
  out.dispose();
  await tf.setBackend('wasm');
  return v;
}

test('hand case: negative inputs, 2x2 stride 2 — the gradient goes to each window maximum', async () => {
  // 1 image, 4x4, 1 channel; window maxima at (0,1) = -1, (1,2) = -2, (2,0) = -0.5, (3,3) = -3.
  const x = [-4, -1, -9, -9, -5, -6, -2, -8, -0.5, -7, -9, -9, -8, -9, -9, -3];
  const dx = await poolGrad('wasm', x, [1, 4, 4, 1], [10, 20, 30, 40], 2, 2, 'valid');
  const want = new Array(16).fill(0);
  want[1] = 10;
  want[6] = 20;
  want[8] = 30;
  want[15] = 40;
  assert.deepEqual(dx, want);
});

test('wasm equals cpu: signed inputs, windows 2x2/s2 valid, 3x3/s2 same, 3x3/s1 same, odd sizes, batch and channels', async () => {
  const cases: { shape: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' }[] = [
    { shape: [2, 4, 4, 4], k: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 5, 3], k: 3, s: 2, pad: 'same' },
    { shape: [1, 6, 6, 2], k: 3, s: 1, pad: 'same' },
    { shape: [3, 9, 7, 5], k: 2, s: 2, pad: 'same' },
  ];
  for (const c of cases) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const xs = Array.from({ length: n }, (_, i) => Math.sin(1.7 * i) * 3);
    const w = Array.from({ length: n }, (_, i) => Math.cos(0.3 * i + 1));
    const cpu = await poolGrad('cpu', xs, c.shape, w, c.k, c.s, c.pad);
    const wasm = await poolGrad('wasm', xs, c.shape, w, c.k, c.s, c.pad);
    const diff = Math.max(...cpu.map((v, i) => Math.abs(v - wasm[i])));
    assert.ok(diff < 1e-6, `${JSON.stringify(c)}: max |wasm - cpu| = ${diff}`);
    assert.ok(cpu.some((v) => v !== 0));
  }
});

test('no tensor leaks', async () => {
  const before = tf.memory().numTensors;
  await poolGrad(
    'wasm',
    Array.from({ length: 32 }, (_, i) => -i),
    [1, 4, 4, 2],
    new Array(8).fill(1),
    2,
    2,
    'valid',
  );
  assert.equal(tf.memory().numTensors, before);
});
