// TIDE's error breakdown on hand-made cases with one error kind planted at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoGroundTruthJson, CocoResultJson } from '../../lib/eval/coco';
import { analysisInputs, tideErrors, TIDE_ERROR_TYPES, TideErrorType } from '../../lib/analysis';

// One 640x480 image; two class-1 boxes A, B and one class-2 box C.
const A = [0, 0, 100, 100];
const B = [200, 200, 100, 100];
const C = [400, 0, 60, 60];
const GT: CocoGroundTruthJson = {
  images: [
    { id: 1, width: 640, height: 480 },
    { id: 2, width: 640, height: 480 },
  ],
  categories: [
    { id: 1, name: 'one' },
    { id: 2, name: 'two' },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: A, area: 1e4, iscrowd: 0 },
    { id: 2, image_id: 1, category_id: 1, bbox: B, area: 1e4, iscrowd: 0 },
    { id: 3, image_id: 1, category_id: 2, bbox: C, area: 3600, iscrowd: 0 },
  ],
};
/** A shifted by 40 px: IoU 6000 / 14000 = 0.43 with A (between t_b and t_f). */
const A_SHIFTED = [40, 0, 100, 100];
/** A shifted by 10 px: IoU 9000 / 11000 = 0.82 with A. */
const A_NEAR = [10, 0, 100, 100];

const det = (bbox: number[], category_id: number, score: number, image_id = 1): CocoResultJson => ({ image_id, category_id, bbox, score });
const perfectA = det(A, 1, 0.9);
const perfectB = det(B, 1, 0.8);
const perfectC = det(C, 2, 0.7);

/** COCO AP of one category whose precision is 1 up to recall `r` (a multiple of 0.01) and 0 after. */
const apUpTo = (r: number) => (Math.round(100 * r) + 1) / 101;

function check(dets: CocoResultJson[], planted: TideErrorType, expected: { ap: number; dAP: number; count: number }) {
  const r = tideErrors(analysisInputs(GT, dets));
  assert.ok(Math.abs(r.ap - expected.ap) < 1e-12, `AP50 ${r.ap}, expected ${expected.ap}`);
  assert.ok(expected.dAP > 0);
  assert.ok(Math.abs(r.errors[planted] - expected.dAP) < 1e-12, `${planted}: dAP ${r.errors[planted]}, expected ${expected.dAP}`);
  assert.equal(r.counts[planted], expected.count);
  for (const other of TIDE_ERROR_TYPES) {
    if (other === planted) continue;
    assert.equal(r.errors[other], 0, `${other} dAP should be 0 when only ${planted} is planted`);
    assert.equal(r.counts[other], 0, `${other} count`);
  }
  return r;
}

test('no errors: AP50 1, every dAP 0', () => {
  const r = tideErrors(analysisInputs(GT, [perfectA, perfectB, perfectC]));
  assert.equal(r.ap, 1);
  assert.deepEqual(r.errors, { cls: 0, loc: 0, both: 0, dupe: 0, bkg: 0, miss: 0 });
  assert.deepEqual(r.special, { fp: 0, fn: 0 });
  assert.equal(r.truePositives, 3);
});

test('Cls: the right box with the wrong class; fixing it makes it the missing true positive', () => {
  // A is found only as class 2: class 1 reaches recall 0.5, class 2 ranks a false positive first.
  const base = (apUpTo(0.5) + 0.5) / 2;
  const r = check([det(A, 2, 0.95), perfectB, perfectC], 'cls', { ap: base, dAP: 1 - base, count: 1 });
  assert.deepEqual(r.detectionType, ['cls', 'tp', 'tp']);
  // A is pointed at by the Cls error, so it is not a Miss; FalseNeg removes it from the ground truth.
  assert.ok(r.special.fn > 0);
});

test('Cls on a box already found: fixing removes the detection', () => {
  const base = (1 + 0.5) / 2;
  check([perfectA, det(A, 2, 0.95), perfectB, perfectC], 'cls', { ap: base, dAP: 1 - base, count: 1 });
});

test('Loc: right class, IoU between t_b and t_f', () => {
  // Class 1: FP (0.9), TP (0.8): precision 1/2 up to recall 1/2.
  const base = (0.5 * apUpTo(0.5) + 1) / 2;
  const r = check([det(A_SHIFTED, 1, 0.9), perfectB, perfectC], 'loc', { ap: base, dAP: 1 - base, count: 1 });
  assert.deepEqual(r.detectionType, ['loc', 'tp', 'tp']);
});

test('Dupe: a second detection of a box already matched', () => {
  // Class 1: TP, FP, TP: precision 1 up to recall 1/2, then 2/3.
  const ap1 = (51 + 50 * (2 / 3)) / 101;
  const base = (ap1 + 1) / 2;
  check([perfectA, det(A_NEAR, 1, 0.85), perfectB, perfectC], 'dupe', { ap: base, dAP: 1 - base, count: 1 });
});

test('Bkg: a detection away from every box, and every detection on an image without boxes', () => {
  // Class 1: FP first, then two TPs: the envelope is 2/3 at every recall.
  const base = (2 / 3 + 1) / 2;
  check([det([500, 300, 50, 50], 1, 0.95), perfectA, perfectB, perfectC], 'bkg', { ap: base, dAP: 1 - base, count: 1 });
  check([det(A, 1, 0.95, 2), perfectA, perfectB, perfectC], 'bkg', { ap: base, dAP: 1 - base, count: 1 });
});

test('Both: wrong class and poorly localised', () => {
  // Class 2: FP then TP (C): AP 1/2.
  const base = (1 + 0.5) / 2;
  check([det(A_SHIFTED, 2, 0.95), perfectA, perfectB, perfectC], 'both', { ap: base, dAP: 1 - base, count: 1 });
});

test('Miss: a box no detection comes near', () => {
  const base = (apUpTo(0.5) + 1) / 2;
  const r = check([perfectA, perfectC], 'miss', { ap: base, dAP: 1 - base, count: 1 });
  assert.ok(Math.abs(r.special.fn - (1 - base)) < 1e-12, 'FalseNeg = Miss here');
  assert.equal(r.special.fp, 0);
});

test('best Cls/Loc match: only the highest-scoring error pointing at a box is fixed', () => {
  // Two Loc errors on A (0.9 and 0.6): fixing turns the 0.9 one into a TP and removes the other.
  const r = tideErrors(analysisInputs(GT, [det(A_SHIFTED, 1, 0.9), det([0, 40, 100, 100], 1, 0.6), perfectB, perfectC]));
  assert.equal(r.counts.loc, 2);
  assert.ok(Math.abs(r.errors.loc - (1 - r.ap)) < 1e-12, 'after the fix class 1 is perfect');
});

test('crowd regions absorb detections (neither error nor true positive); thresholds are validated', () => {
  const gt: CocoGroundTruthJson = {
    ...GT,
    annotations: [...GT.annotations, { id: 9, image_id: 1, category_id: 1, bbox: [0, 300, 200, 100], area: 2e4, iscrowd: 1 }],
  };
  const r = tideErrors(analysisInputs(gt, [det([10, 310, 50, 50], 1, 0.99), perfectA, perfectB, perfectC]));
  assert.deepEqual(r.detectionType, ['ignored', 'tp', 'tp', 'tp']);
  assert.equal(r.ap, 1);
  assert.throws(() => tideErrors(analysisInputs(GT, [perfectA]), { tf: 0.52 }), /not one of COCO's IoU thresholds/);
  assert.throws(() => tideErrors(analysisInputs(GT, [perfectA]), { tb: 0.6 }), /t_b < t_f/);
});
