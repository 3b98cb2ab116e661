/** Focal loss and box losses (lib/model/losses.ts) against hand-computed values. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { boxLossSum, countPositives, detectionLoss, sigmoidFocalLossSum } from '../../lib/model/losses';
import { UserError } from '../../lib/util/errors';
import { assertClose, useCpu, values } from './helpers';

before(useCpu);

/** Focal loss of one logit in float64, straight from the definition (Lin et al. 2017, Eq. 5). */
function focal(x: number, t: 0 | 1, alpha = 0.25, gamma = 2): number {
  const p = 1 / (1 + Math.exp(-x));
  const pt = t ? p : 1 - p;
  const at = t ? alpha : 1 - alpha;
  return -at * (1 - pt) ** gamma * Math.log(pt);
}

test('focal loss: hand values; background -1 has all-zero targets, ignore -2 contributes nothing', () => {
  // 1 image, 4 anchors, K = 3 classes.
  const x = [
    [2.0, -1.0, 0.5], // label 0
    [-3.0, 0.2, 1.5], // label 2
    [0.3, -0.4, -2.0], // background
    [9.0, 9.0, 9.0], // ignored
  ];
  const labels = [0, 2, -1, -2];
  const loss = sigmoidFocalLossSum(tf.tensor3d([x]), tf.tensor2d([labels], [1, 4], 'int32')).dataSync()[0];
  let want = 0;
  for (let a = 0; a < 3; a++) for (let k = 0; k < 3; k++) want += focal(x[a][k], labels[a] === k ? 1 : 0);
  assert.ok(Math.abs(loss - want) < 1e-6 * Math.max(1, want), `${loss} vs ${want}`);
  // alpha < 0 disables the weighting: every term counts with weight 1 (ignored anchors still 0).
  const unweighted = sigmoidFocalLossSum(tf.tensor3d([x]), tf.tensor2d([labels], [1, 4], 'int32'), { alpha: -1 }).dataSync()[0];
  let wantUnweighted = 0;
  for (let a = 0; a < 3; a++) for (let k = 0; k < 3; k++) wantUnweighted += focal(x[a][k], labels[a] === k ? 1 : 0) / (labels[a] === k ? 0.25 : 0.75);
  assert.ok(Math.abs(unweighted - wantUnweighted) < 1e-6 * Math.max(1, wantUnweighted), `${unweighted} vs ${wantUnweighted}`);
  // A spot value: x = 0 on a positive gives 0.25 * 0.25 * log 2.
  const one = sigmoidFocalLossSum(tf.tensor2d([[0]]), tf.tensor1d([0], 'int32')).dataSync()[0];
  assert.ok(Math.abs(one - 0.25 * 0.25 * Math.LN2) < 1e-7);
});

test('focal loss is finite and exact for extreme logits (log-sigmoid formulation)', () => {
  const x = tf.tensor2d([
    [100, -100],
    [-100, 100],
  ]);
  const labels = tf.tensor1d([0, 0], 'int32');
  const l = sigmoidFocalLossSum(x, labels).dataSync()[0];
  // Anchor 0: positive class 0 at +100 (~0), negative class 1 at -100 (~0).
  // Anchor 1: positive class 0 at -100: 0.25 * 1 * 100; negative class 1 at +100: 0.75 * 1 * 100.
  assert.ok(Math.abs(l - (25 + 75)) < 1e-3, `${l}`);
  const g = tf.grad((v: tf.Tensor) => sigmoidFocalLossSum(v, labels))(x);
  const gv = values(g);
  assert.ok(gv.every(Number.isFinite));
  // d/dx of 0.25 * (1 - p)^2 * -log p at x = -100: -0.25 (p -> 0, (1-p)^2 -> 1, d(-log p)/dx = -(1 - p)).
  assertClose([gv[2], gv[3]], [-0.25, 0.75], 1e-4);
});

test('focal loss gradient matches the derivative of the definition', () => {
  const xs = [-2.5, -0.3, 0.0, 0.7, 3.1];
  for (const t of [0, 1] as const) {
    const labels = tf.tensor1d(
      xs.map(() => (t ? 0 : -1)),
      'int32',
    );
    const g = values(tf.grad((v: tf.Tensor) => sigmoidFocalLossSum(v, labels))(tf.tensor2d(xs.map((x) => [x]))));
    const h = 1e-5;
    const want = xs.map((x) => (focal(x + h, t) - focal(x - h, t)) / (2 * h));
    assertClose(g, want, 1e-5, 1e-4, `t=${t}`);
  }
});

test('smooth-L1 (beta 0.1, 0.11), L1, only over positives', () => {
  const deltas = tf.tensor3d([
    [
      [0.05, -0.3, 0, 1],
      [5, 5, 5, 5],
      [0.2, 0, 0, 0],
    ],
  ]);
  const targets = tf.tensor3d([
    [
      [0, 0, 0, 0.5],
      [NaN, NaN, NaN, NaN],
      [0, 0.11, 0, 0],
    ],
  ]);
  const labels = tf.tensor2d([[1, -1, 0]], [1, 3], 'int32');
  const sl1 = (d: number, beta: number) => (Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta);
  const diffs = [0.05, -0.3, 0, 0.5, 0.2, -0.11, 0, 0];
  for (const beta of [0.1, 0.11]) {
    const got = boxLossSum(deltas, targets, labels, { beta }).dataSync()[0];
    const want = diffs.reduce((s, d) => s + sl1(d, beta), 0);
    assert.ok(Math.abs(got - want) < 1e-6, `beta ${beta}: ${got} vs ${want}`);
  }
  // 0.05 under beta 0.1: 0.5 * 0.0025 / 0.1 = 0.0125; 0.3: 0.25.
  assert.ok(Math.abs(sl1(0.05, 0.1) - 0.0125) < 1e-12 && Math.abs(sl1(-0.3, 0.1) - 0.25) < 1e-12);
  const l1 = boxLossSum(deltas, targets, labels, { kind: 'l1' }).dataSync()[0];
  assert.ok(Math.abs(l1 - diffs.reduce((s, d) => s + Math.abs(d), 0)) < 1e-6);
  // The NaN targets of the background anchor do not reach the loss or its gradient.
  const g = values(tf.grad((v: tf.Tensor) => boxLossSum(v, targets, labels, { beta: 0.1 }))(deltas));
  assert.ok(g.every(Number.isFinite));
  assertClose(g, [0.5, -1, 0, 1, 0, 0, 0, 0, 1, -1, 0, 0], 1e-5);
});

test('detectionLoss normalises by max(1, #positives) over the batch, or by a given normalizer', () => {
  const clsLogits = tf.tensor3d([
    [[0], [0]],
    [[0], [0]],
  ]);
  const boxDeltas = tf.tensor3d([
    [
      [1, 0, 0, 0],
      [0, 0, 0, 0],
    ],
    [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ],
  ]);
  const boxTargets = tf.zerosLike(boxDeltas);
  const fl0 = focal(0, 0);
  const fl1 = focal(0, 1);
  // Two positives across the batch.
  let r = detectionLoss(
    { clsLogits, boxDeltas },
    tf.tensor2d(
      [
        [0, -1],
        [0, -2],
      ],
      [2, 2],
      'int32',
    ),
    boxTargets,
    { box: { beta: 0.1 } },
  );
  assert.equal(r.numPositives.dataSync()[0], 2);
  assert.ok(Math.abs(r.cls.dataSync()[0] - (2 * fl1 + fl0) / 2) < 1e-6);
  assert.ok(Math.abs(r.box.dataSync()[0] - (1 - 0.05) / 2) < 1e-6);
  assert.ok(Math.abs(r.total.dataSync()[0] - (r.cls.dataSync()[0] + r.box.dataSync()[0])) < 1e-6);
  // No positives: divide by 1, not 0.
  r = detectionLoss(
    { clsLogits, boxDeltas },
    tf.tensor2d(
      [
        [-1, -1],
        [-1, -2],
      ],
      [2, 2],
      'int32',
    ),
    boxTargets,
  );
  assert.ok(Math.abs(r.cls.dataSync()[0] - 3 * fl0) < 1e-6);
  assert.equal(r.box.dataSync()[0], 0);
  r = detectionLoss(
    { clsLogits, boxDeltas },
    tf.tensor2d(
      [
        [0, -1],
        [-1, -1],
      ],
      [2, 2],
      'int32',
    ),
    boxTargets,
    { normalizer: 4 },
  );
  assert.ok(Math.abs(r.cls.dataSync()[0] - (fl1 + 3 * fl0) / 4) < 1e-6);
  assert.equal(countPositives(tf.tensor1d([3, -1, 0, -2], 'int32')).dataSync()[0], 2);
  assert.throws(
    () => sigmoidFocalLossSum(clsLogits, tf.tensor2d([[0, 0]], [1, 2], 'int32')),
    (e: unknown) => e instanceof UserError && /do not match/.test(e.message),
  );
  assert.throws(
    () => sigmoidFocalLossSum(clsLogits, tf.zeros([2, 2])),
    (e: unknown) => e instanceof UserError && /int32/.test(e.message),
  );
});
