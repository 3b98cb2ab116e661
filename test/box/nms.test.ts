import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iouPair } from '../../lib/box/iou';
import { batchedNms, nms } from '../../lib/box/nms';
import { makeRng } from '../../lib/util/seed';

const BOXES = Float32Array.from([
  0,
  0,
  10,
  10, //   b0 .90
  1,
  0,
  11,
  10, //   b1 .80  IoU(b0) = 90/110 = 0.818; IoU(b3) = 90/210 = 0.4286
  20,
  20,
  30,
  30, // b2 .85
  0,
  0,
  10,
  20, //   b3 .95  IoU(b0) = 100/200 = 0.5 exactly
  5,
  0,
  15,
  10, //   b4 .70  IoU(b0) = 50/150 = 0.333; IoU(b3) = 50/250 = 0.2; IoU(b1) = 60/140 = 0.4286
  20,
  20,
  30,
  30, // b5 .85  duplicate of b2 with the same score: the lower index wins
  0,
  0,
  5,
  5, //     b6 NaN score: dropped
]);
const SCORES = Float32Array.from([0.9, 0.8, 0.85, 0.95, 0.7, 0.85, NaN]);
// Visiting order: b3, b0, b2, b5, b1, b4.

test('nms: strict ">" suppression, stable ties, NaN dropped', () => {
  // thr 0.5: b0 survives (IoU 0.5 is not > 0.5); b5 dies (IoU 1 with b2); b1 dies (0.818 with b0).
  assert.deepEqual(Array.from(nms(BOXES, SCORES, 0.5)), [3, 0, 2, 4]);
  // thr 0.49: b0 dies (0.5 with b3); then b1 only meets b3 (0.4286) and lives; b4 meets b1 at 0.4286.
  assert.deepEqual(Array.from(nms(BOXES, SCORES, 0.49)), [3, 2, 1, 4]);
  assert.deepEqual(Array.from(nms(BOXES, SCORES, 0.5, 2)), [3, 0]);
  assert.deepEqual(Array.from(nms(BOXES, SCORES, 0.5, 0)), []);
});

test('batchedNms: classes never suppress each other; merged in score order; maxOut', () => {
  const classes = Int32Array.from([0, 1, 0, 0, 0, 1, 0]);
  // class 0: b3, b0, b2, b4 as above; class 1: b5 (.85), b1 (.80), disjoint.
  assert.deepEqual(Array.from(batchedNms(BOXES, SCORES, classes, 0.5)), [3, 0, 2, 5, 1, 4]);
  assert.deepEqual(Array.from(batchedNms(BOXES, SCORES, classes, 0.5, 4)), [3, 0, 2, 5]);
});

function referenceNms(boxes: Float32Array, scores: Float32Array, thr: number): number[] {
  // Textbook form: walk in score order, each kept box suppresses all later ones above thr.
  const order = Array.from(scores.keys()).sort((i, j) => scores[j] - scores[i] || i - j);
  const dead = new Uint8Array(scores.length);
  const keep: number[] = [];
  for (let p = 0; p < order.length; p++) {
    const i = order[p];
    if (dead[i]) continue;
    keep.push(i);
    for (let q = p + 1; q < order.length; q++) if (iouPair(boxes, i, boxes, order[q]) > thr) dead[order[q]] = 1;
  }
  return keep;
}

function randomScene(n: number, seed: number) {
  const rng = makeRng(seed);
  const boxes = new Float32Array(4 * n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = rng() * 600,
      y = rng() * 600,
      w = 5 + rng() * 120,
      h = 5 + rng() * 120;
    boxes.set([x, y, x + w, y + h], 4 * i);
    scores[i] = Math.round(rng() * 50) / 50; // many exact ties
  }
  return { boxes, scores };
}

test('nms equals the textbook suppress-forward algorithm on 1500 random boxes with ties', () => {
  const { boxes, scores } = randomScene(1500, 11);
  for (const thr of [0.3, 0.5, 0.7]) assert.deepEqual(Array.from(nms(boxes, scores, thr)), referenceNms(boxes, scores, thr));
});

test('nms on 4000 boxes keeps exactly the boxes no higher-ranked kept box overlaps by more than the threshold', () => {
  // Closer to detector scale (1000 candidates per FPN level) than the test above; check the property
  // that defines greedy NMS: walking the boxes in nms' rank order (score, then index),
  // a box is kept iff no box kept before it overlaps it by more than the threshold.
  const { boxes, scores } = randomScene(4000, 5);
  const kept = Array.from(nms(boxes, scores, 0.5));
  assert.ok(kept.length > 100 && kept.length < 4000, `${kept.length} kept`);
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  const isKept = new Set(kept);
  const keptSoFar: number[] = [];
  for (const i of order) {
    const overlapped = keptSoFar.some((k) => iouPair(boxes, k, boxes, i) > 0.5);
    assert.equal(isKept.has(i), !overlapped, `box ${i}`);
    if (!overlapped) keptSoFar.push(i);
  }
  assert.deepEqual(kept, keptSoFar, 'kept boxes come in rank order');
});
