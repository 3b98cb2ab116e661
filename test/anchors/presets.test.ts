import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figureTwoConfig, meanStandardBoxP3, tableOneConfig } from '../../lib/anchors/config';
import { greedySearchCandidates } from '../../lib/anchors/metaanchor';
import { YOLOV2_COCO_ANCHORS_CELLS, YOLOV2_STANDARD_BOX_CELLS } from '../../lib/anchors/presets';

const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('Table 8 greedy-search grid: 7 scales x 23 ratios = 161 shapes', () => {
  const c = greedySearchCandidates();
  assert.equal(c.length, 161);
  const scales = [...new Set(c.map((s) => s.scale))];
  // {2^(k/5) | -2 < k < 6} = k -1..5: 2^-0.2 = 0.8705506 ... 2^1 = 2
  assert.equal(scales.length, 7);
  near(scales[0], 0.8705505633);
  assert.equal(scales[1], 1);
  assert.equal(scales[6], 2);
  const ratios = c.slice(0, 23).map((s) => s.ratioHW);
  assert.equal(new Set(c.map((s) => s.ratioHW)).size, 23);
  // ascending: 1/3, 1/2.0, 1/1.9, ..., 1/1.1, 1, 1.1, ..., 2.0, 3
  assert.deepEqual(ratios.slice(0, 3), [1 / 3, 0.5, 1 / 1.9]);
  assert.equal(ratios[10], 1 / 1.1);
  assert.equal(ratios[11], 1);
  assert.equal(ratios[12], 1.1);
  assert.equal(ratios[16], 1.5);
  assert.equal(ratios[21], 2);
  assert.equal(ratios[22], 3);
  for (let i = 1; i < 23; i++) assert.ok(ratios[i] > ratios[i - 1]);
  // Table 1's 3x3 ratios and scale 1 are members; 2^(1/3) is not (5ths only).
  for (const r of [0.5, 1, 2]) assert.ok(c.some((s) => s.scale === 1 && s.ratioHW === r));
  assert.ok(!c.some((s) => Math.abs(s.scale - Math.pow(2, 1 / 3)) < 1e-9));
});

test('Figure 2: five anchors of scale 2^0 and ratios 1/3..3; mean standard box', () => {
  const c = figureTwoConfig();
  assert.deepEqual(
    c.shapes.map((s) => s.ratioHW),
    [1 / 3, 1 / 2, 1, 2, 3],
  );
  assert.ok(c.shapes.every((s) => s.scale === 1));
  // heights 32·sqrt(r): 18.475, 22.627, 32, 45.255, 55.426 -> mean 34.756617; widths: same set
  near(c.standardBoxP3.heightPx, 34.756617);
  near(c.standardBoxP3.widthPx, 34.756617);
});

test('Table 1 standard boxes are close to (not equal to) the plain mean anchor size', () => {
  // Mean height at P3 = 32 · mean_k 2^(k/n) · mean_r sqrt(r); for 3x3: 32 · 1.282441 · 1.040440 = 42.6977.
  // 3x3 42.6977, 5x5 46.7478, 7x7 49.7576, 9x9 52.3757 vs printed 44, 45/47, 48/50, 53.
  const means = (['3x3', '5x5', '7x7', '9x9'] as const).map((n) => meanStandardBoxP3(tableOneConfig(n).shapes).heightPx);
  [42.6977, 46.7478, 49.7576, 52.3757].forEach((m, i) => near(means[i], m, 1e-4));
});

test('YOLOv2 COCO anchors: the standard box (4.18, 4.69) is their mean (height, width)', () => {
  assert.equal(YOLOV2_COCO_ANCHORS_CELLS.length, 5);
  const meanH = YOLOV2_COCO_ANCHORS_CELLS.reduce((s, a) => s + a.heightCells, 0) / 5; // 4.182063
  const meanW = YOLOV2_COCO_ANCHORS_CELLS.reduce((s, a) => s + a.widthCells, 0) / 5; // 4.687792
  near(meanH, 4.182063);
  near(meanW, 4.687792);
  assert.equal(Math.round(meanH * 100) / 100, YOLOV2_STANDARD_BOX_CELLS.heightCells);
  assert.equal(Math.round(meanW * 100) / 100, YOLOV2_STANDARD_BOX_CELLS.widthCells);
});
