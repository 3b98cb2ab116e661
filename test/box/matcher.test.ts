import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iouMatrix } from '../../lib/box/iou';
import { GT_CROWD, GT_DROPPED, RETINANET_MATCHER, matchAnchors } from '../../lib/box/matcher';
import { UserError } from '../../lib/util/errors';
import { makeRng } from '../../lib/util/seed';
import { ANCHORS, EXPECTED, FLAGS, GT } from './scene';

test('matcher: crafted scene with 0.5/0.4, low-quality, crowd, dropped and degenerate boxes', () => {
  const r = matchAnchors(ANCHORS, GT, RETINANET_MATCHER, FLAGS);
  assert.deepEqual(Array.from(r.matches), EXPECTED);
  assert.equal(r.numPositive, 7); // a0 a1 a6 a7 a9 a10 a18
  assert.equal(r.numIgnored, 7); // a2 a3 a11 a13 a14 a15 a16
  // maxIou over matchable boxes (crowd excluded): a2 = 100/240, a9 = 0.45, a14 = 0.09 (g6 only)
  assert.ok(Math.abs(r.maxIou[2] - 100 / 240) < 1e-7);
  assert.ok(Math.abs(r.maxIou[9] - 0.45) < 1e-7);
  assert.ok(Math.abs(r.maxIou[14] - 0.09) < 1e-7);
  assert.equal(r.maxIou[19], 0);
});

test('matcher: flag values are 0 normal, 1 crowd (COCO iscrowd), 2 dropped', () => {
  assert.equal(GT_CROWD, 1);
  assert.equal(GT_DROPPED, 2);
  const literal = Uint8Array.from([0, 0, 0, 0, 1, 2, 0, 0]);
  assert.deepEqual(Array.from(matchAnchors(ANCHORS, GT, RETINANET_MATCHER, literal).matches), EXPECTED);
});

test('matcher: without low-quality matches the ignore-band anchors of g1 and a9 stay ignored', () => {
  const r = matchAnchors(ANCHORS, GT, { ...RETINANET_MATCHER, allowLowQuality: false }, FLAGS);
  const expected = EXPECTED.slice();
  expected[6] = -2; // 0.444
  expected[7] = -2;
  expected[9] = -2; // 0.45
  assert.deepEqual(Array.from(r.matches), expected);
});

test('matcher: 0.6/0.5 moves the boundaries (0.5 -> ignore band, 0.4 -> background)', () => {
  const r = matchAnchors(ANCHORS, GT, { posIou: 0.6, negIou: 0.5, allowLowQuality: false }, FLAGS);
  const m = Array.from(r.matches);
  assert.equal(m[1], -2); // 0.5: not < 0.5, not >= 0.6
  assert.equal(m[2], -1); // 0.4167 < 0.5
  assert.equal(m[3], -1); // 0.4
  assert.equal(m[9], -1); // 0.45
  assert.equal(m[0], 0);
});

test('matcher: without flags the crowd and dropped boxes are ordinary GT boxes', () => {
  const r = matchAnchors(ANCHORS, GT, RETINANET_MATCHER);
  const m = Array.from(r.matches);
  assert.equal(m[14], 4); // IoU 1 with g4
  assert.equal(m[11], -1); // 900/10000 = 0.09 with g4, no crowd rule
  assert.equal(m[13], -1); // 1200/(1600+10000-1200) = 0.115
  assert.equal(m[15], 5);
  assert.equal(m[16], 5);
});

test('matcher: a GT box that overlaps no anchor promotes nothing (detectron2 would promote every anchor)', () => {
  const anchors = Float32Array.from([0, 0, 10, 10, 20, 0, 30, 10]);
  const r = matchAnchors(anchors, Float32Array.from([100, 100, 110, 110]), RETINANET_MATCHER);
  assert.deepEqual(Array.from(r.matches), [-1, -1]);
  const empty = matchAnchors(anchors, new Float32Array(0), RETINANET_MATCHER);
  assert.deepEqual(Array.from(empty.matches), [-1, -1]);
});

test('matcher agrees with a brute-force IoU matrix on a random scene', () => {
  const rng = makeRng(3);
  const rand = (n: number, maxSide: number) => {
    const out = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const x = rng() * 200,
        y = rng() * 200,
        w = 2 + rng() * maxSide,
        h = 2 + rng() * maxSide;
      out.set([x, y, x + w, y + h], 4 * i);
    }
    return out;
  };
  const anchors = rand(3000, 60);
  const gt = rand(12, 60);
  const r = matchAnchors(anchors, gt, { posIou: 0.5, negIou: 0.4, allowLowQuality: true });
  const m = iouMatrix(gt, anchors); // G x A, detectron2 layout
  const A = 3000,
    G = 12;
  const bestPerGt = new Array(G).fill(0);
  for (let g = 0; g < G; g++) for (let a = 0; a < A; a++) bestPerGt[g] = Math.max(bestPerGt[g], m[g * A + a]);
  for (let a = 0; a < A; a++) {
    let best = 0,
      arg = -1;
    for (let g = 0; g < G; g++)
      if (m[g * A + a] > best) {
        best = m[g * A + a];
        arg = g;
      }
    assert.ok(Math.abs(r.maxIou[a] - best) < 1e-6);
    let expected = best >= 0.5 ? arg : best < 0.4 ? -1 : -2;
    for (let g = 0; g < G; g++) if (bestPerGt[g] > 0 && m[g * A + a] === bestPerGt[g]) expected = arg;
    assert.equal(r.matches[a], expected, `anchor ${a}`);
  }
});

test('matcher: bad options and flags are UserErrors', () => {
  assert.throws(() => matchAnchors(ANCHORS, GT, { posIou: 0.4, negIou: 0.5 }), UserError);
  assert.throws(() => matchAnchors(ANCHORS, GT, { posIou: 0.5, negIou: 0 }), UserError);
  assert.throws(() => matchAnchors(ANCHORS, GT, RETINANET_MATCHER, new Uint8Array(3)), /3 GT flags for 8/);
  assert.throws(() => matchAnchors(ANCHORS, GT, RETINANET_MATCHER, new Uint8Array(8).fill(9)), /flag 9/);
});
