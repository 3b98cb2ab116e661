import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseAnchorSpec } from '../../lib/anchors';
import { detectDataset } from '../../lib/detect/detect';
import { prepareCocoGroundTruth } from '../../lib/eval/coco';
import { isYoloDetector, anchorCellsOf, priorTermSteps } from '../../lib/model/yolo';
import { greedyAnchorSearch } from '../../lib/search/greedy';
import { trainConfig, yoloTrainConfig } from '../../lib/train/config';
import { groundTruthOf, loadDatasetSpec } from '../../lib/train/datasets';
import { loadRun } from '../../lib/train/run-dir';
import { readTrainState, train } from '../../lib/train/trainer';
import { yoloStepAnchors } from '../../lib/train/yolo-step';
import { trainConfigFromCli } from '../../lib/cli/commands/train';
import { configHash } from '../../lib/experiments/key';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'yolo-'));

test('YOLOv2 configs: the detector field only where asked; CLI and yoloTrainConfig agree', () => {
  const retina = trainConfig('quick');
  assert.equal('detector' in retina, false, 'RetinaNet configs carry no detector field (cache keys unchanged)');
  const cli = trainConfigFromCli({ preset: 'quick', method: 'baseline', generator: 'independent', out: 'x' });
  assert.equal(configHash(cli), configHash(retina));
  const y = yoloTrainConfig('quick', { method: 'metaanchor' });
  assert.equal(y.detector, 'yolov2');
  assert.equal(y.anchors, 'yolov2');
  assert.equal(y.imageSizePx, 192);
  assert.deepEqual(trainConfigFromCli({ preset: 'quick', detector: 'yolov2', method: 'metaanchor', generator: 'independent', out: 'x' }), y);
  assert.throws(
    () => yoloTrainConfig('quick', { imageSizePx: 250 }),
    (e: Error & { hint?: string }) => /imageSizePx = 250/.test(e.message) && /multiple of 32/.test(e.hint ?? ''),
  );
  assert.equal(priorTermSteps(50), 10);
  assert.equal(priorTermSteps(1000), 200, "paper: 200 steps x 64 images = darknet's 12800");
  // MetaAnchor's step anchors are the jittered b_i, in cells; the baseline's are darknet's.
  const cfg = parseAnchorSpec('yolov2');
  assert.deepEqual(yoloStepAnchors('baseline', cfg, 0, 5, 0.5).anchorsWH, anchorCellsOf(cfg));
  const j = yoloStepAnchors('metaanchor', cfg, 0, 5, 0.5);
  assert.equal(j.b!.length, 10);
  assert.notDeepEqual(j.anchorsWH, anchorCellsOf(cfg));
  assert.deepEqual(
    yoloStepAnchors('metaanchor', cfg, 0, 5, 0).anchorsWH.map((v) => +v.toFixed(4)),
    anchorCellsOf(cfg).map((v) => +v.toFixed(4)),
  );
});

test('YOLOv2 MetaAnchor through the public entry points: train, resume, detect, evaluate, search', async () => {
  const cfg = yoloTrainConfig('smoke', { method: 'metaanchor', steps: 4, checkpointEvery: 2, evalImages: 4 });
  const full = await train(cfg, path.join(tmp(), 'a'), { quiet: true });
  assert.equal(full.history.length, 4);
  assert.ok(
    full.history.every((h) => Number.isFinite(h.loss) && h.positives > 0 && h.box > 0),
    JSON.stringify(full.history),
  );
  // Step 1 creates the optimizers' slots; from then on nothing may accumulate (no checkpoints in between).
  const counts: number[] = [];
  await train({ ...cfg, steps: 6, checkpointEvery: 100, evalImages: 1 }, path.join(tmp(), 'm'), {
    quiet: true,
    onStep: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts.join(', ')}`);
  // Exact resume: interrupted after step 3 (checkpoint at 2), resumed -> the same losses.
  const dir = path.join(tmp(), 'b');
  await train(cfg, dir, { quiet: true, stopAfter: 3 });
  assert.equal(readTrainState(dir).step, 2);
  const resumed = await train(cfg, dir, { quiet: true, resume: true });
  assert.deepEqual(
    resumed.history.map((h) => h.loss),
    full.history.map((h) => h.loss),
  );
  assert.deepEqual(resumed.evals[0].stats, full.evals[0].stats);

  const run = loadRun(dir);
  assert.ok(isYoloDetector(run.detector));
  assert.equal(run.trainAnchors.name, 'yolov2');
  const val = await loadDatasetSpec(cfg.val, 'val');
  const input = { maxSizePx: cfg.imageSizePx, pad: 'square' as const, sizeDivisor: 32 };
  const before = tf.memory().numTensors;
  const results = await detectDataset(run.detector, val, { anchors: run.trainAnchors, input, maxImages: 4 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(results.length > 0 && results.every((r) => r.score > 0.005 && r.bbox[2] >= 0 && r.bbox[3] >= 0));
  const perImage = new Map<number, number>();
  for (const r of results) perImage.set(r.image_id, (perImage.get(r.image_id) ?? 0) + 1);
  assert.ok([...perImage.values()].every((n) => n <= 100));
  // The trainer's final evaluation is the same detection + COCO evaluation.
  const stats = prepareCocoGroundTruth(groundTruthOf(val)).evaluate(results, { imageIds: val.images.slice(0, 4).map((im) => im.id) }).stats;
  assert.deepEqual(stats, resumed.evals[0].stats);
  // MetaAnchor detects with another anchor list (any count).
  const other = await detectDataset(run.detector, val, { anchors: parseAnchorSpec('s:0.5,r:1; s:1,r:2; s:0.3,r:0.5'), input, maxImages: 2 });
  assert.ok(Array.isArray(other));
  // Two candidates of the YOLO search grid.
  const train1 = await loadDatasetSpec(cfg.train, 'train');
  const s = await greedyAnchorSearch(run.detector, train1, { start: run.trainAnchors, steps: 2, subset: 6, seed: 1, input });
  assert.equal(s.trace.length, 2);
  assert.ok(s.finalMmAP >= s.startMmAP);
  assert.match(s.anchors, /std:33\.44x37\.52$/, 'the searched list keeps the YOLO standard box (4.18, 4.69) cells, at P3');
  assert.equal(tf.memory().numTensors, before, 'search leaves no tensors behind');
  run.detector.dispose();
});

test('a YOLOv2 baseline only detects with its training anchor count', async () => {
  const cfg = yoloTrainConfig('smoke', { steps: 1, evalImages: 1 });
  const dir = path.join(tmp(), 'c');
  await train(cfg, dir, { quiet: true });
  const run = loadRun(dir);
  const val = await loadDatasetSpec(cfg.val, 'val');
  await assert.rejects(
    detectDataset(run.detector, val, { anchors: parseAnchorSpec('3x3'), input: { maxSizePx: 64, pad: 'square', sizeDivisor: 32 }, maxImages: 1 }),
    /trained with 5 anchors per location; "3x3" has 9/,
  );
  await assert.rejects(greedyAnchorSearch(run.detector, val, { start: run.trainAnchors, input: { maxSizePx: 64 } }), /needs a MetaAnchor model/);
  run.detector.dispose();
});
