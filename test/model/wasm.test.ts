/**
 * The detector on the wasm backend (with the project's training kernels) against the cpu backend:
 * same outputs and same gradients for every parameter. Weights are identical on both backends
 * because initial values are drawn in JS from name-derived seeds.
 * Tolerance: 1e-4 of each tensor's largest magnitude (float32 differences compound through ~15
 * layers; the kernels alone agree to ~3e-7, see test/backend/wasm-kernels.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../lib/backend/wasm-kernels';
import { buildDetector } from '../../lib/model/detector';
import { detectionLoss } from '../../lib/model/losses';
import { ModelConfig } from '../../lib/model/config';
import { conv2dWith, groupNorm } from '../../lib/model/layers';
import { GnCase, assertClose, gnReference64, gnRun, groupNormMomentsForm, maxRelDiff, pseudoRandom, silent, tinyConfig, values } from './helpers';

interface Result {
  cls: Float32Array;
  box: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

function run(overrides: Partial<ModelConfig>, H: number, W: number): Result {
  const det = buildDetector(tinyConfig(overrides), { seed: 9, ...silent });
  const images = tf.tensor4d(pseudoRandom(2 * H * W * 3, 1, 0, 255), [2, H, W, 3]);
  const b =
    det.config.method === 'metaanchor'
      ? tf.tensor2d([
          [0.3, -0.1],
          [-0.5, 0.4],
        ])
      : undefined;
  const total = det.levelShapes(H, W).reduce((s, l) => s + l.heightCells * l.widthCells, 0) * 2;
  const labels = tf.tensor2d(
    new Int32Array(2 * total).map((_, i) => (i % 29 === 0 ? i % 3 : i % 31 === 0 ? -2 : -1)),
    [2, total],
    'int32',
  );
  const targets = tf.tensor3d(pseudoRandom(2 * total * 4, 2, -0.3, 0.3), [2, total, 4]);
  const out = det.forward(images, b);
  const { value, grads } = tf.variableGrads(() => detectionLoss(det.forward(images, b), labels, targets).total);
  const byName = new Map<string, Float32Array>();
  for (const [name, v] of det.store.entries()) if (v.trainable) byName.set(name, grads[v.name].dataSync() as Float32Array);
  const r: Result = { cls: out.clsLogits.dataSync() as Float32Array, box: out.boxDeltas.dataSync() as Float32Array, loss: value.dataSync()[0], grads: byName };
  tf.dispose([images, labels, targets, out.clsLogits, out.boxDeltas, value]);
  tf.dispose(grads);
  b?.dispose();
  det.dispose();
  return r;
}

const CASES: [string, Partial<ModelConfig>, number, number][] = [
  ['small backbone, baseline', { method: 'baseline', numAnchors: 2 }, 40, 56],
  ['small backbone, MetaAnchor data-dependent (direct)', { method: 'metaanchor', generator: 'dependent', w2InitStd: 0.01 }, 40, 56],
  ['small backbone, MetaAnchor data-independent (basis)', { method: 'metaanchor', convMode: 'basis', w2InitStd: 0.01 }, 40, 56],
  // Stages up to layer3 frozen (keeps the cpu reference fast); layer4 trains: strided conv with
  // PyTorch padding, downsample branch, frozen BN.
  [
    'ResNet-18 with frozen BN and frozen stages',
    { method: 'metaanchor', backbone: 'resnet18', backboneNorm: 'frozen-bn', freezeAt: 4, w2InitStd: 0.01 },
    32,
    32,
  ],
];

for (const [name, overrides, H, W] of CASES) {
  test(`wasm == cpu: ${name}`, async () => {
    await tf.setBackend('cpu');
    const cpu = run(overrides, H, W);
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
    const wasm = run(overrides, H, W);
    const scaleTol = (x: ArrayLike<number>) => {
      let m = 0;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
      return 1e-4 * m;
    };
    assertClose(wasm.cls, cpu.cls, scaleTol(cpu.cls), 0, 'cls logits');
    assertClose(wasm.box, cpu.box, scaleTol(cpu.box), 0, 'box deltas');
    assert.ok(Math.abs(wasm.loss - cpu.loss) < 1e-4 * Math.abs(cpu.loss), `loss ${wasm.loss} vs ${cpu.loss}`);
    assert.deepEqual([...wasm.grads.keys()], [...cpu.grads.keys()]);
    for (const [p, g] of cpu.grads) assertClose(wasm.grads.get(p)!, g, scaleTol(g), 0, `grad ${p}`);
  });
}

test('wasm: groupNorm equals the moments form on cpu and float64 (outputs, gradients for x, gamma, beta)', async () => {
  const cases: GnCase[] = [
    { shape: [2, 20, 20, 16], groups: 8, offset: 0.3, spread: 2, channelSpread: 0.5 },
    { shape: [2, 10, 10, 48], groups: 8, offset: -0.2, spread: 1, channelSpread: 1 },
    { shape: [2, 8, 8, 16], groups: 8, offset: 100, spread: 0.0173, channelSpread: 0 }, // std 0.01
  ];
  for (const [i, k] of cases.entries()) {
    await tf.setBackend('cpu');
    const cpu = gnRun(groupNormMomentsForm, k, 40 + i);
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
    const wasm = gnRun(groupNorm, k, 40 + i);
    const ref = gnReference64(k, 40 + i);
    for (const key of ['y', 'dx', 'dGamma', 'dBeta'] as const) {
      const what = `${k.shape.join('x')} ${key}`;
      assert.ok(maxRelDiff(wasm[key], ref[key]) < 1e-6, `${what}: ${maxRelDiff(wasm[key], ref[key])} from float64`);
      // The badly scaled case: the moments form's own rounding error (see layers.test.ts).
      assert.ok(maxRelDiff(wasm[key], cpu[key]) < (k.offset === 100 ? 5e-4 : 1e-5), `${what}: ${maxRelDiff(wasm[key], cpu[key])} from cpu`);
    }
  }
});

test('wasm: conv2dWith numeric padding at stride 2 equals tf.pad + valid exactly (outputs, gradients)', async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
  // [H, W, kernel, stride, pad]: ResNet stem, 3x3 s2 even/odd, 1x1 s2 downsample.
  const cases: [number, number, number, number, number][] = [
    [32, 30, 7, 2, 3],
    [16, 16, 3, 2, 1],
    [15, 17, 3, 2, 1],
    [16, 15, 1, 2, 0],
  ];
  for (const [i, [h, w, k, stride, pad]] of cases.entries()) {
    const x = tf.tensor4d(pseudoRandom(2 * h * w * 8, 900 + i), [2, h, w, 8]);
    const kernel = tf.tensor4d(pseudoRandom(k * k * 8 * 16, 910 + i), [k, k, 8, 16]);
    const bias = tf.tensor1d(pseudoRandom(16, 920 + i));
    const outH = Math.floor((h + 2 * pad - k) / stride) + 1;
    const outW = Math.floor((w + 2 * pad - k) / stride) + 1;
    const dy = tf.tensor4d(pseudoRandom(2 * outH * outW * 16, 930 + i), [2, outH, outW, 16]);
    type Conv = (a: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
    const explicit: Conv = (a, f, b) =>
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
        activation: 'relu',
      });
    const mine: Conv = (a, f, b) => conv2dWith(a, f, b, stride, pad, true);
    const run = (fn: Conv) => {
      const y = fn(x, kernel, bias);
      const g = tf.grads((a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(a as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D), dy)))([
        x,
        kernel,
        bias,
      ]);
      const out = [y, ...g].map(values);
      tf.dispose([y, ...g]);
      return out;
    };
    const a = run(mine);
    const b = run(explicit);
    ['y', 'dx', 'dKernel', 'dBias'].forEach((name, j) => assertClose(a[j], b[j], 0, 0, `case ${i} ${name}`));
    tf.dispose([x, kernel, bias, dy]);
  }
});
