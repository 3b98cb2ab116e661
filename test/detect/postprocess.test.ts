import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatDetections, detectionCandidates, finalizeDetections, postprocessImage, toCocoResults } from '../../lib/detect/postprocess';

const logit = (p: number) => Math.log(p / (1 - p));

// Two levels: level 0 has anchors 0,1 ; level 1 has anchor 2. K = 2 classes.
const anchors = Float32Array.from([0, 0, 10, 10, /**/ 1, 1, 11, 11, /**/ 20, 20, 40, 40]);
const levelStarts = [0, 2, 3];
const deltas = new Float32Array(12); // zero deltas: boxes = anchors
// [anchor][class]: a0 = (0.9, 0.01), a1 = (0.8, 0.06), a2 = (0.04, 0.7)
const logits = Float32Array.from([0.9, 0.01, 0.8, 0.06, 0.04, 0.7].map(logit));

test('candidates: score threshold 0.05 in logit space, per-level top-k, sigmoid scores', () => {
  const c = detectionCandidates(logits, deltas, anchors, levelStarts, 2, { scoreThresh: 0.05, topkPerLevel: 1000 });
  // kept in per-level flat order: (a0,c0) 0.9, (a1,c0) 0.8, (a1,c1) 0.06, then level 1 (a2,c1) 0.7
  assert.deepEqual(Array.from(c.classes), [0, 0, 1, 1]);
  assert.deepEqual(
    Array.from(c.scores).map((s) => +s.toFixed(6)),
    [0.9, 0.8, 0.06, 0.7],
  );
  assert.deepEqual(Array.from(c.boxes.slice(0, 4)), [0, 0, 10, 10]);
  const top1 = detectionCandidates(logits, deltas, anchors, levelStarts, 2, { scoreThresh: 0.05, topkPerLevel: 1 });
  assert.deepEqual(
    Array.from(top1.scores).map((s) => +s.toFixed(6)),
    [0.9, 0.7],
  );
});

test('NMS is per class: overlapping boxes of one class suppress, other classes do not', () => {
  // a0 and a1 overlap with IoU 81/119 = 0.68 > 0.5: (a1,c0) is suppressed by (a0,c0); (a1,c1) survives.
  const d = postprocessImage(logits, deltas, anchors, levelStarts, 2, { scoreThresh: 0.05, topkPerLevel: 1000, nmsIou: 0.5, maxDetections: 100 });
  assert.deepEqual(
    Array.from(d.scores).map((s) => +s.toFixed(6)),
    [0.9, 0.7, 0.06],
  );
  assert.deepEqual(Array.from(d.classes), [0, 1, 1]);
  const d2 = finalizeDetections(concatDetections([d, d]), { nmsIou: 0.5, maxDetections: 2 });
  assert.deepEqual(
    Array.from(d2.scores).map((s) => +s.toFixed(6)),
    [0.9, 0.7],
  );
});

test('deltas decode relative to the anchor, boxes are clipped to the image', () => {
  const dl = new Float32Array(12);
  dl[8] = 0.5; // anchor 2 (w = 20): dx = 0.5 moves the centre by +10 px
  dl[11] = Math.log(2); // dh doubles the height: 40
  const c = detectionCandidates(logits, dl, anchors, levelStarts, 2, { scoreThresh: 0.5, topkPerLevel: 10 }, { heightPx: 50, widthPx: 45 });
  // a2 centre (30,30) -> (40,30), w 20, h 40 -> [30, 10, 50, 50], clipped to width 45
  const i = Array.from(c.scores).findIndex((s) => Math.abs(s - 0.7) < 1e-6);
  assert.deepEqual(Array.from(c.boxes.slice(4 * i, 4 * i + 4)), [30, 10, 45, 50]);
});

test('COCO results: xywh in original pixels and dataset category ids', () => {
  const d = { boxes: Float32Array.from([10, 20, 30, 60]), scores: Float32Array.from([0.5]), classes: Int32Array.from([1]) };
  const r = toCocoResults(d, 42, [1, 7], (b) => [b[0] / 2, b[1] / 2, b[2] / 2, b[3] / 2]);
  assert.deepEqual(r, [{ image_id: 42, category_id: 7, bbox: [5, 10, 10, 20], score: 0.5 }]);
  assert.throws(() => toCocoResults(d, 1, [1]), /class index 1 has no category id/);
});
