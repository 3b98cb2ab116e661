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
import { assertClose, pseudoRandom, silent, tinyConfig } from './helpers';

interface Result {
  cls: Float32Array;
  box: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

function run(overrides: Partial<ModelConfig>, H: number, W: number): Result {
  const det = buildDetector(tinyConfig(overrides), { seed: 9, ...silent });
  const images = tf.tensor4d(pseudoRandom(2 * H * W * 3, 1, 0, 255), [2, H, W, 3]);
  const b = det.config.method === 'metaanchor' ? tf.tensor2d([[0.3, -0.1], [-0.5, 0.4]]) : undefined;
  const total = det.levelShapes(H, W).reduce((s, l) => s + l.heightCells * l.widthCells, 0) * 2;
  const labels = tf.tensor2d(new Int32Array(2 * total).map((_, i) => (i % 29 === 0 ? i % 3 : -1)), [2, total], 'int32');
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
  ['ResNet-18 with frozen BN and frozen stages', { method: 'metaanchor', backbone: 'resnet18', backboneNorm: 'frozen-bn', freezeAt: 4, w2InitStd: 0.01 }, 32, 32],
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
