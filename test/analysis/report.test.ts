// analyzeDetections: AP equal to the evaluator's, PR curves, AP by size and ratio, confusion matrix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { CocoGroundTruthJson, CocoResultJson, evaluateCoco } from '../../lib/eval/coco';
import { analysisInputs, analyzeDetections, apByRatio, confusionMatrix, formatAnalysis, topConfusions } from '../../lib/analysis';
import { makeRng } from '../../lib/util/seed';
import { assertClose, listCases, readJson } from '../eval/reference-cases';

test('ap at 0.5 / 0.75 equals pycocotools AP50 / AP75 on every reference case; PR curves average to the per-category AP', () => {
  let cases = 0;
  for (const dir of listCases('coco')) {
    const exp = readJson(path.join(dir, 'expected.json'));
    const gt = path.join(dir, 'gt.json');
    const dt = path.join(dir, 'dt.json');
    const a = analyzeDetections(gt, dt);
    const name = path.basename(dir);
    assertClose(a.ap['0.5'], exp.stats[1], `${name} ap 0.5`);
    assertClose(a.ap['0.75'], exp.stats[2], `${name} ap 0.75`);
    assertClose(a.ap['0.5:0.95'], exp.stats[0], `${name} ap`);
    a.apBySize.forEach((s, i) => assertClose(s.ap, exp.stats[3 + i], `${name} ${s.label}`));
    for (const c of a.prCurves) {
      const mean = c.precision.reduce((s, v) => s + v, 0) / c.precision.length;
      if (c.categoryId === null) {
        if (c.ap > -1) assert.ok(Math.abs(mean - c.ap) < 1e-12, `${name} mean curve at ${c.iouThreshold}: ${mean} vs ${c.ap}`);
      } else {
        const k = exp.per_category.find((p: any) => p.category_id === c.categoryId);
        assertClose(c.ap, c.iouThreshold === 0.5 ? k.ap50 : k.ap75, `${name} category ${c.categoryId} curve AP`);
        assert.ok(Math.abs(mean - c.ap) < 1e-12, `${name} category ${c.categoryId}: curve mean ${mean} vs AP ${c.ap}`);
      }
    }
    cases++;
  }
  assert.ok(cases >= 10);
});

/** Random boxes and detections: jittered copies of the GT (some with another class) plus noise. */
function generated(seed: number): { gt: CocoGroundTruthJson; dt: CocoResultJson[] } {
  const rng = makeRng(seed);
  const images = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, width: 300, height: 300 }));
  const categories = [1, 2, 3].map((id) => ({ id, name: `c${id}` }));
  const annotations: CocoGroundTruthJson['annotations'] = [];
  const dt: CocoResultJson[] = [];
  for (const im of images) {
    const n = Math.floor(rng() * 6);
    for (let k = 0; k < n; k++) {
      const w = 5 + rng() * 150;
      const h = w * Math.exp((rng() - 0.5) * 3);
      const bbox = [rng() * 150, rng() * 150, w, h];
      const category_id = 1 + Math.floor(rng() * 3);
      annotations.push({ id: annotations.length + 1, image_id: im.id, category_id, bbox, area: w * h, iscrowd: rng() < 0.05 ? 1 : 0 });
      for (let d = 0; d < 2; d++) {
        if (rng() < 0.3) continue;
        const jit = (v: number, s: number) => v + (rng() - 0.5) * s;
        dt.push({
          image_id: im.id,
          category_id: rng() < 0.15 ? 1 + Math.floor(rng() * 3) : category_id,
          bbox: [jit(bbox[0], w * 0.4), jit(bbox[1], h * 0.4), w * (0.7 + 0.6 * rng()), h * (0.7 + 0.6 * rng())],
          score: rng(),
        });
      }
    }
    for (let k = 0; k < 2; k++)
      dt.push({ image_id: im.id, category_id: 1 + Math.floor(rng() * 3), bbox: [rng() * 250, rng() * 250, 10 + rng() * 40, 10 + rng() * 40], score: rng() });
  }
  return { gt: { images, categories, annotations }, dt };
}

test('generated cases: ap equals the evaluator; one all-covering ratio bin equals AP over all boxes', () => {
  for (const seed of [1, 2, 3]) {
    const { gt, dt } = generated(seed);
    const r = evaluateCoco(gt, dt);
    const a = analyzeDetections(gt, dt);
    assert.equal(a.ap['0.5'], r.stats[1]);
    assert.equal(a.ap['0.75'], r.stats[2]);
    const [all, empty] = apByRatio(analysisInputs(gt, dt), [1e9]);
    assert.ok(Math.abs(all.ap - r.stats[0]) < 1e-12, `seed ${seed}: ${all.ap} vs ${r.stats[0]}`);
    assert.ok(Math.abs(all.ap50 - r.stats[1]) < 1e-12);
    assert.equal(empty.numGt, 0);
    assert.equal(empty.ap, -1);
    // The ratio bins partition the non-crowd boxes; the confusion rows count each box once.
    const nonCrowd = gt.annotations.filter((x) => !x.iscrowd).length;
    assert.equal(
      a.apByRatio.reduce((s, b) => s + b.numGt, 0),
      nonCrowd,
    );
    const K = a.categories.length;
    const rowTotal = a.confusion.matrix.slice(0, K).reduce((s, row) => s + row.reduce((x, y) => x + y, 0), 0);
    assert.equal(rowTotal, nonCrowd);
  }
});

test('AP by aspect ratio: each bin scores its own boxes, detections of other shapes do not count against it', () => {
  const gt: CocoGroundTruthJson = {
    images: [{ id: 1 }],
    categories: [{ id: 1, name: 'a' }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 20, 80], area: 1600, iscrowd: 0 }, // w/h 1/4
      { id: 2, image_id: 1, category_id: 1, bbox: [100, 0, 50, 50], area: 2500, iscrowd: 0 }, // square
    ],
  };
  const dt = [
    { image_id: 1, category_id: 1, bbox: [100, 0, 50, 50], score: 0.9 }, // finds the square
    { image_id: 1, category_id: 1, bbox: [200, 200, 90, 30], score: 0.95 }, // a wide false positive (w/h 3)
  ];
  const bins = apByRatio(analysisInputs(gt, dt));
  assert.deepEqual(
    bins.map((b) => b.label),
    ['w/h < 1/3', '1/3 .. 0.67', '0.67 .. 1.5', '1.5 .. 3', 'w/h >= 3'],
  );
  assert.deepEqual(
    bins.map((b) => b.numGt),
    [1, 0, 1, 0, 0],
  );
  assert.equal(bins[0].ap50, 0); // the tall box is never found
  assert.ok(Math.abs(bins[2].ap50 - 1) < 1e-12); // the wide false positive lies outside the square bin (precision tp / (tp + eps))
  // Over all boxes the wide false positive ranks first: AP50 < 1/2.
  assert.ok(evaluateCoco(gt, dt).stats[1] < 0.5);
});

test('confusion matrix: each box and each detection counted once, background row and column', () => {
  const A = [0, 0, 100, 100];
  const B = [200, 200, 100, 100];
  const C = [400, 0, 60, 60];
  const gt: CocoGroundTruthJson = {
    images: [{ id: 1 }],
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
  const d = (bbox: number[], category_id: number, score: number) => ({ image_id: 1, category_id, bbox, score });
  const dt = [
    d(A, 1, 0.9), // true positive
    d(A, 2, 0.8), // class 2 on A, which is taken: background row
    d(C, 1, 0.7), // class 1 on C: a confusion two -> one
    d([500, 300, 40, 40], 1, 0.6), // nothing there: background row
    d(B, 1, 0.2), // below the score threshold: B counts as missed
    // One class-1 detection over two class-2 boxes would be counted twice by mmdetection #10631.
  ];
  const cm = confusionMatrix(analysisInputs(gt, dt));
  assert.deepEqual(cm.labels, ['one', 'two', 'background']);
  assert.deepEqual(cm.matrix, [
    [1, 0, 1],
    [1, 0, 0],
    [1, 1, 0],
  ]);
  assert.deepEqual(topConfusions(cm), [{ gt: 'two', detected: 'one', n: 1 }]);

  const twoBoxes: CocoGroundTruthJson = {
    images: [{ id: 1 }],
    categories: [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ],
    annotations: [
      { id: 1, image_id: 1, category_id: 2, bbox: [0, 0, 100, 100], area: 1e4, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 2, bbox: [5, 0, 100, 100], area: 1e4, iscrowd: 0 },
    ],
  };
  const once = confusionMatrix(analysisInputs(twoBoxes, [d([2, 0, 100, 100], 1, 0.9)]));
  assert.deepEqual(once.matrix, [
    [0, 0, 0],
    [1, 0, 1],
    [0, 0, 0],
  ]);
});

test('formatAnalysis prints AP, the six error types and the confusion table', () => {
  const { gt, dt } = generated(4);
  const text = formatAnalysis(analyzeDetections(gt, dt));
  assert.match(text, /^12 images, 3 categories, \d+ boxes, \d+ detections/);
  for (const k of ['Cls', 'Loc', 'Both', 'Dupe', 'Bkg', 'Miss', 'FalsePos', 'FalseNeg']) assert.match(text, new RegExp(`${k} \\d+\\.\\d`));
  assert.match(text, /\n {2}bg +\d+/);
});
