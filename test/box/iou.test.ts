import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxArea, boxCount, ioaMatrix, iouMatrix, iouPair, isDegenerate } from '../../lib/box/iou';

const f32 = (xs: number[]) => Float32Array.from(xs);
const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('iouMatrix: hand-computed pairs, row-major Na x Nb', () => {
  const a = f32([0, 0, 10, 10, /**/ 0, 0, 20, 10]);
  const b = f32([5, 5, 15, 15, /**/ 0, 0, 10, 10, /**/ 30, 30, 40, 40]);
  const m = iouMatrix(a, b);
  assert.equal(m.length, 6);
  // a0 vs b0: overlap [5,10]x[5,10] = 25; union 100 + 100 - 25 = 175 -> 1/7
  near(m[0], 1 / 7);
  near(m[1], 1); // identical boxes
  assert.equal(m[2], 0); // disjoint
  // a1 (20x10) vs b0: overlap [5,15]x[5,10] = 10*5 = 50; union 200 + 100 - 50 = 250 -> 0.2
  near(m[3], 0.2);
  // a1 vs b1: overlap 100, union 200 -> exactly 0.5
  assert.equal(m[4], 0.5);
  assert.equal(m[5], 0);
});

test('degenerate boxes: zero area, IoU 0 even with themselves', () => {
  const boxes = f32([3, 3, 3, 8, /* zero width */ 10, 10, 0, 0, /* inverted */ 0, 0, 4, 2]);
  assert.deepEqual(Array.from(boxArea(boxes)), [0, 0, 8]);
  assert.equal(iouPair(boxes, 0, boxes, 0), 0);
  assert.equal(iouPair(boxes, 1, boxes, 1), 0);
  assert.equal(iouPair(boxes, 2, boxes, 2), 1);
  assert.equal(isDegenerate(boxes, 0), true);
  assert.equal(isDegenerate(boxes, 1), true);
  assert.equal(isDegenerate(boxes, 2), false);
  assert.equal(isDegenerate(f32([0, 0, NaN, 1]), 0), true);
  // An inverted box must not count as a (negative-area) overlap partner either.
  assert.equal(iouMatrix(f32([10, 10, 0, 0]), f32([0, 0, 10, 10]))[0], 0);
});

test('ioaMatrix: intersection over the area of the second argument (anchors in a crowd)', () => {
  const crowd = f32([0, 0, 10, 10]);
  const anchors = f32([5, 0, 25, 10, /**/ 2, 2, 4, 4, /**/ 20, 20, 30, 30, /**/ 1, 1, 1, 5]);
  const m = ioaMatrix(crowd, anchors);
  near(m[0], 0.25); // overlap [5,10]x[0,10] = 50 over anchor area 200
  assert.equal(m[1], 1); // inside
  assert.equal(m[2], 0);
  assert.equal(m[3], 0); // degenerate anchor: 0, not NaN
});

test('boxCount rejects a length that is not 4N', () => {
  assert.throws(() => boxCount(new Float32Array(6)), /multiple of 4/);
  assert.throws(() => iouMatrix(new Float32Array(3), new Float32Array(4)), /multiple of 4/);
});
