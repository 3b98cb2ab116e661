import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableOneConfig } from '../../lib/anchors/config';
import { anchorCoverage } from '../../lib/anchors/coverage';
import { anchorsForConfig } from '../../lib/anchors/grid';
import { iouMatrix } from '../../lib/box/iou';
import { makeRng } from '../../lib/util/seed';

const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('coverage: hand-computed best anchors on a 64x64 image with 3x3 anchors', () => {
  const gt = Float32Array.from([
    2,
    2,
    34,
    34, //   32x32 centred (18,18). Nearest P3 centre (20,20): the (2^0, 1) anchor [4,36]² overlaps
    //                 30 px per axis: 900 / (1024 + 1024 - 900) = 225/287 = 0.783972. (At centre 12 it is
    //                 [-4,28]²: 676/1372 = 0.4927; the (2^(1/3), 1) anchor at 20 contains the box:
    //                 32²/(32·2^(1/3))² = 2^(-2/3) = 0.63; P4's 64 px anchors: <= 0.25.)
    //                 Index (y2·8 + x2)·9 + shape 1 = 163.
    -8,
    -8,
    56,
    56, // exactly the P4 (y1, x1) (2^0, 1) anchor: IoU 1, index 576 + (1·4 + 1)·9 + 1 = 622
    5,
    5,
    5,
    9, //     degenerate
  ]);
  const r = anchorCoverage(gt, { heightPx: 64, widthPx: 64 }, tableOneConfig('3x3'), {
    thresholds: [0.5, 0.6, 0.8],
    sizeEdgesPx: [48],
    logRatioEdges: [0],
  });
  near(r.bestIou[0], 225 / 287);
  assert.equal(r.bestShape[0], 1);
  assert.equal(r.bestLevel[0], 3);
  assert.equal(r.bestAnchorIndex[0], 163);
  near(r.bestIou[1], 1);
  assert.equal(r.bestLevel[1], 4);
  assert.equal(r.bestAnchorIndex[1], 622);
  assert.equal(r.bestIou[2], 0);
  assert.equal(r.bestAnchorIndex[2], -1);
  assert.equal(r.numDegenerate, 1);
  assert.deepEqual(r.fractionAtLeast, [1, 1, 0.5]);
  near(r.meanBestIou, (225 / 287 + 1) / 2);
  // sizes 32 and 64 px around the edge 48
  assert.deepEqual(
    r.bySize!.map((b) => [b.lo, b.hi, b.count]),
    [
      [-Infinity, 48, 1],
      [48, Infinity, 1],
    ],
  );
  near(r.bySize![0].meanBestIou, 225 / 287);
  assert.deepEqual(r.bySize![0].fractionAtLeast, [1, 1, 0]);
  // both square: ln(h/w) = 0 falls in [0, inf); the other bucket is empty (NaN)
  assert.equal(r.byLogRatio![0].count, 0);
  assert.ok(Number.isNaN(r.byLogRatio![0].meanBestIou));
  assert.equal(r.byLogRatio![1].count, 2);
});

test('coverage equals the brute-force maximum over the full anchor grid', () => {
  const rng = makeRng(9);
  const n = 300;
  const gt = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    // sizes 4..150 px, aspect ratios up to ~1:6, some crossing the border of the 96x160 image
    const w = 4 + rng() * 146,
      h = 4 + rng() * 146;
    const x = -20 + rng() * 180,
      y = -20 + rng() * 116;
    gt.set([x, y, x + w, y + h], 4 * i);
  }
  const config = tableOneConfig('5x5');
  for (const offset of [0.5, 0]) {
    const { anchors } = anchorsForConfig(config, 96, 160, { offset });
    const r = anchorCoverage(gt, { heightPx: 96, widthPx: 160 }, config, { offset });
    const m = iouMatrix(gt, anchors);
    const A = anchors.length / 4;
    let atHalf = 0;
    for (let g = 0; g < n; g++) {
      let best = 0;
      for (let a = 0; a < A; a++) best = Math.max(best, m[g * A + a]);
      near(r.bestIou[g], best, 1e-6);
      near(m[g * A + r.bestAnchorIndex[g]], best, 1e-6); // the reported index really reaches it
      if (best >= 0.5) atHalf++;
    }
    near(r.fractionAtLeast[0], atHalf / n, 1.5 / n); // float32 vs float64 rounding at the edge at most
    assert.ok(r.fractionAtLeast[0] > 0.3 && r.fractionAtLeast[0] < 1);
  }
});
