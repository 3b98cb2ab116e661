import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalJson, configHash, previousRunFolderNames, runFolderName } from '../../lib/experiments/key';
import { runDirOf } from '../../lib/experiments/run-cache';
import { experimentSettings } from '../../lib/experiments/settings';
import { TABLE_IDS, tableSpec } from '../../lib/experiments/tables';
import { distinctRuns } from '../../lib/experiments/runner';
import { paperDropRange } from '../../lib/data/box-drop';
import { TrainConfig, trainConfig, yoloTrainConfig } from '../../lib/train/config';

test('canonical JSON ignores key order at every depth', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
  assert.equal(configHash({ a: 1, b: { c: 2, d: 3 } }), configHash({ b: { d: 3, c: 2 }, a: 1 }));
  assert.match(configHash({}), /^[0-9a-f]{12}$/);
  // sha256('{}') starts with 44136fa355b3
  assert.equal(configHash({}), '44136fa355b3');
});

test('same configuration -> same key; any field change -> a new key', () => {
  const base = trainConfig('quick');
  const again = trainConfig('quick');
  assert.equal(runFolderName(base), runFolderName(again));
  const reordered = Object.fromEntries(Object.entries(base).reverse()) as unknown as TrainConfig;
  assert.equal(configHash(reordered), configHash(base));
  const changes: Partial<TrainConfig>[] = [
    { method: 'metaanchor' },
    { generator: 'dependent' },
    { anchors: '5x5' },
    { posIou: 0.6 },
    { negIou: 0.5 },
    { allowLowQuality: false },
    { jitter: 0.25 },
    { dropBoxes: paperDropRange(160) },
    { val: { kind: 'mnist-det', preset: 'shifted' } },
    { imageSizePx: 128 },
    { batchSize: 4 },
    { steps: 601 },
    { optimizer: 'sgd' },
    { lr: { ...base.lr, decaySteps: [450, 551] } },
    { weightDecay: 0 },
    { seed: 1 },
    { evalImages: 100 },
    { model: { hiddenM: 64 } },
  ];
  const keys = new Set([configHash(base)]);
  for (const ch of changes) {
    const k = configHash({ ...base, ...ch });
    assert.ok(!keys.has(k), `changing ${Object.keys(ch)[0]} kept the key`);
    keys.add(k);
  }
  // Every field of the config takes part: flipping each one's JSON value changes the key.
  for (const field of Object.keys(base) as (keyof TrainConfig)[]) {
    const changed = { ...base, [field]: ['__changed__'] };
    assert.notEqual(configHash(changed), configHash(base), field);
  }
});

test('readable folder names', () => {
  const cfg = trainConfig('smoke', { method: 'metaanchor', generator: 'dependent', anchors: '9x9', posIou: 0.6, negIou: 0.5, dropBoxes: paperDropRange(64) });
  assert.match(runFolderName(cfg), /^metaanchor-dependent-9x9-iou0\.6-0\.5-drop-smoke-seed0-[0-9a-f]{12}$/);
  assert.match(runFolderName(trainConfig('smoke', { anchors: 's:1,r:1/2; s:2,r:1' })), /^baseline-s_1_r_1_2_s_2_r_1-iou0\.5-0\.4-smoke-seed0-/);
  assert.deepEqual(previousRunFolderNames(cfg), [], 'RetinaNet runs keep their names');
  // YOLOv2 runs: no IoU thresholds in the name (the region layer does not use them); same hash.
  const yolo = yoloTrainConfig('quick', { method: 'metaanchor', seed: 2 });
  assert.match(runFolderName(yolo), /^yolov2-metaanchor-quick-seed2-[0-9a-f]{12}$/);
  assert.equal(runFolderName(yolo).slice(-12), configHash(yolo));
  assert.deepEqual(previousRunFolderNames(yolo), [`metaanchor-yolov2-iou0.5-0.4-quick-seed2-${configHash(yolo)}`]);
});

test('the cache renames a YOLOv2 run found under its earlier folder name, and leaves others alone', () => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'runs-'));
  try {
    const yolo = yoloTrainConfig('smoke', { method: 'baseline' });
    fs.mkdirSync(path.join(runs, previousRunFolderNames(yolo)[0]));
    fs.writeFileSync(path.join(runs, previousRunFolderNames(yolo)[0], 'metrics.json'), '{}');
    const dir = runDirOf(runs, yolo);
    assert.equal(dir, path.join(runs, runFolderName(yolo)));
    assert.equal(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'), '{}');
    assert.deepEqual(fs.readdirSync(runs), [runFolderName(yolo)]);
    // A RetinaNet run, and a run not in the cache at all: nothing is created or moved.
    const retina = trainConfig('smoke');
    assert.equal(runDirOf(runs, retina), path.join(runs, runFolderName(retina)));
    assert.equal(runDirOf(runs, yoloTrainConfig('smoke', { method: 'metaanchor' })).includes('yolov2-metaanchor-smoke'), true);
    assert.deepEqual(fs.readdirSync(runs), [runFolderName(yolo)]);
  } finally {
    fs.rmSync(runs, { recursive: true, force: true });
  }
});

test('tables share runs: Table 3 diagonal and Table 6 data-independent = Table 2 MetaAnchor 0.6/0.5', () => {
  const s = experimentSettings('quick');
  const key = (t: string, row: string, group: string) => configHash(tableSpec(t, s).cells.find((c) => c.row === row && c.group === group)!.train);
  for (const a of ['3x3', '5x5', '7x7', '9x9']) {
    assert.equal(key('3', a, a), key('2', `0.6/0.5 ${a}`, 'MetaAnchor'));
    assert.equal(key('6', a, 'data-independent'), key('2', `0.6/0.5 ${a}`, 'MetaAnchor'));
    assert.equal(key('4', a, 'baseline all'), key('2', `0.5/0.4 ${a}`, 'baseline'));
    assert.notEqual(key('4', a, 'baseline drop'), key('4', a, 'baseline all'));
    assert.notEqual(key('6', a, 'data-dependent'), key('6', a, 'data-independent'));
  }
  assert.equal(key('6', 'search', 'data-independent'), key('3', '9x9', '9x9'));
  assert.equal(tableSpec('2', s).cells.length, 16);
  assert.equal(tableSpec('3', s).cells.length, 20);
  assert.equal(tableSpec('4', s).cells.length, 16);
  assert.equal(tableSpec('6', s).cells.length, 10);
  // 16 (Table 2) + 8 dropped-box runs (Table 4) + 4 data-dependent runs (Table 6); x 3 seeds in full.
  const all = (p: string, ids: readonly string[]) => {
    const ps = experimentSettings(p);
    return distinctRuns(
      ids.map((id) => tableSpec(id, ps)),
      ps,
    ).length;
  };
  const retinaNetTables = TABLE_IDS.filter((id) => id !== '7');
  assert.deepEqual(retinaNetTables, ['2', '3', '4', '5', '6', '8']);
  // quick: one seed per cell, three for the 8 headline configurations (Table 2's 3x3 and 9x9 rows).
  assert.equal(all('quick', retinaNetTables), 28 + 2 * 8);
  assert.equal(all('full', retinaNetTables), 84);
  // Table 7 (YOLOv2) adds its baseline and MetaAnchor runs and shares none with the others.
  assert.equal(all('quick', TABLE_IDS), 30 + 2 * 8);
  assert.equal(all('full', TABLE_IDS), 90);
});
