// Evaluator options used by lib/analysis: recorded matches and per-detection range values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoGroundTruthJson, cocoBoxIou, prepareCocoGroundTruth, readCocoResults } from '../../lib/eval/coco';

const GT: CocoGroundTruthJson = {
  images: [{ id: 1 }, { id: 2 }],
  categories: [{ id: 1 }, { id: 2 }],
  annotations: [
    { id: 10, image_id: 2, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 11, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 12, image_id: 1, category_id: 1, bbox: [20, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 13, image_id: 1, category_id: 2, bbox: [0, 30, 40, 10], area: 400, iscrowd: 1 },
  ],
};

test('recordMatches: the matched annotation (input position) per IoU threshold; -1 when unmatched', () => {
  const dets = readCocoResults([
    { image_id: 1, category_id: 1, bbox: [21, 0, 10, 10], score: 0.9 }, // IoU 90/110 = 0.818 with annotation 2
    { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.8 }, // exact: annotation 1
    { image_id: 1, category_id: 2, bbox: [0, 30, 10, 10], score: 0.7 }, // inside the crowd region (annotation 3)
  ]);
  const m = prepareCocoGroundTruth(GT).matchDetections(dets, { recordMatches: true });
  const n = m.tpMask.length / 4;
  const at = (e: number, t: number) => m.matchedGt![t * n + e];
  // Entries are category-major, then by image and score: [det 0, det 1, det 2].
  assert.deepEqual(Array.from(m.detIndex), [0, 1, 2]);
  assert.deepEqual(
    [0, 6, 7].map((t) => at(0, t)),
    [2, 2, -1],
  ); // 0.818 >= 0.8 (t = 6), < 0.85 (t = 7)
  assert.deepEqual(
    [0, 9].map((t) => at(1, t)),
    [1, 1],
  );
  assert.equal(at(2, 0), 3); // the crowd region, and the entry is ignored
  assert.equal(m.ignoreMask[2] & 1, 1);
  assert.equal(prepareCocoGroundTruth(GT).matchDetections(dets).matchedGt, undefined);
});

test('areaForRanges replaces w*h in the range test of unmatched detections', () => {
  const gt = prepareCocoGroundTruth(GT);
  const dets = readCocoResults([{ image_id: 2, category_id: 1, bbox: [100, 100, 50, 50], score: 0.9 }]); // a 2500 px² false positive
  const small = 1;
  assert.equal(gt.matchDetections(dets).ignoreMask[small * 1] & 1, 1, 'outside "small" by its area: ignored there');
  const m = gt.matchDetections({ ...dets, areaForRanges: Float64Array.of(50) });
  assert.equal(m.ignoreMask[small * 1] & 1, 0, 'inside "small" by its range value: a false positive there');
});

test('cocoBoxIou follows bbIou: union over both areas, or the detection area for a crowd box', () => {
  assert.equal(cocoBoxIou(0, 0, 10, 10, 100, 5, 0, 10, 10, false), 50 / 150);
  assert.equal(cocoBoxIou(0, 0, 10, 10, 100, 5, 0, 10, 10, true), 50 / 100);
  assert.equal(cocoBoxIou(0, 0, 10, 10, 100, 10, 0, 10, 10, false), 0);
});
