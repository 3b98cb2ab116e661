import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  CocoEvalResult,
  CocoGroundTruthJson,
  CocoResultJson,
  cocoDetectionsFromColumns,
  concatCocoDetections,
  evaluateCoco,
  formatCocoSummary,
  prepareCocoGroundTruth,
  readCocoResults,
} from '../../lib/eval/coco';
import { COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS, FLOAT64_EPS } from '../../lib/eval/coco-params';
import { formatFixed } from '../../lib/eval/py-compat';
import { UserError } from '../../lib/util/errors';
import { makeRng, shuffle } from '../../lib/util/seed';
import { literalCocoEval } from './coco-literal';
import { assertClose, listCases, readJson } from './reference-cases';

const A = 4;
const M = 3;
const R = 101;

function compareWithReference(r: CocoEvalResult, exp: any, name: string): number {
  let checked = 0;
  const close = (a: number, e: number, label: string): void => {
    assertClose(a, e, `${name} ${label}`);
    checked++;
  };
  assert.equal(r.stats.length, 12);
  exp.stats.forEach((v: number, i: number) => close(r.stats[i], v, `stats[${i}] ${exp.stats_names[i]}`));
  assert.equal(r.perCategory.length, exp.per_category.length, `${name}: number of categories`);
  exp.per_category.forEach((c: any, k: number) => {
    const o = r.perCategory[k];
    close(o.categoryId, c.category_id, `per_category[${k}].category_id`);
    close(o.ap, c.ap, `category ${c.category_id} ap`);
    close(o.ap50, c.ap50, `category ${c.category_id} ap50`);
    close(o.ap75, c.ap75, `category ${c.category_id} ap75`);
    close(o.ar100, c.ar100, `category ${c.category_id} ar100`);
    close(o.numGt, c.num_gt, `category ${c.category_id} num_gt`);
    close(o.numGtCrowd, c.num_gt_crowd, `category ${c.category_id} num_gt_crowd`);
    close(o.numDt, c.num_dt, `category ${c.category_id} num_dt`);
  });
  exp.per_iou.forEach((c: any, t: number) => {
    close(r.perIou[t].iouThreshold, c.iou_threshold, `per_iou[${t}].iou_threshold`);
    close(r.perIou[t].ap, c.ap, `per_iou[${t}].ap`);
    close(r.perIou[t].ar100, c.ar100, `per_iou[${t}].ar100`);
  });
  const c = exp.counts;
  close(r.counts.images, c.images, 'counts.images');
  close(r.counts.categories, c.categories, 'counts.categories');
  close(r.counts.gt, c.gt, 'counts.gt');
  close(r.counts.gtCrowd, c.gt_crowd, 'counts.gt_crowd');
  close(r.counts.dt, c.dt, 'counts.dt');
  close(r.counts.dtEvaluated, c.dt_evaluated, 'counts.dt_evaluated');
  const K = r.shape.K;
  assert.equal(r.precision.length, 10 * R * K * A * M);
  assert.equal(r.recall.length, 10 * K * A * M);
  if (exp.recall) {
    exp.recall.forEach((byK: number[][][], t: number) =>
      byK.forEach((byA, k) =>
        byA.forEach((byM, a) => byM.forEach((v, m) => close(r.recall[((t * K + k) * A + a) * M + m], v, `recall[${t}][${k}][${a}][${m}]`))),
      ),
    );
  }
  if (exp.precision_area_all_maxdet100) {
    exp.precision_area_all_maxdet100.forEach((byR: number[][], t: number) =>
      byR.forEach((byK, ri) =>
        byK.forEach((v, k) => close(r.precision[(((t * R + ri) * K + k) * A + 0) * M + 2], v, `precision[${t}][${ri}][${k}][all][100]`)),
      ),
    );
  }
  return checked;
}

for (const dir of listCases('coco')) {
  const name = path.basename(dir);
  test(`COCO reference case ${name}: every number of expected.json within 1e-9`, () => {
    const exp = readJson(path.join(dir, 'expected.json'));
    const r = evaluateCoco(path.join(dir, 'gt.json'), path.join(dir, 'dt.json'));
    const checked = compareWithReference(r, exp, name);
    assert.ok(checked > 12 + 10 * 3, `${name}: only ${checked} numbers compared`);
  });
}

test('thresholds are the np.linspace doubles', () => {
  assert.equal(COCO_IOU_THRESHOLDS[8], 0.8999999999999999);
  assert.equal(COCO_RECALL_THRESHOLDS[35], 0.35000000000000003);
  assert.equal(COCO_RECALL_THRESHOLDS[57], 0.5700000000000001);
  assert.equal(COCO_RECALL_THRESHOLDS[100], 1);
  const params = readJson(path.join(listCases('coco')[0], '..', 'params.json'));
  assert.deepEqual(Array.from(COCO_IOU_THRESHOLDS), params.iouThrs);
  assert.deepEqual(Array.from(COCO_RECALL_THRESHOLDS), params.recThrs);
});

// ---- small hand-made cases with numbers derived by hand ------------------------------------------

function gtOf(images: number[], categories: number[], anns: Array<[number, number, number[], number?, number?]>): CocoGroundTruthJson {
  return {
    images: images.map((id) => ({ id })),
    categories: categories.map((id) => ({ id })),
    annotations: anns.map(([imageId, categoryId, bbox, crowd, area], i) => ({
      id: i + 1,
      image_id: imageId,
      category_id: categoryId,
      bbox,
      area: area ?? bbox[2] * bbox[3],
      iscrowd: crowd ?? 0,
    })),
  };
}

test('score ties across images are ordered by image id, not by file order', () => {
  // Image 1 has a TP, image 2 a FP, same score; the FP comes first in the file. Accumulate orders
  // ties by image id, so the sequence is TP, FP: precision 1/(1+eps) up to recall 0.5.
  const gt = gtOf(
    [1, 2],
    [7],
    [
      [1, 7, [0, 0, 10, 10]],
      [2, 7, [0, 0, 10, 10]],
    ],
  );
  const dt: CocoResultJson[] = [
    { image_id: 2, category_id: 7, bbox: [50, 50, 10, 10], score: 0.9 },
    { image_id: 1, category_id: 7, bbox: [0, 0, 10, 10], score: 0.9 },
  ];
  const r = evaluateCoco(gt, dt);
  const p = 1 / (1 + FLOAT64_EPS);
  assertClose(r.stats[1], (51 * p) / 101, 'AP50');
  assertClose(r.stats[8], 0.5, 'AR100');
});

test('the 100-detection limit is per image and category, not per image', () => {
  // One image, two categories with 60 GT each, each detected exactly with distinct scores.
  const anns: Array<[number, number, number[]]> = [];
  const dt: CocoResultJson[] = [];
  for (const cat of [1, 2]) {
    for (let i = 0; i < 60; i++) {
      const box = [i * 20, cat * 100, 10, 10];
      anns.push([1, cat, box]);
      dt.push({ image_id: 1, category_id: cat, bbox: box, score: 1 - i / 100 });
    }
  }
  const r = evaluateCoco(gtOf([1], [1, 2], anns), dt);
  assertClose(r.stats[8], 1, 'AR100');
  assertClose(r.stats[7], 10 / 60, 'AR10');
  assertClose(r.stats[6], 1 / 60, 'AR1');
  assert.equal(r.counts.dtEvaluated, 120);
});

test('area ranges use the "area" field with inclusive ends; crowd GT absorbs detections', () => {
  // Box 40x40 (w*h = 1600) with area field exactly 1024: small AND medium, not large.
  const gt = gtOf(
    [1],
    [1],
    [
      [1, 1, [0, 0, 40, 40], 0, 1024],
      [1, 1, [200, 200, 100, 100], 1],
    ],
  );
  const dt: CocoResultJson[] = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 40, 40], score: 0.5 },
    // Inside the crowd region: matched to it at every threshold, so ignored rather than FP.
    { image_id: 1, category_id: 1, bbox: [210, 210, 20, 20], score: 0.9 },
    { image_id: 1, category_id: 1, bbox: [250, 250, 30, 30], score: 0.8 },
  ];
  const r = evaluateCoco(gt, dt);
  const p = 1 / (1 + FLOAT64_EPS);
  assertClose(r.stats[0], p, 'AP');
  assertClose(r.stats[3], p, 'APs (area 1024 is small)');
  assertClose(r.stats[4], p, 'APm (area 1024 is medium)');
  assert.equal(r.stats[5], -1, 'APl: no non-crowd GT in range');
  assert.equal(r.perCategory[0].numGt, 1);
  assert.equal(r.perCategory[0].numGtCrowd, 1);
});

test('extra fields on detections are ignored; GT annotation id 0 matches like any other id', () => {
  const gt = gtOf(
    [1],
    [3],
    [
      [1, 3, [10, 10, 20, 20]],
      [1, 3, [100, 10, 20, 20]],
    ],
  );
  gt.annotations[0].id = 0; // pycocotools would never count a match with GT id 0 as a TP
  const plain: CocoResultJson[] = [
    { image_id: 1, category_id: 3, bbox: [10, 10, 20, 20], score: 0.7 },
    { image_id: 1, category_id: 3, bbox: [101, 10, 20, 20], score: 0.6 },
  ];
  const extra = plain.map((d, i) => ({ ...d, area: 5, id: 100 - i, iscrowd: 1, segmentation: [] }));
  const a = evaluateCoco(gt, plain);
  const b = evaluateCoco(gt, extra);
  assert.deepEqual(b.stats, a.stats);
  assert.deepEqual(b.precision, a.precision);
  assertClose(a.stats[1], 1 / (1 + FLOAT64_EPS), 'AP50 with GT id 0');
});

test('prepared ground truth reused across detection sets gives the same results as fresh evaluation', () => {
  const dir = listCases('coco').find((d) => path.basename(d) === 'random_06_50img_80cat') ?? listCases('coco')[0];
  const gtJson = readJson<CocoGroundTruthJson>(path.join(dir, 'gt.json'));
  const dtJson = readJson<CocoResultJson[]>(path.join(dir, 'dt.json'));
  const prepared = prepareCocoGroundTruth(gtJson);
  const half = dtJson.filter((_, i) => i % 2 === 0);
  const shifted = dtJson.map((d) => ({ ...d, bbox: [d.bbox[0] + 3, d.bbox[1] - 2, d.bbox[2], d.bbox[3]], score: 1 - d.score }));
  for (const dets of [dtJson, half, shifted, [], dtJson]) {
    const reused = prepared.evaluate(dets);
    const fresh = evaluateCoco(structuredClone(gtJson), dets);
    assert.deepEqual(reused.stats, fresh.stats);
    assert.deepEqual(reused.precision, fresh.precision);
    assert.deepEqual(reused.recall, fresh.recall);
    assert.deepEqual(reused.perCategory, fresh.perCategory);
  }
  // Columns built in memory, split and concatenated, are the same detections.
  const cols = readCocoResults(dtJson);
  const cut = Math.floor(cols.count / 3);
  const slice = (from: number, to: number) =>
    cocoDetectionsFromColumns({
      imageId: cols.imageId.slice(from, to),
      categoryId: cols.categoryId.slice(from, to),
      boxXYWH: cols.boxXYWH.slice(4 * from, 4 * to),
      score: cols.score.slice(from, to),
    });
  const joined = concatCocoDetections([slice(0, cut), slice(cut, cols.count)]);
  assert.deepEqual(prepared.evaluate(joined).stats, prepared.evaluate(dtJson).stats);
});

test('evaluating a subset of images equals evaluating ground truth and detections filtered to it', () => {
  for (const caseName of ['random_04_10img_3cat', 'random_06_50img_80cat', 'images_without_gt']) {
    const dir = listCases('coco').find((d) => path.basename(d) === caseName);
    if (!dir) continue;
    const gtJson = readJson<CocoGroundTruthJson>(path.join(dir, 'gt.json'));
    const dtJson = readJson<CocoResultJson[]>(path.join(dir, 'dt.json'));
    const ids = gtJson.images.map((im) => im.id).filter((_, i) => i % 3 !== 1);
    const keep = new Set(ids);
    const filteredGt: CocoGroundTruthJson = {
      ...gtJson,
      images: gtJson.images.filter((im) => keep.has(im.id)),
      annotations: gtJson.annotations.filter((a) => keep.has(a.image_id)),
    };
    const subset = prepareCocoGroundTruth(gtJson).evaluate(dtJson, { imageIds: ids.slice().reverse() });
    const filtered = evaluateCoco(
      filteredGt,
      dtJson.filter((d) => keep.has(d.image_id)),
    );
    assert.deepEqual(subset.stats, filtered.stats, caseName);
    assert.deepEqual(subset.precision, filtered.precision, caseName);
    assert.deepEqual(subset.recall, filtered.recall, caseName);
    assert.deepEqual(subset.perCategory, filtered.perCategory, caseName);
    assert.deepEqual(
      subset.imageIds,
      [...ids].sort((a, b) => a - b),
    );
    assert.equal(subset.counts.dt, dtJson.length);
    assert.equal(subset.counts.dtEvaluated, filtered.counts.dtEvaluated);
  }
});

// ---- bad input -------------------------------------------------------------------------------------

function assertUserError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    for (const p of patterns) assert.match(err.message, p);
    assert.ok(err.hint && err.hint.length > 0, 'a UserError should say what to do');
    return true;
  });
}

test('bad detections are UserErrors naming the entry, its content and what to do', () => {
  const gt = gtOf([1, 2], [1], [[1, 1, [0, 0, 10, 10]]]);
  const ok = { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 };
  const run = (dets: unknown) => evaluateCoco(gt, dets as CocoResultJson[]);
  assertUserError(() => run([ok, ok, { ...ok, image_id: 99 }]), /detection #2/, /image_id 99/, /"image_id":99/);
  assertUserError(() => run([ok, { ...ok, bbox: [0, 0, 10] }]), /detection #1/, /malformed bbox/, /"bbox":\[0,0,10\]/);
  assertUserError(() => run([{ ...ok, bbox: [0, 0, -1, 5] }]), /detection #0/, /malformed bbox/);
  assertUserError(() => run([{ ...ok, bbox: [0, NaN, 1, 5] }]), /detection #0/, /malformed bbox/);
  assertUserError(() => run([{ ...ok, bbox: '0 0 1 5' }]), /detection #0/, /malformed bbox/);
  const { score: _score, ...noScore } = ok;
  assertUserError(() => run([ok, noScore]), /detection #1/, /no "score"/);
  assertUserError(() => run([{ ...ok, category_id: '1' }]), /detection #0/, /"category_id"/);
  assertUserError(() => run([ok, null]), /detection #1/, /not an object/);
  assertUserError(() => run({ annotations: [] }), /must be a JSON array/);
  assertUserError(() => prepareCocoGroundTruth(gt).evaluate([ok], { imageIds: [1, 3] }), /imageIds\[1\] = 3/);
  assertUserError(() => evaluateCoco(gt, '/nonexistent/results.json'), /cannot read detection results file/);
});

test('bad ground truth is a UserError naming the annotation', () => {
  const good = gtOf(
    [1],
    [1],
    [
      [1, 1, [0, 0, 10, 10]],
      [1, 1, [5, 5, 10, 10]],
    ],
  );
  const withAnn = (i: number, patch: Record<string, unknown>, drop?: string): CocoGroundTruthJson => {
    const g = structuredClone(good);
    const ann = { ...g.annotations[i], ...patch } as Record<string, unknown>;
    if (drop) delete ann[drop];
    g.annotations[i] = ann as any;
    return g;
  };
  assertUserError(() => prepareCocoGroundTruth(withAnn(1, {}, 'area')), /annotations\[1\]/, /no "area"/);
  assertUserError(() => prepareCocoGroundTruth(withAnn(1, {}, 'iscrowd')), /annotations\[1\]/, /iscrowd/);
  assertUserError(() => prepareCocoGroundTruth(withAnn(0, { bbox: [1, 2, 3] })), /annotations\[0\]/, /malformed bbox/);
  assertUserError(() => prepareCocoGroundTruth(withAnn(1, { image_id: 5 })), /annotations\[1\]/, /image_id 5/);
  assertUserError(() => prepareCocoGroundTruth(withAnn(1, { category_id: 9 })), /annotations\[1\]/, /category_id 9/);
  assertUserError(() => prepareCocoGroundTruth(withAnn(1, { id: 1 })), /annotations\[1\]/, /repeats the id of annotations\[0\]/);
  const { annotations: _a, ...noAnnotations } = good;
  assertUserError(() => prepareCocoGroundTruth(noAnnotations as CocoGroundTruthJson), /no "annotations" array/);
  assertUserError(() => prepareCocoGroundTruth([] as unknown as CocoGroundTruthJson), /must be a JSON object/);
});

// ---- printed summary -----------------------------------------------------------------------------

test('summary lines are pycocotools text, with Python rounding (ties to even)', () => {
  const stats = [0.0625, 0.5, 0.25, -1, 0.3125, 1, 0.1, 0.2, 0.3, 0.4, 0.6, 0.70051];
  const lines = formatCocoSummary(stats);
  assert.equal(lines.length, 12);
  assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.062');
  assert.equal(lines[1], ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.500');
  assert.equal(lines[2], ' Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.250');
  assert.equal(lines[3], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
  assert.equal(lines[4], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = 0.312');
  assert.equal(lines[5], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 1.000');
  assert.equal(lines[6], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.100');
  assert.equal(lines[7], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 0.200');
  assert.equal(lines[11], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.701');
  assert.equal(formatFixed(0.1875, 3), '0.188');
  assert.equal(formatFixed(2.5, 0), '2');
  assert.equal(formatFixed(0.8125, 3), '0.812');
});

// ---- randomised comparison with a literal port of pycocotools ------------------------------------

function randomCase(seed: number): { gt: CocoGroundTruthJson; dt: CocoResultJson[] } {
  const rng = makeRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  const imageIds = shuffle(
    Array.from({ length: 40 }, (_, i) => i + 1),
    rng,
  ).slice(0, 1 + Math.floor(rng() * 6));
  const categoryIds = shuffle([1, 3, 7, 12, 90], rng).slice(0, 1 + Math.floor(rng() * 4));
  const gt: CocoGroundTruthJson = { images: imageIds.map((id) => ({ id })), categories: categoryIds.map((id) => ({ id })), annotations: [] };
  const dt: CocoResultJson[] = [];
  const grid = (max: number, step: number) => step * Math.floor(rng() * (max / step + 1));
  for (const imageId of imageIds) {
    for (const categoryId of categoryIds) {
      const boxes: number[][] = [];
      const nGt = Math.floor(rng() * 5);
      for (let g = 0; g < nGt; g++) {
        // Coarse grid: equal IoUs with several GTs and repeated GT boxes are common.
        const box = rng() < 0.2 && boxes.length > 0 ? [...pick(boxes)] : [grid(100, 10), grid(100, 10), 10 + grid(100, 10), 10 + grid(100, 10)];
        boxes.push(box);
        const area = pick([box[2] * box[3], 1024, 9216, box[2] * box[3] * 0.6, 32 * 32 + 1, 96 * 96 - 1]);
        gt.annotations.push({ id: gt.annotations.length + 1, image_id: imageId, category_id: categoryId, bbox: box, area, iscrowd: rng() < 0.15 ? 1 : 0 });
      }
      const nDt = rng() < 0.08 ? 100 + Math.floor(rng() * 30) : Math.floor(rng() * 7);
      for (let d = 0; d < nDt; d++) {
        let box: number[];
        if (boxes.length > 0 && rng() < 0.6) {
          const src = pick(boxes);
          box = rng() < 0.4 ? [...src] : [src[0] + grid(10, 5) - 5, src[1] + grid(10, 5) - 5, src[2] + grid(10, 5), src[3] + grid(10, 5)];
        } else {
          box = [grid(150, 5), grid(150, 5), 5 + grid(120, 5), 5 + grid(120, 5)];
        }
        // Scores on a 0.1 grid: ties inside images and across images.
        dt.push({ image_id: imageId, category_id: rng() < 0.05 ? 55 : categoryId, bbox: box, score: Math.round(rng() * 10) / 10 });
      }
    }
  }
  shuffle(dt, rng);
  return { gt, dt };
}

test('random inputs with many ties, crowds and area-boundary GT: identical to a literal pycocotools port', () => {
  let compared = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const { gt, dt } = randomCase(seed);
    const fast = evaluateCoco(gt, dt);
    const literal = literalCocoEval(gt, dt);
    assert.deepEqual(Array.from(fast.precision), literal.precision, `seed ${seed}: precision`);
    assert.deepEqual(Array.from(fast.recall), literal.recall, `seed ${seed}: recall`);
    compared += literal.precision.filter((v) => v > 0).length;
  }
  assert.ok(compared > 10000, `too few informative precision entries (${compared})`);
});

test('real-photo annotations (official sparse COCO category ids) evaluated against themselves', () => {
  const file = path.resolve(__dirname, '../fixtures/photos/annotations.json');
  const gt = readJson<CocoGroundTruthJson>(file);
  const dets: CocoResultJson[] = gt.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 1 }));
  const r = evaluateCoco(file, dets);
  const p = 1 / (1 + FLOAT64_EPS);
  assertClose(r.stats[0], p, 'AP');
  assertClose(r.stats[8], 1, 'AR100');
  const present = new Set(gt.annotations.map((a) => a.category_id));
  for (const c of r.perCategory) {
    if (present.has(c.categoryId)) assertClose(c.ap, p, `category ${c.categoryId}`);
    else assert.equal(c.ap, -1, `category ${c.categoryId} has no GT`);
  }
  assert.deepEqual(
    r.perCategory.filter((c) => c.ap !== -1).map((c) => c.categoryId),
    [1, 17, 47, 50, 67],
  );
  assert.equal(r.counts.images, 4);
  assert.equal(r.counts.gt, 5);
});
