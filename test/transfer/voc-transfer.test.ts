import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateVoc } from '../../lib/eval/voc';
import { readVocAnnotation } from '../../lib/eval/voc-annotations';
import {
  evaluateVocTransfer,
  scoreVocTransfer,
  shiftedVocTarget,
  toVocBox,
  transferTarget,
  vocGroundTruth,
  vocImageKey,
} from '../../lib/transfer/voc-transfer';
import { CocoResult } from '../../lib/detect/postprocess';
import { trainConfig } from '../../lib/train/config';
import { train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';
import { spawnSync } from 'node:child_process';
import { dataRoot } from '../../lib/data/mnist-det';
import { DetectionDataset } from '../../lib/data/types';
import { UserError } from '../../lib/util/errors';

/** `target` with its class list reversed (class k becomes K-1-k, boxes keep their class names). */
function reversedClasses(target: DetectionDataset): DetectionDataset {
  const K = target.categories.length;
  return {
    ...target,
    categories: [...target.categories].reverse().map((c, i) => ({ ...c, index: i })),
    images: target.images.map((im) => ({ ...im, classIdx: Int32Array.from(im.classIdx, (k) => K - 1 - k) })),
  };
}

test('Table 5 target: shifted MNIST-Det in VOC layout; GT conversion agrees with the devkit reader; perfect detections give AP 1', async () => {
  const old = process.env.METAANCHOR_DATA_DIR;
  process.env.METAANCHOR_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'transfer-data-'));
  try {
    const target = await shiftedVocTarget();
    assert.equal(target.format, 'voc');
    assert.equal(target.images.length, 500);
    assert.deepEqual(
      target.categories.map((c) => c.name),
      ['0', '1', '2', '4'],
    );
    // Our box conversion reproduces the xml's inclusive 1-based coordinates.
    const gt = vocGroundTruth(target);
    const im = target.images[0];
    const xml = readVocAnnotation(path.join(path.dirname(path.dirname(im.filePath)), 'Annotations', `${vocImageKey(im.fileName)}.xml`));
    const ours = gt.filter((g) => g.image === vocImageKey(im.fileName)).map((g) => [...g.bbox]);
    assert.deepEqual(
      ours,
      xml.objects.map((o) => [...o.bbox]),
    );
    // Shifted distribution: boxes larger than the default's median (about 32 px).
    const sizes = target.images.flatMap((x) =>
      Array.from({ length: x.classIdx.length }, (_, k) => Math.sqrt((x.boxes[4 * k + 2] - x.boxes[4 * k]) * (x.boxes[4 * k + 3] - x.boxes[4 * k + 1]))),
    );
    sizes.sort((a, b) => a - b);
    assert.ok(sizes[Math.floor(sizes.length / 2)] > 36, `median size ${sizes[Math.floor(sizes.length / 2)]}`);
    // The GT itself as detections: every evaluated class has AP 1.
    const r = evaluateVoc({
      classes: target.categories.map((c) => c.name).filter((n) => n !== '4'),
      groundTruth: gt,
      detections: gt.filter((g) => !g.difficult).map((g) => ({ image: g.image, className: g.className, score: 1, bbox: g.bbox })),
    });
    assert.equal(r.perClass.length, 3);
    for (const c of r.perClass) assert.ok(Math.abs(c.ap - 1) < 1e-12, `${c.className}: AP ${c.ap}`);
    assert.ok(Math.abs(r.mAP - 1) < 1e-12);
  } finally {
    if (old === undefined) delete process.env.METAANCHOR_DATA_DIR;
    else process.env.METAANCHOR_DATA_DIR = old;
  }
});

test('evaluateVocTransfer: a trained detector on the VOC target, one class left out', async () => {
  assert.deepEqual(toVocBox(0, 0, 10, 20), [1, 1, 10, 20]);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'transfer-')), 'run');
  await train(trainConfig('smoke', { method: 'metaanchor', steps: 2, evalImages: 1 }), dir, { quiet: true });
  const run = loadRun(dir);
  const old = process.env.METAANCHOR_DATA_DIR;
  process.env.METAANCHOR_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'transfer-data-'));
  try {
    const target = await shiftedVocTarget();
    const r = await evaluateVocTransfer(run.detector, target, {
      anchors: run.trainAnchors,
      input: { maxSizePx: 64, pad: 'square', sizeDivisor: 32 },
      leaveOut: ['4'],
      maxImages: 8,
    });
    assert.deepEqual(
      r.perClass.map((c) => c.className),
      ['0', '1', '2'],
    );
    assert.ok(r.mAP >= 0 && r.mAP <= 1);
    await assert.rejects(
      evaluateVocTransfer(run.detector, target, { anchors: run.trainAnchors, input: { maxSizePx: 64 }, leaveOut: ['sofa'] }),
      /class "sofa" to leave out is not a class/,
    );

    const opts = { anchors: run.trainAnchors, input: { maxSizePx: 64, pad: 'square' as const, sizeDivisor: 32 }, leaveOut: ['4'], maxImages: 8 };
    const fewer = {
      ...target,
      categories: target.categories.slice(0, 3),
      images: target.images.map((im) => ({ ...im, classIdx: im.classIdx.map((k) => Math.min(k, 2)) })),
    };
    await assert.rejects(
      evaluateVocTransfer(run.detector, fewer, { ...opts, leaveOut: ['2'] }),
      (e: unknown) => e instanceof UserError && /the detector has 4 classes and .* has 3/.test(e.message),
    );

    // The CLI: `evaluate --voc` on the exported VOC folder gives the library's numbers.
    const vocDir = path.join(dataRoot(), 'mnist-det-shifted-voc', 'MNISTDET');
    const cli = spawnSync(
      process.execPath,
      [
        path.join(__dirname, '..', '..', 'bin', 'metaanchor.js'),
        'evaluate',
        '--checkpoint',
        dir,
        '--voc',
        vocDir,
        '--leave-out',
        '4',
        '--max-images',
        '8',
        '--json',
      ],
      { encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1' } },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const out = JSON.parse(cli.stdout) as {
      images: number;
      metric: string;
      leave_out: string[];
      mAP: number;
      per_class: { class: string; ap: number }[];
      class_map: unknown[];
    };
    assert.equal(out.images, 8);
    assert.equal(out.metric, 'voc07');
    assert.deepEqual(out.leave_out, ['4']);
    assert.equal(out.class_map.length, 4);
    const viaLib = await evaluateVocTransfer(run.detector, target, { ...opts, sourceCategories: run.categories });
    assert.deepEqual(
      out.per_class.map((c) => c.class),
      viaLib.perClass.map((c) => c.className),
    );
    assert.ok(Math.abs(out.mAP - viaLib.mAP) < 1e-12, `${out.mAP} vs ${viaLib.mAP}`);
    const bad = spawnSync(
      process.execPath,
      [path.join(__dirname, '..', '..', 'bin', 'metaanchor.js'), 'evaluate', '--checkpoint', dir, '--voc', vocDir, '--leave-out', 'sofa'],
      { encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1' } },
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /sofa/);
  } finally {
    if (old === undefined) delete process.env.METAANCHOR_DATA_DIR;
    else process.env.METAANCHOR_DATA_DIR = old;
    run.detector.dispose();
  }
});

test('transfer target: classes matched by name score a reordered target exactly; matched by position they do not', () => {
  // A VOC-style target with the ten digit classes: 20 images, 3 boxes each, classes in turn.
  const names = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const target: DetectionDataset = {
    name: 'digits/test',
    format: 'voc',
    imageDir: '/none',
    source: '/none',
    categories: names.map((name, i) => ({ index: i, id: i + 1, name })),
    images: Array.from({ length: 20 }, (_, j) => ({
      id: j + 1,
      fileName: `${String(j).padStart(6, '0')}.png`,
      filePath: `/none/${j}.png`,
      widthPx: 100,
      heightPx: 100,
      boxes: Float32Array.from([5, 5, 30, 40, 40, 10, 90, 35, 20, 50, 70, 95]),
      classIdx: Int32Array.from([0, 1, 2], (k) => (3 * j + k) % 10),
      ignore: new Uint8Array(3),
      annotationIds: Int32Array.from([0, 1, 2], (k) => 3 * j + k + 1),
      areas: new Float32Array(3),
    })),
    report: {} as DetectionDataset['report'],
  };
  // A detector's classes: the digits under other ids. It finds every box with its true class (a
  // perfect detector), plus one low-scoring wrong-class box per image.
  const source = names.map((name, i) => ({ index: i, id: 101 + i, name }));
  const results: CocoResult[] = [];
  for (const im of target.images) {
    for (let k = 0; k < im.classIdx.length; k++) {
      const [x1, y1, x2, y2] = im.boxes.subarray(4 * k, 4 * k + 4);
      results.push({ image_id: im.id, category_id: 101 + im.classIdx[k], bbox: [x1, y1, x2 - x1, y2 - y1], score: 0.9 });
    }
    results.push({ image_id: im.id, category_id: 101 + ((im.classIdx[0] + 5) % 10), bbox: [0, 0, 5, 5], score: 0.1 });
  }
  const reversed = reversedClasses(target);
  const aligned = transferTarget(reversed, 10, { leaveOut: ['5'], sourceCategories: source });
  assert.deepEqual(
    aligned.matches,
    [...names].reverse().map((n) => ({ target: n, source: n })),
  );
  assert.equal(transferTarget(reversed, 10, { leaveOut: ['5'] }).matches, undefined);
  const byName = scoreVocTransfer(aligned, results);
  assert.deepEqual(
    byName.perClass.map((c) => c.className),
    ['9', '8', '7', '6', '4', '3', '2', '1', '0'],
  );
  for (const c of byName.perClass) {
    assert.equal(c.npos, 6, c.className);
    assert.ok(Math.abs(c.ap - 1) < 1e-12, `${c.className}: ${c.ap}`);
  }
  // Read by position, detector class k is the reversed list's class k (digit 9 - k): nothing matches.
  const byPosition = scoreVocTransfer(
    transferTarget({ ...reversed, categories: reversed.categories.map((c, i) => ({ ...c, id: 101 + i })) }, 10, { leaveOut: ['5'] }),
    results,
  );
  assert.equal(byPosition.mAP, 0);
  // maxImages keeps the first images; a left-out class that the target lacks is an error.
  assert.equal(transferTarget(target, 10, { leaveOut: [], maxImages: 4 }).dataset.images.length, 4);
  assert.throws(
    () => transferTarget(target, 10, { leaveOut: ['sofa'] }),
    (e: unknown) => e instanceof UserError && /class "sofa" to leave out is not a class of digits\/test/.test(e.message),
  );
});
