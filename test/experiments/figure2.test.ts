/** Figure 2's panels (lib/experiments/figure2.ts): captions, the anchor outline, a disposed model. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDetector } from '../../lib/model/detector';
import { anchorCaption, customAnchorPanels, detectionsText, outlineBox } from '../../lib/experiments/figure2';
import { LoadedRun } from '../../lib/train/run-dir';
import { DetectionDataset } from '../../lib/data/types';
import { UserError } from '../../lib/util/errors';
import { silent, tinyConfig, useCpu } from '../model/helpers';

before(useCpu);

test('captions name the anchor and count detections with a noun', () => {
  assert.equal(anchorCaption({ scale: 1, ratioHW: 1 / 3 }), 'anchor scale 1, ratio h/w 1/3');
  assert.equal(anchorCaption({ scale: 1.5, ratioHW: 4 }), 'anchor scale 1.5, ratio h/w 4');
  assert.equal(anchorCaption({ scale: 2 ** (1 / 3), ratioHW: 0.7 }), 'anchor scale 1.26, ratio h/w 0.70');
  assert.equal(detectionsText(0), 'no detection');
  assert.equal(detectionsText(1), '1 detection');
  assert.equal(detectionsText(3), '3 detections');
});

test('the outline is the anchor at P3 in original pixels, centred', () => {
  // Scale 1 at stride 8: 32 px square in input pixels; input = 2x original -> 16 px.
  assert.deepEqual(outlineBox({ scale: 1, ratioHW: 1 }, 2, 2, 96, 96), [40, 40, 56, 56]);
  // Ratio h/w 4: height 64, width 16 input px; input = original.
  assert.deepEqual(outlineBox({ scale: 1, ratioHW: 4 }, 1, 1, 100, 100), [42, 18, 58, 82]);
});

test('a disposed model gives a UserError that says to reopen the run', async () => {
  const det = buildDetector(tinyConfig({ method: 'metaanchor', generator: 'dependent', w2InitStd: 0.01 }), silent);
  assert.equal(det.isDisposed, false);
  det.dispose();
  assert.equal(det.isDisposed, true);
  const val = {
    images: [{ filePath: 'x.png', widthPx: 96, heightPx: 96, boxes: new Float32Array(0), classIdx: [] }],
    categories: [],
  } as unknown as DetectionDataset;
  const run = { detector: det, config: {}, standardBoxP3: { heightPx: 33, widthPx: 38 } } as unknown as LoadedRun;
  await assert.rejects(
    customAnchorPanels(run, val, [{ scale: 1, ratioHW: 1 }], { imageIndices: [0] }),
    (err: unknown) => err instanceof UserError && /disposed/.test(err.message) && /openRunForFigures/.test(err.hint ?? ''),
  );
});
