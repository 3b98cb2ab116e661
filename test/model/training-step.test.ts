/**
 * Forward + backward through the whole detector and the losses: every trainable parameter gets a
 * gradient, SGD steps lower the loss on a fixed batch, and no tensor leaks across steps
 * (tf.memory().numTensors flat, docs/DESIGN.md section 4).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildDetector } from '../../lib/model/detector';
import { detectionLoss } from '../../lib/model/losses';
import { ModelConfig } from '../../lib/model/config';
import { pseudoRandom, silent, tinyConfig, useCpu, values } from './helpers';

before(useCpu);

const CASES: [string, Partial<ModelConfig>][] = [
  ['baseline', { method: 'baseline', numAnchors: 2 }],
  ['metaanchor, data-independent, direct', { method: 'metaanchor', generator: 'independent', w2InitStd: 0.01 }],
  ['metaanchor, data-dependent, direct', { method: 'metaanchor', generator: 'dependent', w2InitStd: 0.01 }],
  ['metaanchor, data-dependent, basis', { method: 'metaanchor', generator: 'dependent', w2InitStd: 0.01, convMode: 'basis' }],
];

for (const [name, overrides] of CASES) {
  test(`${name}: all parameters get gradients, loss falls, tensor count flat`, () => {
    const det = buildDetector(tinyConfig(overrides), { seed: 4, ...silent });
    const H = 40;
    const W = 48;
    const images = tf.tensor4d(pseudoRandom(2 * H * W * 3, 8, 0, 255), [2, H, W, 3]);
    const b =
      det.config.method === 'metaanchor'
        ? tf.tensor2d([
            [0.1, -0.2],
            [-0.6, 0.7],
          ])
        : undefined;
    const A = 2;
    const total = det.levelShapes(H, W).reduce((s, l) => s + l.heightCells * l.widthCells, 0) * A;
    const lab = new Int32Array(2 * total).map((_, i) => (i % 37 === 0 ? i % 3 : i % 11 === 0 ? -2 : -1));
    const labels = tf.tensor2d(lab, [2, total], 'int32');
    const boxTargets = tf.tensor3d(pseudoRandom(2 * total * 4, 9, -0.5, 0.5), [2, total, 4]);
    const lossFn = () => detectionLoss(det.forward(images, b), labels, boxTargets).total;

    const { value, grads } = tf.variableGrads(lossFn);
    const vars = det.trainableVariables();
    assert.equal(Object.keys(grads).length, vars.length);
    const dead = det.store
      .entries()
      .filter(([, v]) => v.trainable && tf.tidy(() => tf.max(tf.abs(grads[v.name])).dataSync()[0]) === 0)
      .map(([n]) => n);
    assert.deepEqual(dead, [], 'parameters without gradient');
    tf.dispose(value);
    tf.dispose(grads);

    const opt = tf.train.momentum(0.01, 0.9);
    const losses: number[] = [];
    const step = () => {
      const cost = opt.minimize(lossFn, true, vars) as tf.Scalar;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
    };
    step(); // creates the optimizer's momentum slots
    const n0 = tf.memory().numTensors;
    step();
    step();
    step();
    assert.equal(tf.memory().numTensors, n0, 'tensors leaked per step');
    assert.ok(losses[3] < losses[0], `loss did not fall: ${losses.map((l) => l.toFixed(4)).join(' ')}`);
    const out = det.forward(images, b);
    assert.ok(values(out.clsLogits).every(Number.isFinite));
    tf.dispose([out.clsLogits, out.boxDeltas, images, labels, boxTargets]);
    b?.dispose();
    opt.dispose();
    det.dispose();
  });
}
