/**
 * The runner's Table 5 and Table 8 paths: VOC transfer evaluations and training-subset scores
 * (real numbers, cached and reused), and RetinaNet*'s pick driven by the cached scores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configHash } from '../../lib/experiments/key';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { runTable } from '../../lib/experiments/runner';
import { EVALS_DIR, searchFileOf, trainSubsetEvalFileOf } from '../../lib/experiments/run-cache';
import { EvalRecordFile, ensureSearch, evaluateOnTrainSubset, evaluateRun } from '../../lib/experiments/run-eval';
import { trainConfig } from '../../lib/train/config';
import { readTrainState, train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';
import { evaluateVocTransfer, shiftedVocTarget } from '../../lib/transfer/voc-transfer';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tables58-'));

test('VOC transfer and training-subset evaluations: real numbers, cached, reused', async () => {
  const dir = path.join(tmp(), 'run');
  // 60 smoke steps: enough for detections above the 0.05 score threshold (a 4-step run has none).
  const cfg = trainConfig('smoke', {
    method: 'metaanchor',
    steps: 60,
    evalImages: 16,
    lr: { baseLr: 0.002, warmupSteps: 5, warmupFactor: 0.1, decaySteps: [1000], gamma: 0.1 },
  });
  await train(cfg, dir, { quiet: true });
  const settings = { ...experimentSettings('smoke'), evalImages: 16, search: { steps: 2, subset: 16, seed: 0 } };

  // Training subset: the same images and the same score as the greedy search's starting point,
  // reached through another path (detectDataset + COCO evaluation vs cached head features).
  const sub = await evaluateOnTrainSubset(dir, cfg, settings.search);
  assert.equal(sub.reused, false);
  assert.equal(sub.record.split, 'train-subset');
  assert.equal(sub.record.images, 16);
  const search = await ensureSearch(dir, settings.search);
  assert.ok(sub.record.stats[0] > 0, `mmAP ${sub.record.stats[0]}`);
  assert.equal(sub.record.stats[0], search.result.startMmAP);
  assert.ok(fs.existsSync(trainSubsetEvalFileOf(dir, settings.search)));
  assert.deepEqual((await evaluateOnTrainSubset(dir, cfg, settings.search)).record, sub.record);

  // VOC transfer, training anchors.
  const evaluation = tableSpec('5', settings).evaluation!;
  const voc = await evaluateRun(dir, cfg, 'train', settings, evaluation);
  assert.equal(voc.reused, false);
  const r = voc.record.voc!;
  assert.deepEqual(
    r.perClass.map((c) => c.className),
    ['0', '1', '2'],
  );
  assert.ok(Math.abs(r.mAP - r.perClass.reduce((a, c) => a + c.ap, 0) / r.perClass.length) < 1e-12);
  assert.ok(r.mAP > 0, `mAP ${r.mAP}`);
  assert.equal(voc.record.images, 16);
  assert.deepEqual(voc.record.stats, []);
  // The same numbers as the transfer evaluation called directly with the run's anchors.
  const run = loadRun(dir);
  try {
    const direct = await evaluateVocTransfer(run.detector, await shiftedVocTarget(), {
      anchors: run.trainAnchors,
      input: { maxSizePx: cfg.imageSizePx, pad: 'square', sizeDivisor: 32 },
      leaveOut: ['4'],
      maxImages: 16,
    });
    assert.equal(r.mAP, direct.mAP);
    assert.deepEqual(
      r.perClass.map((c) => c.ap),
      direct.perClass.map((c) => c.ap),
    );
  } finally {
    run.detector.dispose();
  }
  const again = await evaluateRun(dir, cfg, 'train', settings, evaluation);
  assert.equal(again.reused, true);
  assert.deepEqual(again.record, voc.record);

  // VOC with the searched anchors: the search on the source training subset, read from its file.
  const searched = await evaluateRun(dir, cfg, 'search', settings, evaluation);
  assert.equal(searched.record.searchFile, path.basename(searchFileOf(dir, settings.search)));
  assert.equal(searched.record.anchors, 'search');
  assert.ok(searched.record.voc!.mAP >= 0);

  // COCO evaluations keep their cache key (files written before VOC evaluations existed stay valid).
  const coco = await evaluateRun(dir, cfg, 'train', settings);
  assert.equal(coco.record.voc, undefined);
  assert.deepEqual(coco.record.stats, readTrainState(dir).evals.find((e) => e.step === 60)!.stats);
  const files = fs.readdirSync(path.join(dir, EVALS_DIR)).sort();
  assert.ok(files.includes(`train-${configHash({ inference: 'train', evalImages: 16 })}.json`), files.join(', '));
  assert.equal(files.filter((f) => f.startsWith('voc-train-')).length, 1);
  assert.equal(files.filter((f) => f.startsWith('voc-search-')).length, 1);
  assert.equal(files.filter((f) => f.startsWith('train-subset-')).length, 1);
});

test('RetinaNet*: the run with the best cached training-subset mmAP is picked and evaluated on validation', async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  const t = selectCells(tableSpec('8', s), { rows: ['RetinaNet 3x3/3x3', 'RetinaNet* search/search'] });
  const first = await runTable(t, s, { runsDir, quiet: true, jobs: 1 });
  assert.deepEqual(first.counts, { trained: 8, resumed: 0, reused: 0, evaluated: 9, evalReused: 1 });
  const sel = first.cells[1].seeds[0].selection!;
  assert.deepEqual(
    sel.candidates.map((c) => c.label),
    tableSpec('2', s).rows,
  );
  assert.equal(sel.images, s.search.subset);
  const scores = sel.candidates.map((c) => c.mmAP);
  const best = scores.indexOf(Math.max(...scores));
  assert.equal(sel.picked, sel.candidates[best].label);

  // Make "0.6/0.5 5x5" the best on training data: its cached score decides the pick.
  const target = sel.candidates[5];
  assert.equal(target.label, '0.6/0.5 5x5');
  const file = trainSubsetEvalFileOf(target.runDir, s.search);
  const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as EvalRecordFile;
  fs.writeFileSync(file, JSON.stringify({ ...rec, stats: [0.42, ...rec.stats.slice(1)] }));
  const second = await runTable(t, s, { runsDir, quiet: true, jobs: 1 });
  // Nothing trained; the 8 subset scores and the RetinaNet row come from the cache; only the newly
  // picked run's validation record is new (taken from its trainer's final validation).
  assert.deepEqual(second.counts, { trained: 0, resumed: 0, reused: 8, evaluated: 1, evalReused: 9 });
  const star = second.cells[1].seeds[0];
  assert.equal(star.selection!.picked, '0.6/0.5 5x5');
  assert.equal(star.selection!.candidates[5].mmAP, 0.42);
  assert.equal(star.runDir, target.runDir);
  assert.deepEqual(star.eval.stats, readTrainState(target.runDir).evals.find((e) => e.step === s.base.steps)!.stats);
  assert.equal(second.cells[0].seeds[0].runDir, sel.candidates[0].runDir);
});
