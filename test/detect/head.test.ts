import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { anchorsForConfig, parseAnchorSpec } from '../../lib/anchors';
import { Batch, BatchItem } from '../../lib/data/pipeline';
import { batchToTensor } from '../../lib/data/tensor';
import { anchorBTensor } from '../../lib/detect/detect';
import { detectionHead } from '../../lib/detect/head';
import { Detections, RETINANET_INFERENCE, YOLOV2_INFERENCE, detectionCandidates } from '../../lib/detect/postprocess';
import { buildDetector } from '../../lib/model';
import { modelConfig } from '../../lib/model/config';
import { anchorCellsOf, buildYoloDetector, regionCandidates } from '../../lib/model/yolo';
import { pseudoRandom, silent, tinyConfig, useCpu } from '../model/helpers';

const tinyYolo = () =>
  modelConfig('smoke', {
    detector: 'yolov2',
    numClasses: 3,
    numAnchors: 2,
    method: 'metaanchor',
    standardBoxP3: { heightPx: 32, widthPx: 32 },
    hiddenM: 4,
    gnGroups: 2,
    yolo: { widths: [2, 4, 4, 4, 4, 6], depths: [1, 1, 1, 1, 3, 1], headWidth: 6, headConvsBefore: 1, passthroughWidth: 2, leakySlope: 0.1 },
  });

/** Two 64x64 padded images: a 48-wide one and a 40-high one (candidates are clipped to these). */
function twoImageBatch(): Batch {
  const item = (index: number, resizedHeightPx: number, resizedWidthPx: number): BatchItem => ({
    index,
    imageId: 100 + index,
    origHeightPx: resizedHeightPx,
    origWidthPx: resizedWidthPx,
    resizedHeightPx,
    resizedWidthPx,
    scaleX: 1,
    scaleY: 1,
    flipped: false,
    boxes: new Float32Array(0),
    classIdx: new Int32Array(0),
    ignore: new Uint8Array(0),
  });
  return { images: pseudoRandom(2 * 64 * 64 * 3, 7, 0, 255), shape: [2, 64, 64, 3], items: [item(0, 64, 48), item(1, 40, 64)], epoch: 0, step: 0 };
}

const anchors = parseAnchorSpec('s:0.5,r:1; s:1,r:2; s:0.3,r:0.5');

test('detectionHead: each family brings its own default post-processing', async () => {
  await useCpu();
  const retina = buildDetector(tinyConfig({ method: 'metaanchor' }), silent);
  const yolo = buildYoloDetector(tinyYolo(), silent);
  assert.equal(detectionHead(retina).inference, RETINANET_INFERENCE);
  assert.equal(detectionHead(yolo).inference, YOLOV2_INFERENCE);
  retina.dispose();
  yolo.dispose();
});

// The head splits forward() into cached features + one anchor set's decoding (what the anchor
// search reuses); both halves together must give exactly forward() decoded image by image.
for (const family of ['retinanet', 'yolov2'] as const) {
  test(`detectionHead (${family}): features + candidates == the detector's forward, decoded per image`, async () => {
    await useCpu();
    const det =
      family === 'yolov2' ? buildYoloDetector(tinyYolo(), { seed: 3, ...silent }) : buildDetector(tinyConfig({ method: 'metaanchor' }), { seed: 3, ...silent });
    const head = detectionHead(det);
    const cfg = { ...head.inference, scoreThresh: 0 };
    const batch = twoImageBatch();
    const b = anchorBTensor(det, anchors);
    const before = tf.memory().numTensors;
    const features = head.features(batch);
    const got = await head.candidates(features, anchors, b, batch.items, cfg);
    head.disposeFeatures(features);
    assert.equal(tf.memory().numTensors, before, 'features and outputs are disposed');

    const x = batchToTensor(batch);
    let expected: Detections[];
    const sizes = batch.items.map((it) => ({ heightPx: it.resizedHeightPx, widthPx: it.resizedWidthPx }));
    if (family === 'yolov2') {
      const raw = (det as ReturnType<typeof buildYoloDetector>).forward(x, b);
      const data = raw.dataSync() as Float32Array;
      const per = data.length / 2;
      const shape = { gridH: raw.shape[1], gridW: raw.shape[2], numAnchors: 3, numClasses: 3 };
      expected = sizes.map((s, k) => regionCandidates(data.subarray(k * per, (k + 1) * per), shape, anchorCellsOf(anchors), 32, cfg, s));
      raw.dispose();
    } else {
      const out = (det as ReturnType<typeof buildDetector>).forward(x, b);
      const cls = out.clsLogits.dataSync() as Float32Array;
      const box = out.boxDeltas.dataSync() as Float32Array;
      const grid = anchorsForConfig(anchors, 64, 64);
      const A = grid.anchors.length / 4;
      expected = sizes.map((s, k) =>
        detectionCandidates(cls.subarray(k * A * 3, (k + 1) * A * 3), box.subarray(k * A * 4, (k + 1) * A * 4), grid.anchors, grid.starts, 3, cfg, s),
      );
      tf.dispose([out.clsLogits, out.boxDeltas]);
    }
    x.dispose();
    assert.equal(got.length, 2);
    assert.deepEqual(got, expected);
    // Each image's own size bounds its boxes (the padding is not part of the image).
    for (let i = 0; i < got[0].scores.length; i++) assert.ok(got[0].boxes[4 * i + 2] <= 48);
    for (let i = 0; i < got[1].scores.length; i++) assert.ok(got[1].boxes[4 * i + 3] <= 40);
    assert.ok(got[0].scores.length > 0 && got[1].scores.length > 0);
    b?.dispose();
    det.dispose();
  });
}
