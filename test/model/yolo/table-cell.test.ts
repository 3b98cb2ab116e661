import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { experimentSettings } from '../../../lib/experiments/settings';
import { TableSpec } from '../../../lib/experiments/tables';
import { runTable } from '../../../lib/experiments/runner';
import { searchFileOf } from '../../../lib/experiments/run-cache';
import { yoloTrainConfig } from '../../../lib/train/config';

test('Table 7 cells (detector yolov2) run through the table runner: baseline, MetaAnchor, search', async () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yolo-table-'));
  const s = experimentSettings('smoke');
  const steps = { steps: 3, checkpointEvery: 2, evalImages: s.evalImages };
  const baseline = yoloTrainConfig('smoke', steps);
  const meta = yoloTrainConfig('smoke', { ...steps, method: 'metaanchor' });
  const table = {
    id: '7',
    title: 'YOLOv2 on MNIST-Det',
    source: 'Table 7',
    rows: ['YOLOv2'],
    groups: ['baseline', 'MetaAnchor', 'search'],
    metrics: ['mmAP', 'AP50'],
    cells: [
      { row: 'YOLOv2', group: 'baseline', train: baseline, inference: 'train' },
      { row: 'YOLOv2', group: 'MetaAnchor', train: meta, inference: 'train' },
      { row: 'YOLOv2', group: 'search', train: meta, inference: 'search' },
    ],
    paper: () => undefined,
  } as unknown as TableSpec;
  const r = await runTable(table, { ...s, seeds: [0] }, { runsDir, quiet: true, jobs: 1 });
  assert.deepEqual(r.counts, { trained: 2, resumed: 0, reused: 0, evaluated: 3, evalReused: 0 });
  for (const c of r.cells) {
    assert.equal(c.seeds[0].eval.stats.length, 12);
    assert.ok(c.seeds[0].eval.stats.every(Number.isFinite));
  }
  const search = JSON.parse(fs.readFileSync(searchFileOf(r.cells[2].seeds[0].runDir, s.search), 'utf8'));
  assert.equal(search.trace.length, s.search.steps);
  assert.match(search.anchors, /std:33\.44x37\.52$/);
  assert.match(path.basename(r.cells[0].seeds[0].runDir), /^yolov2-baseline-smoke-seed0-/);
});
