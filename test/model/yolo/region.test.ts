import { test } from 'node:test';
import assert from 'node:assert/strict';
import { YOLOV2_REGION, bestAnchorByShape, cellBoxIou, regionBox, regionCandidates, regionTargets } from '../../../lib/model/yolo';

const logit = (p: number) => Math.log(p / (1 - p));

/** Raw output of one image with every entry `fill`, entry ((y W + x) A + a)(5 + K) + e settable. */
function rawOf(H: number, W: number, A: number, K: number, fill = 0) {
  const raw = new Float32Array(H * W * A * (5 + K)).fill(fill);
  const set = (x: number, y: number, a: number, values: number[]) => raw.set(values, ((y * W + x) * A + a) * (5 + K));
  return { raw, set };
}

test('region decoding: (sigmoid(tx) + x, sigmoid(ty) + y, exp(tw) aw, exp(th) ah) cells, times the stride', () => {
  const shape = { gridH: 2, gridW: 3, numAnchors: 2, numClasses: 2 };
  const anchors = [0.5, 0.5, 1.5, 2.5];
  const { raw, set } = rawOf(2, 3, 2, 2, -20);
  // Cell x = 1, y = 0, anchor 1: sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75, exp(ln 2) = 2, exp(0) = 1;
  // objectness sigmoid(ln 9) = 0.9, class softmax(ln 3, 0) = (0.75, 0.25).
  set(1, 0, 1, [0, Math.log(3), Math.log(2), 0, Math.log(9), Math.log(3), 0]);
  const b = regionBox(raw, shape, anchors, 1, 0, 1);
  assert.ok(Math.abs(b.cx - 1.5) < 1e-6 && Math.abs(b.cy - 0.75) < 1e-6 && Math.abs(b.w - 3) < 1e-6 && Math.abs(b.h - 2.5) < 1e-6, JSON.stringify(b));
  // In pixels at stride 32: centre (48, 24), 96 x 80 -> (0, -16, 96, 64).
  const c = regionCandidates(raw, shape, anchors, 32, { scoreThresh: 0.005, topkPerLevel: 1000 });
  assert.deepEqual(Array.from(c.classes), [0, 1]);
  assert.ok(Math.abs(c.scores[0] - 0.675) < 1e-6 && Math.abs(c.scores[1] - 0.225) < 1e-6, `scores ${c.scores}`);
  const want = [0, -16, 96, 64];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(c.boxes[i] - want[i]) < 1e-4 && Math.abs(c.boxes[4 + i] - want[i]) < 1e-4, `box ${c.boxes}`);
  // Clipped to the valid (unpadded) image; top-k keeps the best.
  const clipped = regionCandidates(raw, shape, anchors, 32, { scoreThresh: 0.005, topkPerLevel: 1 }, { heightPx: 50, widthPx: 90 });
  assert.deepEqual(Array.from(clipped.boxes), [0, 0, 90, 50]);
  assert.deepEqual(Array.from(clipped.classes), [0]);
  // Scores at or below the threshold are dropped: 0.225 > 0.3 fails.
  assert.equal(regionCandidates(raw, shape, anchors, 32, { scoreThresh: 0.3, topkPerLevel: 1000 }).scores.length, 1);
});

test('best anchor by centred shape IoU (bias_match), ties to the first anchor', () => {
  const anchors = [1, 1, 2, 4, 4, 2];
  assert.equal(bestAnchorByShape(2, 4, anchors), 1);
  assert.equal(bestAnchorByShape(4, 2, anchors), 2);
  assert.equal(bestAnchorByShape(1, 1, anchors), 0);
  assert.equal(bestAnchorByShape(0.1, 0.1, anchors), 0);
  // 3 x 3: IoU 6/11 with both 2x4 and 4x2, 1/9 with 1x1 -> the first of the tie.
  assert.equal(bestAnchorByShape(3, 3, anchors), 1);
  assert.ok(Math.abs(cellBoxIou({ cx: 0, cy: 0, w: 3, h: 3 }, { cx: 0, cy: 0, w: 2, h: 4 }) - 6 / 11) < 1e-12);
  // Wide and tall: 5 x 1.5 IoU with 4x2 = 6/(7.5+8-6) = 0.632 beats 2x4 (3/12.5) and 1x1 (1/7.5).
  assert.equal(bestAnchorByShape(5, 1.5, anchors), 2);
});

test('targets: the assigned prediction, the 0.6 no-object rule, ignored boxes, the prior term', () => {
  const shape = { gridH: 4, gridW: 4, numAnchors: 1, numClasses: 2 };
  const anchors = [2, 2];
  const stride = 32;
  // Ground truth centred at (1.1, 1.5) cells, 2 x 2 cells, class 1 -> cell (1, 1).
  const gt = { boxes: new Float32Array([0.1 * stride, 0.5 * stride, 2.1 * stride, 2.5 * stride]), classIdx: new Int32Array([1]) };
  const run = (sigmoidX: number, prior = false, ignore?: Uint8Array) => {
    const { raw, set } = rawOf(4, 4, 1, 2, 0);
    // Cell (0, 1): centre (sigmoidX, 1.5), 2 x 2: IoU with the truth (2 - d) / (2 + d), d = 1.1 - sigmoidX.
    set(0, 1, 0, [logit(sigmoidX), 0, 0, 0, 0, 0, 0]);
    return regionTargets(raw, shape, anchors, { ...gt, ignore }, stride, YOLOV2_REGION, prior);
  };
  const m = (x: number, y: number) => y * 4 + x;
  // d = 0.2: IoU 1.8 / 2.2 = 0.818 > 0.6 -> no no-object loss.
  const near = run(0.9);
  assert.equal(near.objWeight[m(0, 1)], 0);
  // d = 2/3: IoU 0.5 -> no-object target 0 with noobject_scale 1.
  const far = run(1 - 2 / 3 + 0.1);
  assert.equal(far.objWeight[m(0, 1)], 1);
  assert.equal(far.objTarget[m(0, 1)], 0);
  // The assigned prediction (cell 1, 1): coords (0.1, 0.5, log(2/2), log(2/2)), weight 2 - (2/4)(2/4).
  const k = m(1, 1);
  assert.equal(near.assigned, 1);
  assert.deepEqual(
    Array.from(near.coord.subarray(4 * k, 4 * k + 4)).map((v) => Math.round(v * 1e6) / 1e6 + 0),
    [0.1, 0.5, 0, 0],
  );
  assert.ok(Math.abs(near.coordWeight[k] - 1.75) < 1e-7);
  assert.equal(near.objWeight[k], 5);
  // Rescore: the objectness target is the IoU of the current prediction (centre (1.5, 1.5), 2x2) = 1.6 / 2.4.
  assert.ok(Math.abs(near.objTarget[k] - 1.6 / 2.4) < 1e-6, `${near.objTarget[k]}`);
  assert.equal(near.classIdx[k], 1);
  assert.equal(near.classWeight[k], 1);
  // Everything else: no coordinate loss without the prior term; no class loss.
  assert.equal(
    near.coordWeight.reduce((s, v) => s + v, 0),
    near.coordWeight[k],
  );
  assert.equal(near.classIdx.filter((c) => c >= 0).length, 1);
  // The prior term: every other prediction pulled to its anchor with weight 0.01.
  const prior = run(0.2, true);
  assert.ok(Math.abs(prior.coordWeight[m(3, 3)] - 0.01) < 1e-9);
  assert.deepEqual(Array.from(prior.coord.subarray(4 * m(3, 3), 4 * m(3, 3) + 4)), [0.5, 0.5, 0, 0]);
  assert.ok(Math.abs(prior.coordWeight[k] - 1.75) < 1e-7, 'the assignment overrides the prior term');
  // An ignored (crowd / dropped) box: never assigned, but still no no-object loss near it.
  const ign = run(0.9, false, new Uint8Array([2]));
  assert.equal(ign.assigned, 0);
  assert.equal(ign.objWeight[m(0, 1)], 0);
  assert.equal(ign.objWeight[k], 0, 'the prediction at the box centre overlaps it by 0.67 > 0.6');
  assert.equal(ign.classIdx.filter((c) => c >= 0).length, 0);
});
