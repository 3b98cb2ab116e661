// Anchor coverage report: BPR (IoU and YOLOv5's ratio metric), AAT, positives per box and level, CDF, grid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchorCoverageReport, anchorsForConfig, parseAnchorSpec, ratioMetric, tableOneConfig } from '../../lib/anchors';
import { coverageFigure } from '../../lib/anchors/coverage-figure';
import { iouPair } from '../../lib/box/iou';
import { anchorSetFromArg } from '../../lib/search/anchor-set';
import { makeRng } from '../../lib/util/seed';

/** Boxes on one 160 x 160 input. */
function onOneImage(boxes: number[]) {
  const n = boxes.length / 4;
  return { boxes: Float32Array.from(boxes), imageIndex: new Int32Array(n), inputHeightPx: Int32Array.of(160), inputWidthPx: Int32Array.of(160) };
}

test('ratio metric: the worst of the four side ratios', () => {
  assert.equal(ratioMetric(10, 50, 32, 32), 10 / 32);
  assert.equal(ratioMetric(64, 64, 32, 32), 0.5);
  assert.equal(ratioMetric(32, 16, 16, 32), 0.5);
});

test('one square anchor shape, a matching box and a tall box: hand-computed BPR, AAT, positives, CDF and grid', () => {
  // Anchor s:1,r:1 is 32 x 32 at P3 and doubles per level (64, 128, 256, 512).
  // Box 1: 32 x 32 centred on the P3 cell centre (36, 36): best IoU 1. Ratio metric against the five
  //   anchors: 1, 1/2, 1/4, 1/8, 1/16 -> two above 1/4 (1/4 itself is not above).
  //   P3 anchors shifted by one cell (8 px) along x or y keep IoU 24*32 / (2048 - 768) = 0.6; shifted
  //   diagonally 576 / 1472 = 0.39: 5 positives, all on P3 (64 x 64 anchors reach at most 1024 / 4096).
  // Box 2: 10 x 50 centred on (36, 84): best IoU 320 / (500 + 1024 - 320) with the P3 anchor there;
  //   ratio metric 10/32 = 0.3125 against the P3 anchor only: covered, AAT 1; no positive.
  const r = anchorCoverageReport(onOneImage([20, 20, 52, 52, 31, 59, 41, 109]), parseAnchorSpec('s:1,r:1'), { posIou: 0.5, anchorT: 4 });
  const tall = 320 / 1204;
  assert.equal(r.numBoxes, 2);
  assert.ok(Math.abs(r.meanBestIou - (1 + tall) / 2) < 1e-12);
  assert.equal(r.bprIou, 0.5);
  assert.equal(r.bprRatio, 1);
  assert.equal(r.aat, 1.5);
  assert.equal(r.positivesPerBox, 2.5);
  assert.equal(r.withoutPositive, 0.5);
  assert.deepEqual(
    r.levels.map((l) => [l.level, l.bestShare, l.positiveShare]),
    [
      [3, 1, 1],
      [4, 0, 0],
      [5, 0, 0],
      [6, 0, 0],
      [7, 0, 0],
    ],
  );
  // CDF: half the boxes have best IoU <= 0.27 (0.2658 rounds up to the 0.27 point), all by 1.
  assert.equal(r.bestIouCdf.fraction[26], 0);
  assert.equal(r.bestIouCdf.fraction[27], 0.5);
  assert.equal(r.bestIouCdf.fraction[99], 0.5);
  assert.equal(r.bestIouCdf.fraction[100], 1);
  // Grid: sqrt(wh) 32 and 22.4 px; w/h 1 and 0.2.
  assert.deepEqual(r.grid.sizeLabels.slice(0, 3), ['sqrt(wh) < 23', '23-45', '45-91']);
  assert.deepEqual(r.grid.ratioLabels, ['w/h < 1/3', '1/3-0.67', '0.67-1.5', '1.5-3', 'w/h >= 3']);
  assert.equal(r.grid.count[1][2], 1);
  assert.equal(r.grid.count[0][0], 1);
  assert.equal(r.grid.bprIou[1][2], 1);
  assert.equal(r.grid.bprIou[0][0], 0);
  assert.ok(Number.isNaN(r.grid.meanBestIou[2][2]));
  // At anchor_t 3 the tall box (0.3125 < 1/3) is not covered.
  assert.equal(anchorCoverageReport(onOneImage([20, 20, 52, 52, 31, 59, 41, 109]), parseAnchorSpec('s:1,r:1'), { anchorT: 3 }).bprRatio, 0.5);
});

test('positives per box equal a brute-force count over the whole anchor grid (3x3, random boxes, pos 0.5 and 0.6)', () => {
  const rng = makeRng(5);
  const boxes: number[] = [];
  for (let i = 0; i < 40; i++) {
    const w = 8 + rng() * 120;
    const h = w * Math.exp((rng() - 0.5) * 2.5);
    const x = rng() * (160 - w);
    const y = rng() * Math.max(1, 160 - h);
    boxes.push(x, y, x + w, Math.min(160, y + h));
  }
  const ib = onOneImage(boxes);
  const config = tableOneConfig('3x3');
  const { anchors, starts } = anchorsForConfig(config, 160, 160);
  for (const pos of [0.5, 0.6]) {
    let total = 0;
    const perLevel = new Array<number>(5).fill(0);
    let best = 0;
    for (let g = 0; g < 40; g++) {
      let top = 0;
      for (let a = 0; a < anchors.length / 4; a++) {
        const v = iouPair(anchors, a, ib.boxes, g);
        if (v > top) top = v;
        if (v >= pos) {
          total++;
          perLevel[[...starts].findIndex((s, l) => a >= s && a < starts[l + 1])]++;
        }
      }
      if (top >= pos) best++;
    }
    const r = anchorCoverageReport(ib, config, { posIou: pos });
    assert.equal(r.positivesPerBox, total / 40, `pos ${pos}`);
    assert.deepEqual(
      r.levels.map((l) => l.positiveShare),
      perLevel.map((c) => c / total),
    );
    assert.equal(r.bprIou, best / 40);
  }
});

test('anchor sets from specs and from anchor-search result files; the figure has four panels', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anchor-set-'));
  try {
    const file = path.join(dir, 'km.json');
    fs.writeFileSync(file, JSON.stringify({ method: 'kmeans', anchors: 'h:32,w:16;h:24,w:48' }));
    const fromFile = anchorSetFromArg(file);
    assert.equal(fromFile.name, 'kmeans (2)');
    assert.deepEqual(fromFile.shapes, parseAnchorSpec('h:32,w:16;h:24,w:48').shapes);
    assert.equal(anchorSetFromArg('5x5').name, '5x5');
    assert.equal(anchorSetFromArg('s:1,r:1;s:2,r:1;s:1,r:2;s:1,r:1/2').name, '4 anchors');
    assert.throws(() => anchorSetFromArg(path.join(dir, 'missing.json')), /not found/);
    fs.writeFileSync(file, '{"x": 1}');
    assert.throws(() => anchorSetFromArg(file), /no "anchors" spec/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const reports = ['3x3', '9x9'].map((a) => anchorCoverageReport(onOneImage([20, 20, 52, 52, 31, 59, 41, 109]), parseAnchorSpec(a)));
  const fig = coverageFigure(reports);
  const axes = new Set(fig.data.map((t) => String(t.xaxis ?? 'x')));
  assert.deepEqual([...axes].sort(), ['x', 'x2', 'x3', 'x4']);
  assert.equal(JSON.parse(JSON.stringify(fig)).data.filter((t: any) => t.type === 'heatmap').length, 1);
});
