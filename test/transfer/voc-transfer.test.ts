import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateVoc } from '../../lib/eval/voc';
import { readVocAnnotation } from '../../lib/eval/voc-annotations';
import { evaluateVocTransfer, shiftedVocTarget, toVocBox, vocGroundTruth, vocImageKey } from '../../lib/transfer/voc-transfer';
import { trainConfig } from '../../lib/train/config';
import { train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';

test('Table 5 target: shifted MNIST-Det in VOC layout; GT conversion agrees with the devkit reader; perfect detections give AP 1', async () => {
  const old = process.env.METAANCHOR_DATA_DIR;
  process.env.METAANCHOR_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'transfer-data-'));
  try {
    const target = await shiftedVocTarget();
    assert.equal(target.format, 'voc');
    assert.equal(target.images.length, 500);
    assert.deepEqual(target.categories.map((c) => c.name), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    // Our box conversion reproduces the xml's inclusive 1-based coordinates.
    const gt = vocGroundTruth(target);
    const im = target.images[0];
    const xml = readVocAnnotation(path.join(path.dirname(path.dirname(im.filePath)), 'Annotations', `${vocImageKey(im.fileName)}.xml`));
    const ours = gt.filter((g) => g.image === vocImageKey(im.fileName)).map((g) => [...g.bbox]);
    assert.deepEqual(ours, xml.objects.map((o) => [...o.bbox]));
    // Shifted distribution: boxes larger than the default's median 45 px.
    const sizes = target.images.flatMap((x) => Array.from({ length: x.classIdx.length }, (_, k) => Math.sqrt((x.boxes[4 * k + 2] - x.boxes[4 * k]) * (x.boxes[4 * k + 3] - x.boxes[4 * k + 1]))));
    sizes.sort((a, b) => a - b);
    assert.ok(sizes[Math.floor(sizes.length / 2)] > 55, `median size ${sizes[Math.floor(sizes.length / 2)]}`);
    // The GT itself as detections: every evaluated class has AP 1.
    const r = evaluateVoc({
      classes: target.categories.map((c) => c.name).filter((n) => n !== '5'),
      groundTruth: gt,
      detections: gt.filter((g) => !g.difficult).map((g) => ({ image: g.image, className: g.className, score: 1, bbox: g.bbox })),
    });
    assert.equal(r.perClass.length, 9);
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
      standardBoxP3: run.standardBoxP3,
      input: { maxSizePx: 64, pad: 'square', sizeDivisor: 32 },
      leaveOut: ['5'],
      maxImages: 8,
    });
    assert.deepEqual(r.perClass.map((c) => c.className), ['0', '1', '2', '3', '4', '6', '7', '8', '9']);
    assert.ok(r.mAP >= 0 && r.mAP <= 1);
    await assert.rejects(
      evaluateVocTransfer(run.detector, target, { anchors: run.trainAnchors, input: { maxSizePx: 64 }, leaveOut: ['sofa'] }),
      /class "sofa" to leave out is not a class/,
    );
  } finally {
    if (old === undefined) delete process.env.METAANCHOR_DATA_DIR;
    else process.env.METAANCHOR_DATA_DIR = old;
    run.detector.dispose();
  }
});
