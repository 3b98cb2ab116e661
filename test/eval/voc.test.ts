import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateVoc, formatVocReport, VOC07_RECALL_THRESHOLDS, VocDetection, VocGroundTruthBox } from '../../lib/eval/voc';
import { parseVocDetections, readVocAnnotation, readVocImageSet } from '../../lib/eval/voc-annotations';
import { UserError } from '../../lib/util/errors';
import { assertClose, listCases, readJson } from './reference-cases';

interface VocCase {
  classes: string[];
  iou_threshold: number;
  images: string[];
  gt: Array<{ image: string; class: string; bbox: number[]; difficult: number }>;
  detections: Array<{ image: string; class: string; score: number; bbox: number[] }>;
}

function inputOf(c: VocCase) {
  return {
    classes: c.classes,
    images: c.images,
    groundTruth: c.gt.map((g): VocGroundTruthBox => ({ image: g.image, className: g.class, bbox: g.bbox, difficult: g.difficult })),
    detections: c.detections.map((d): VocDetection => ({ image: d.image, className: d.class, score: d.score, bbox: d.bbox })),
  };
}

for (const dir of listCases('voc')) {
  const name = path.basename(dir);
  test(`VOC reference case ${name}: per-class AP (11-point and all-point), outcomes, rec/prec, mAP within 1e-9`, () => {
    const c = readJson<VocCase>(path.join(dir, 'case.json'));
    const exp = readJson(path.join(dir, 'expected.json'));
    const r = evaluateVoc(inputOf(c), { iouThreshold: c.iou_threshold });
    const all = evaluateVoc(inputOf(c), { iouThreshold: c.iou_threshold, metric: 'all-point' });
    assert.equal(r.perClass.length, exp.per_class.length);
    exp.per_class.forEach((e: any, k: number) => {
      const o = r.perClass[k];
      const label = `${name} ${e.class}`;
      assert.equal(o.className, e.class);
      assert.equal(o.npos, e.npos, `${label} npos`);
      assert.equal(o.numDets, e.num_dets, `${label} num_dets`);
      assertClose(o.ap, e.ap, `${label} ap`);
      assertClose(o.ap11Point, e.ap, `${label} ap11Point`);
      assertClose(o.apAllPoint, e.ap_all_point, `${label} ap_all_point`);
      assertClose(all.perClass[k].ap, e.ap_all_point, `${label} ap with metric all-point`);
      if (e.det_order) {
        assert.deepEqual(Array.from(o.detOrder), e.det_order, `${label} det_order`);
        assert.deepEqual(o.detOutcome, e.det_outcome, `${label} det_outcome`);
        e.rec.forEach((v: number | null, i: number) => assertClose(o.rec[i], v, `${label} rec[${i}]`));
        e.prec.forEach((v: number, i: number) => assertClose(o.prec[i], v, `${label} prec[${i}]`));
      }
    });
    assertClose(r.mAP, exp.mAP, `${name} mAP`);
    assertClose(r.mAP11Point, exp.mAP, `${name} mAP11Point`);
    assertClose(r.mAPAllPoint, exp.mAP_all_point, `${name} mAP_all_point`);
    assertClose(all.mAP, exp.mAP_all_point, `${name} mAP with metric all-point`);
    assert.deepEqual(Array.from(VOC07_RECALL_THRESHOLDS), exp.voc07_recall_thresholds);
  });
}

test('VOC07 recall thresholds are np.arange doubles: a recall of exactly 0.3 does not reach 0.30000000000000004', () => {
  // 10 GT, 3 exact detections: recall 0.3 at precision 1 -> thresholds 0, 0.1, 0.2 only -> 3/11.
  const groundTruth: VocGroundTruthBox[] = [];
  const detections: VocDetection[] = [];
  for (let i = 0; i < 10; i++) {
    const bbox = [i * 50, 0, i * 50 + 20, 20];
    groundTruth.push({ image: 'a', className: 'x', bbox, difficult: 0 });
    if (i < 3) detections.push({ image: 'a', className: 'x', score: 1 - i / 10, bbox });
  }
  const r = evaluateVoc({ classes: ['x'], groundTruth, detections });
  assert.equal(r.perClass[0].ap, 1 / 11 + 1 / 11 + 1 / 11);
  // All-point: recall 0 -> 0.3 at precision 1.
  assertClose(r.perClass[0].apAllPoint, 0.3, 'all-point');
});

test('IoU uses inclusive pixels and must exceed 0.5 strictly; a second detection of a matched GT is a FP', () => {
  // GT 0..9 (10 px). Det 0..4 overlaps 5 px of 10 -> IoU 5/10 = 0.5 exactly: not a match.
  const gt: VocGroundTruthBox[] = [{ image: 'a', className: 'x', bbox: [0, 0, 9, 0], difficult: false }];
  const half = evaluateVoc({ classes: ['x'], groundTruth: gt, detections: [{ image: 'a', className: 'x', score: 1, bbox: [0, 0, 4, 0] }] });
  assert.deepEqual(half.perClass[0].detOutcome, ['fp']);
  // Det 0..5: 6/10 > 0.5 -> TP; the same box again -> FP (no fallback to another GT).
  const dup = evaluateVoc({
    classes: ['x'],
    groundTruth: gt,
    detections: [
      { image: 'a', className: 'x', score: 0.9, bbox: [0, 0, 5, 0] },
      { image: 'a', className: 'x', score: 0.8, bbox: [0, 0, 9, 0] },
    ],
  });
  assert.deepEqual(dup.perClass[0].detOutcome, ['tp', 'fp']);
});

test('classes without detections score 0; classes without non-difficult GT are left out of the mean and named', () => {
  const r = evaluateVoc({
    classes: ['cat', 'dog', 'bird'],
    groundTruth: [
      { image: 'a', className: 'cat', bbox: [0, 0, 10, 10], difficult: 0 },
      { image: 'a', className: 'dog', bbox: [70, 70, 90, 90], difficult: 0 },
      { image: 'a', className: 'bird', bbox: [20, 20, 40, 40], difficult: 1 },
    ],
    detections: [
      { image: 'a', className: 'cat', score: 0.9, bbox: [0, 0, 10, 10] },
      { image: 'a', className: 'bird', score: 0.9, bbox: [50, 50, 60, 60] },
    ],
  });
  assert.equal(r.perClass[0].ap, 1 + 2.220446049250313e-16); // eleven 1/11 summed in sequence
  assert.equal(r.perClass[1].ap, 0);
  assert.equal(r.perClass[1].apAllPoint, 0);
  assert.equal(r.perClass[2].npos, 0);
  assert.equal(r.perClass[2].ap, 0);
  assert.ok(Number.isNaN(r.perClass[2].apAllPoint));
  assertClose(r.mAP, (1 + 2.220446049250313e-16) / 2, 'mAP averages the classes with ground truth');
  assertClose(r.mAPAllPoint, 0.5, 'all-point mAP over the same classes');
  assert.deepEqual(r.classesWithoutGroundTruth, ['bird']);
  assert.deepEqual(formatVocReport(r).slice(2), [
    'AP for bird = -     (no ground truth)',
    'Mean AP = 0.5000  (VOC07 11-point, IoU > 0.5, 2 classes with ground truth)',
    'left out of the mean, no ground truth in the image set: bird',
  ]);
  // No class with ground truth at all: an error, not "Mean AP = NaN".
  assert.throws(
    () => evaluateVoc({ classes: ['bird'], groundTruth: [{ image: 'a', className: 'bird', bbox: [1, 1, 5, 5], difficult: 1 }], detections: [] }),
    (err: unknown) =>
      err instanceof UserError && err.message === 'none of the 1 evaluated classes (bird) has ground truth in the 1 images: there is nothing to average',
  );
});

test('a detection on an image outside the image set is a UserError', () => {
  assert.throws(
    () => evaluateVoc({ classes: ['x'], images: ['a'], groundTruth: [], detections: [{ image: 'b', className: 'x', score: 1, bbox: [0, 0, 1, 1] }] }),
    (err: unknown) => err instanceof UserError && /detection #0 is on image "b"/.test(err.message),
  );
  assert.throws(
    () => evaluateVoc({ classes: ['x'], groundTruth: [], detections: [{ image: 'b', className: 'x', score: 1, bbox: [0, 0, 1] }] }),
    (err: unknown) => err instanceof UserError && /malformed bbox/.test(err.message),
  );
});

test('readVocAnnotation reads VOC xml: leading zeros kept, absent difficult/truncated = false, float coordinates', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voc-ann-'));
  try {
    const file = path.join(dir, '000005.xml');
    fs.writeFileSync(
      file,
      `<annotation>
  <folder>VOC2007</folder><filename>000005</filename>
  <source><database>The VOC2007 Database</database></source>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>chair</name><pose>Rear</pose><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
  <object><name> person </name>
    <part><name>head</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></part>
    <bndbox><xmin>10.5</xmin><ymin>20</ymin><xmax>30</xmax><ymax>40</ymax></bndbox><difficult>1</difficult></object>
  <object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
</annotation>`,
    );
    const ann = readVocAnnotation(file);
    assert.deepEqual(ann, {
      filename: '000005',
      width: 500,
      height: 375,
      objects: [
        { name: 'chair', bbox: [263, 211, 324, 339], difficult: false, truncated: true },
        { name: 'person', bbox: [10.5, 20, 30, 40], difficult: true, truncated: false },
        { name: 'dog', bbox: [1, 1, 5, 5], difficult: false, truncated: false },
      ],
    });
    fs.writeFileSync(path.join(dir, 'bad.xml'), '<annotation><object><name>x</name></annotation>');
    assert.throws(
      () => readVocAnnotation(path.join(dir, 'bad.xml')),
      (e: unknown) => e instanceof UserError && /bad\.xml is not well-formed XML/.test(e.message),
    );
    fs.writeFileSync(path.join(dir, 'nobox.xml'), '<annotation><size><width>5</width><height>5</height></size><object><name>x</name></object></annotation>');
    assert.throws(
      () => readVocAnnotation(path.join(dir, 'nobox.xml')),
      (e: unknown) => e instanceof UserError && /object #0 \(x\) has no valid <bndbox>/.test(e.message),
    );
    fs.writeFileSync(path.join(dir, 'set.txt'), '000005\n\n000007  -1\r\n');
    assert.deepEqual(readVocImageSet(path.join(dir, 'set.txt')), ['000005', '000007']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('detection file lines are parsed exactly and malformed lines name file and line', () => {
  assert.deepEqual(parseVocDetections('000005 0.5 1 2.25 3 4\n\n000007 1e-3 5 6 7 8\n', 'f.txt'), [
    { image: '000005', score: 0.5, bbox: [1, 2.25, 3, 4] },
    { image: '000007', score: 0.001, bbox: [5, 6, 7, 8] },
  ]);
  assert.throws(
    () => parseVocDetections('a 0.5 1 2 3 4\nb 0.5 1 2 3\n', 'f.txt'),
    (e: unknown) => e instanceof UserError && /^f\.txt:2: /.test(e.message),
  );
});
