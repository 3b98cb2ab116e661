import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipBoxes, gatherRows, nonEmptyIndices } from '../../lib/box/clip';

test('clipBoxes clamps x to [0, W] and y to [0, H]; boxes outside collapse to degenerate', () => {
  const boxes = Float32Array.from([-5, -5, 50, 30, /**/ 10, 10, 200, 120, /**/ 150, 20, 180, 40]);
  const out = clipBoxes(boxes, 100, 120); // H = 100, W = 120
  assert.deepEqual(Array.from(out), [0, 0, 50, 30, 10, 10, 120, 100, 120, 20, 120, 40]);
  assert.deepEqual(Array.from(nonEmptyIndices(out)), [0, 1]); // the third is 0 wide now
  assert.deepEqual(Array.from(nonEmptyIndices(out, 30)), [1]); // 50x30: height not > 30
  assert.deepEqual(Array.from(boxes.slice(0, 4)), [-5, -5, 50, 30]); // input untouched
});

test('gatherRows picks rows of any width', () => {
  const boxes = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(Array.from(gatherRows(boxes, [2, 0], 4)), [8, 9, 10, 11, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(gatherRows(Int32Array.from([5, 6, 7]), [1], 1)), [6]);
});
