import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { RegionTargets, YOLOV2_REGION, bestAnchorByShape, cellBoxIou, regionBox, regionLoss, regionTargets } from '../../../lib/model/yolo';
import { assertClose, pseudoRandom, useCpu } from '../helpers';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

test('region loss of a one-prediction case, by hand', async () => {
  await useCpu();
  // One cell, one anchor, K = 2: raw (tx, ty, tw, th, to, c0, c1) = (0, 0, 0.5, -0.5, 0, ln 3, 0).
  const t: RegionTargets = {
    coord: new Float32Array([0.25, 0.75, 0, 0]),
    coordWeight: new Float32Array([1.75]),
    objTarget: new Float32Array([0.8]),
    objWeight: new Float32Array([5]),
    classIdx: new Int32Array([0]),
    classWeight: new Float32Array([1]),
    assigned: 1,
    meanIou: 0.8,
  };
  const zero: RegionTargets = {
    ...t,
    coordWeight: new Float32Array([0]),
    objWeight: new Float32Array([0]),
    classIdx: new Int32Array([-1]),
    classWeight: new Float32Array([0]),
  };
  const row = [0, 0, 0.5, -0.5, 0, Math.log(3), 0];
  const raw = tf.tensor4d([...row, ...row], [2, 1, 1, 7]);
  const l = regionLoss(raw, [t, zero], 1, 2);
  // coord 0.5 * 1.75 * (0.25^2 + 0.25^2 + 0.5^2 + 0.5^2) = 0.546875; obj 0.5 * 5 * (0.8 - 0.5)^2 = 0.225;
  // class -log(3/4) = 0.2876821; averaged over the 2 images.
  assert.ok(Math.abs(l.coord.dataSync()[0] - 0.546875 / 2) < 1e-6);
  assert.ok(Math.abs(l.obj.dataSync()[0] - 0.225 / 2) < 1e-6);
  assert.ok(Math.abs(l.cls.dataSync()[0] + Math.log(0.75) / 2) < 1e-6);
  assert.ok(Math.abs(l.total.dataSync()[0] - (0.546875 + 0.225 - Math.log(0.75)) / 2) < 1e-6);
  tf.dispose([raw, l.total, l.coord, l.obj, l.cls]);
});

/**
 * darknet's forward_region_layer deltas (yolov2: bias_match, rescore, softmax, coord scale
 * (2 - w h)) written as loops over one image, independently of regionTargets/regionLoss: the
 * gradient of the project's loss must equal minus these deltas (darknet's delta is d loss /
 * d activation times the logistic gradient for x, y and objectness).
 */
function darknetDeltas(
  raw: Float32Array,
  H: number,
  W: number,
  A: number,
  K: number,
  anchors: number[],
  truths: { cx: number; cy: number; w: number; h: number; cls: number }[],
  prior: boolean,
): Float32Array {
  const E = 5 + K;
  const p = YOLOV2_REGION;
  const delta = new Float32Array(raw.length);
  const shape = { gridH: H, gridW: W, numAnchors: A, numClasses: K };
  const at = (x: number, y: number, a: number) => ((y * W + x) * A + a) * E;
  const dBox = (x: number, y: number, a: number, t: { cx: number; cy: number; w: number; h: number }, scale: number) => {
    const i = at(x, y, a);
    const sx = sig(raw[i]);
    const sy = sig(raw[i + 1]);
    delta[i] = scale * (t.cx - x - sx) * sx * (1 - sx);
    delta[i + 1] = scale * (t.cy - y - sy) * sy * (1 - sy);
    delta[i + 2] = scale * (Math.log(t.w / anchors[2 * a]) - raw[i + 2]);
    delta[i + 3] = scale * (Math.log(t.h / anchors[2 * a + 1]) - raw[i + 3]);
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let a = 0; a < A; a++) {
        const i = at(x, y, a);
        const pred = regionBox(raw, shape, anchors, x, y, a);
        const best = Math.max(0, ...truths.map((t) => cellBoxIou(pred, t)));
        const o = sig(raw[i + 4]);
        delta[i + 4] = best > p.thresh ? 0 : p.noobjectScale * (0 - o) * o * (1 - o);
        if (prior) dBox(x, y, a, { cx: x + 0.5, cy: y + 0.5, w: anchors[2 * a], h: anchors[2 * a + 1] }, 0.01);
      }
    }
  }
  for (const t of truths) {
    const x = Math.floor(t.cx);
    const y = Math.floor(t.cy);
    const a = bestAnchorByShape(t.w, t.h, anchors);
    const i = at(x, y, a);
    dBox(x, y, a, t, p.coordScale * (2 - (t.w / W) * (t.h / H)));
    const iou = cellBoxIou(regionBox(raw, shape, anchors, x, y, a), t);
    const o = sig(raw[i + 4]);
    delta[i + 4] = p.objectScale * (iou - o) * o * (1 - o);
    const logits = Array.from(raw.subarray(i + 5, i + 5 + K));
    const mx = Math.max(...logits);
    const ex = logits.map((v) => Math.exp(v - mx));
    const sum = ex.reduce((s, v) => s + v, 0);
    for (let k = 0; k < K; k++) delta[i + 5 + k] = p.classScale * ((k === t.cls ? 1 : 0) - ex[k] / sum);
  }
  return delta;
}

test("loss gradient = minus darknet's region deltas; finite differences agree", async () => {
  await useCpu();
  const H = 3;
  const W = 4;
  const A = 2;
  const K = 3;
  const E = 5 + K;
  const stride = 32;
  const anchors = [0.8, 1.2, 2.5, 1.6];
  const truths = [
    { cx: 1.3, cy: 0.6, w: 1.0, h: 1.5, cls: 2 },
    { cx: 2.7, cy: 2.2, w: 2.2, h: 1.4, cls: 0 },
  ];
  const gt = {
    boxes: new Float32Array(
      truths.flatMap((t) => [(t.cx - t.w / 2) * stride, (t.cy - t.h / 2) * stride, (t.cx + t.w / 2) * stride, (t.cy + t.h / 2) * stride]),
    ),
    classIdx: new Int32Array(truths.map((t) => t.cls)),
  };
  for (const prior of [false, true]) {
    const raw = pseudoRandom(H * W * A * E, prior ? 7 : 3, -1.5, 1.5);
    // One prediction overlapping the first truth strongly (exercises the 0.6 rule).
    raw.set([1.2, -0.2, 0.2, 0.2], ((0 * W + 1) * A + 0) * E);
    const targets = regionTargets(raw, { gridH: H, gridW: W, numAnchors: A, numClasses: K }, anchors, gt, stride, YOLOV2_REGION, prior);
    const rawT = tf.tensor4d(raw, [1, H, W, A * E]);
    const lossOf = (r: tf.Tensor) => regionLoss(r as tf.Tensor4D, [targets], A, K).total;
    const g = tf.grad(lossOf)(rawT);
    const want = darknetDeltas(raw, H, W, A, K, anchors, truths, prior).map((d) => -d);
    assertClose(g.dataSync(), want, 2e-6, 1e-5, `prior ${prior}`);
    assert.ok(want.filter((v) => v === 0).length > 0 && want.some((v) => Math.abs(v) > 0.1), 'the case has both ignored and active entries');
    // Central finite differences of the loss (targets held fixed) on a few entries, float32.
    const eps = 1e-2;
    for (const idx of [0, 3, 4, 9, ((0 * W + 1) * A + 0) * E + 4, ((2 * W + 2) * A + 1) * E + 6]) {
      const plus = raw.slice();
      plus[idx] += eps;
      const minus = raw.slice();
      minus[idx] -= eps;
      const f = (v: Float32Array) => tf.tidy(() => lossOf(tf.tensor4d(v, [1, H, W, A * E])).dataSync()[0]);
      const fd = (f(plus) - f(minus)) / (2 * eps);
      assert.ok(Math.abs(fd - g.dataSync()[idx]) < 2e-3, `entry ${idx}: finite difference ${fd} vs gradient ${g.dataSync()[idx]}`);
    }
    tf.dispose([rawT, g]);
  }
});
