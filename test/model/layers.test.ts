import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ParamStore, fnv1a } from '../../lib/model/params';
import { conv2dWith, createFrozenBatchNorm, createGroupNorm, groupNorm, maxPoolPadded, upsampleNearest2x } from '../../lib/model/layers';
import { GnCase, assertClose, gnReference64, gnRun, groupNormMomentsForm, maxRelDiff, pseudoRandom, useCpu, values } from './helpers';

before(useCpu);

test('upsampleNearest2x copies each pixel into a 2x2 block and crops to odd sizes', () => {
  // x[n, y, x, c] = 100 n + 10 y + x + 0.5 c
  const n = 2,
    h = 2,
    w = 3,
    c = 2;
  const data: number[] = [];
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data.push(100 * b + 10 * y + x + 0.5 * k);
  const t = tf.tensor4d(data, [n, h, w, c]);
  const up = upsampleNearest2x(t);
  assert.deepEqual(up.shape, [2, 4, 6, 2]);
  const u = up.arraySync() as number[][][][];
  for (let b = 0; b < n; b++)
    for (let y = 0; y < 2 * h; y++)
      for (let x = 0; x < 2 * w; x++) for (let k = 0; k < c; k++) assert.equal(u[b][y][x][k], 100 * b + 10 * Math.floor(y / 2) + Math.floor(x / 2) + 0.5 * k);
  const cropped = upsampleNearest2x(t, 3, 5);
  assert.deepEqual(cropped.shape, [2, 3, 5, 2]);
  assert.deepEqual(cropped.arraySync(), up.slice([0, 0, 0, 0], [2, 3, 5, 2]).arraySync());
  tf.dispose([t, up, cropped]);
});

test('upsampleNearest2x gradient sums each 2x2 block (batch 2, where cpu resize gradients fail)', () => {
  const x = tf.tensor4d(pseudoRandom(2 * 3 * 2 * 1, 1), [2, 3, 2, 1]);
  const g = pseudoRandom(2 * 6 * 4 * 1, 2);
  const gT = tf.tensor4d(g, [2, 6, 4, 1]);
  const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(v as tf.Tensor4D), gT)))(x);
  const expected: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let y = 0; y < 3; y++)
      for (let xx = 0; xx < 2; xx++) {
        let s = 0;
        for (let dy = 0; dy < 2; dy++) for (let dxx = 0; dxx < 2; dxx++) s += g[(b * 6 + 2 * y + dy) * 4 + 2 * xx + dxx];
        expected.push(s);
      }
  assertClose(values(dx), expected, 1e-6, 0, 'upsample grad');
  tf.dispose([x, gT, dx]);
});

test('GroupNorm normalises per image and group, then applies gamma and beta', () => {
  const store = new ParamStore(0);
  const gn = createGroupNorm(store, 'gn', 4, 2);
  store.get('gn.weight').assign(tf.tensor1d([1, 2, 3, 4]));
  store.get('gn.bias').assign(tf.tensor1d([0, 1, 0, -1]));
  const n = 2,
    h = 2,
    w = 3,
    c = 4;
  const data = pseudoRandom(n * h * w * c, 3, -2, 2);
  const y = values(gn.apply(tf.tensor4d(data, [n, h, w, c])));
  const gamma = [1, 2, 3, 4];
  const beta = [0, 1, 0, -1];
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < 2; g++) {
      const idx: number[] = [];
      for (let p = 0; p < h * w; p++) for (let k = 2 * g; k < 2 * g + 2; k++) idx.push((b * h * w + p) * c + k);
      const mean = idx.reduce((s, i) => s + data[i], 0) / idx.length;
      const variance = idx.reduce((s, i) => s + (data[i] - mean) ** 2, 0) / idx.length;
      for (const i of idx) {
        const k = i % c;
        const want = ((data[i] - mean) / Math.sqrt(variance + 1e-5)) * gamma[k] + beta[k];
        assert.ok(Math.abs(y[i] - want) < 1e-5, `gn at ${i}: ${y[i]} vs ${want}`);
      }
    }
  }
  store.dispose();
});

test('frozen BN is the affine map of its statistics and has no trainable parameters', () => {
  const store = new ParamStore(0);
  const bn = createFrozenBatchNorm(store, 'bn', 2);
  store.get('bn.weight').assign(tf.tensor1d([2, 0.5]));
  store.get('bn.bias').assign(tf.tensor1d([1, -1]));
  store.get('bn.running_mean').assign(tf.tensor1d([3, -2]));
  store.get('bn.running_var').assign(tf.tensor1d([4, 0.25]));
  const y = values(bn.apply(tf.tensor4d([5, 0, 1, 2], [1, 1, 2, 2])));
  const f = (x: number, k: number) => ([2, 0.5][k] * (x - [3, -2][k])) / Math.sqrt([4, 0.25][k] + 1e-5) + [1, -1][k];
  assertClose(y, [f(5, 0), f(0, 1), f(1, 0), f(2, 1)], 1e-6);
  assert.equal(store.trainableVariables().length, 0);
  store.dispose();
});

test('symmetric padding (PyTorch) vs TF same padding differ at stride 2 on even sizes, as documented', () => {
  // A 3x3 averaging-like kernel that reads the centre tap only shows where windows are centred.
  const k = new Float32Array(9);
  k[4] = 1;
  const kernel = tf.tensor4d(k, [3, 3, 1, 1]);
  const x = tf.tensor4d([...Array(16).keys()], [1, 4, 4, 1]);
  // PyTorch padding=1, stride 2 on 4x4: centres at rows/cols 0 and 2.
  assert.deepEqual(Array.from(values(conv2dWith(x, kernel, undefined, 2, 1))), [0, 2, 8, 10]);
  // TF 'same' puts the extra padding at the bottom/right: centres at 1 and 3.
  assert.deepEqual(Array.from(values(conv2dWith(x, kernel, undefined, 2, 'same'))), [5, 7, 13, 15]);
  // Both give ceil(n / 2) outputs on odd sizes too.
  const x5 = tf.zeros([1, 5, 7, 1]) as tf.Tensor4D;
  assert.deepEqual(conv2dWith(x5, kernel, undefined, 2, 1).shape, [1, 3, 4, 1]);
  assert.deepEqual(maxPoolPadded(x5, 3, 2, 1).shape, [1, 3, 4, 1]);
  tf.dispose([kernel, x, x5]);
});

test('parameter init seeds depend on the name, not on creation order', () => {
  const a = new ParamStore(7);
  a.add('first', [5], { kind: 'normal', std: 1 });
  const va = a.add('second', [5], { kind: 'normal', std: 1 });
  const b = new ParamStore(7);
  const vb = b.add('second', [5], { kind: 'normal', std: 1 });
  assert.deepEqual(Array.from(values(va)), Array.from(values(vb)));
  const c = new ParamStore(8);
  const vc = c.add('second', [5], { kind: 'normal', std: 1 });
  assert.notDeepEqual(Array.from(values(vc)), Array.from(values(vb)));
  assert.equal(fnv1a('a'), 0xe40c292c); // FNV-1a 32-bit reference value
  assert.throws(() => a.add('first', [1], { kind: 'zeros' }), /registered twice/);
  [a, b, c].forEach((s) => s.dispose());
});

const GN_CASES: GnCase[] = [
  { shape: [2, 6, 5, 16], groups: 8, offset: 0.2, spread: 2, channelSpread: 0.5 },
  { shape: [3, 4, 4, 24], groups: 8, offset: -0.3, spread: 1, channelSpread: 1 },
  { shape: [2, 3, 7, 6], groups: 3, offset: 1, spread: 3, channelSpread: 2 },
  { shape: [2, 5, 4, 8], groups: 8, offset: 0, spread: 1, channelSpread: 0.3 }, // one channel per group
  { shape: [2, 5, 4, 8], groups: 1, offset: 0, spread: 1, channelSpread: 0.3 }, // one group (LayerNorm-like)
];

test('groupNorm equals the moments(reshape(x, [N, HW, G, C/G])) form: output and gradients for x, gamma, beta', () => {
  GN_CASES.forEach((k, i) => {
    const seed = 100 + 10 * i;
    const got = gnRun(groupNorm, k, seed);
    const want = gnRun(groupNormMomentsForm, k, seed);
    const ref = gnReference64(k, seed);
    for (const key of ['y', 'dx', 'dGamma', 'dBeta'] as const) {
      const what = `${k.shape.join('x')} G=${k.groups} ${key}`;
      assertClose(got[key], want[key], 0, 1e-5, what);
      // Both float32 forms are within 1e-5 of the float64 value (relative to the largest entry).
      assert.ok(maxRelDiff(got[key], ref[key]) < 1e-5, `${what}: ${maxRelDiff(got[key], ref[key])} from float64`);
    }
  });
});

test('groupNorm on badly scaled inputs (mean 100, std 0.01; channel offsets 1e3) stays at float32 precision', () => {
  // At 100 one float32 ulp is 7.6e-6, ~1e-3 of the std, and a float32 mean is rounded by up to
  // half that: the moments form centres on that rounded mean and is off by up to ~1.6e-4 of the
  // largest entry (measured: y 1.6e-4, dx 2.5e-5, dGamma 1.5e-4 in case 0). groupNorm corrects
  // the rounding (exact residual means of the centred values) and stays at float32 precision
  // (measured <= 1.5e-7) against float64 on the same float32 input; the two implementations
  // then agree to the moments form's own error, < 5e-4. E[x^2] - E[x]^2 would lose the variance
  // entirely here (1e4 vs 1e-4).
  const cases: GnCase[] = [
    { shape: [2, 8, 8, 16], groups: 8, offset: 100, spread: 0.0173, channelSpread: 0 },
    { shape: [2, 8, 8, 16], groups: 4, offset: 0, spread: 1, channelSpread: 1000 },
    { shape: [2, 8, 8, 16], groups: 4, offset: -50, spread: 0.02, channelSpread: 0.01 },
  ];
  cases.forEach((k, i) => {
    const seed = 300 + 10 * i;
    const got = gnRun(groupNorm, k, seed);
    const old = gnRun(groupNormMomentsForm, k, seed);
    const ref = gnReference64(k, seed);
    for (const key of ['y', 'dx', 'dGamma', 'dBeta'] as const) {
      const eNew = maxRelDiff(got[key], ref[key]);
      const eOld = maxRelDiff(old[key], ref[key]);
      const what = `case ${i} ${key}: groupNorm ${eNew.toExponential(2)}, moments form ${eOld.toExponential(2)} from float64`;
      assert.ok(eNew <= 1e-6, what);
      assert.ok(maxRelDiff(got[key], old[key]) < 5e-4, what);
    }
  });
});

test('conv2dWith: numeric padding passed to the conv equals tf.pad + valid exactly, outputs and gradients', () => {
  // [input HxW, kernel, stride, pad]: stride 2 even/odd sizes, the ResNet stem (7x7 s2 p3), a 1x1
  // s2 downsample (pad 0), and a stride-1 padding that is not TF 'same'.
  const cases: [number, number, number, number, number][] = [
    [8, 8, 3, 2, 1],
    [7, 9, 3, 2, 1],
    [11, 10, 7, 2, 3],
    [6, 7, 1, 2, 0],
    [5, 6, 3, 1, 2],
  ];
  cases.forEach(([h, w, k, stride, pad], i) => {
    for (const relu of [false, true]) {
      const x = tf.tensor4d(pseudoRandom(2 * h * w * 3, 500 + i), [2, h, w, 3]);
      const kernel = tf.tensor4d(pseudoRandom(k * k * 3 * 4, 600 + i), [k, k, 3, 4]);
      const bias = tf.tensor1d(pseudoRandom(4, 700 + i));
      const explicit = (a: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D) =>
        tf.fused.conv2d({
          x: tf.pad(a, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ]),
          filter: f,
          strides: stride,
          pad: 'valid',
          bias: b,
          activation: relu ? 'relu' : 'linear',
        });
      const outH = Math.floor((h + 2 * pad - k) / stride) + 1;
      const outW = Math.floor((w + 2 * pad - k) / stride) + 1;
      const dy = tf.tensor4d(pseudoRandom(2 * outH * outW * 4, 800 + i), [2, outH, outW, 4]);
      const loss = (fn: typeof explicit) => (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(fn(a as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D), dy));
      const mine = (a: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D) => conv2dWith(a, f, b, stride, pad, relu);
      const y = mine(x, kernel, bias);
      assert.deepEqual(y.shape, [2, outH, outW, 4]);
      assert.deepEqual(values(y), values(explicit(x, kernel, bias)), `case ${i} forward`);
      const g1 = tf.grads(loss(mine))([x, kernel, bias]);
      const g2 = tf.grads(loss(explicit))([x, kernel, bias]);
      g1.forEach((g, j) => assert.deepEqual(values(g), values(g2[j]), `case ${i} relu=${relu} gradient ${['x', 'kernel', 'bias'][j]}`));
      tf.dispose([x, kernel, bias, dy, y, ...g1, ...g2]);
    }
  });
});
