// The analyses behind Tables 2-4 on smoke runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchorCoverageReport, parseAnchorSpec } from '../../lib/anchors';
import { collectInputBoxes } from '../../lib/data/stats';
import { analyzeCells, cellDetections, droppedRangeAp, inferenceCoverage } from '../../lib/experiments';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { runTable } from '../../lib/experiments/runner';
import { inputGeometry } from '../../lib/train/config';
import { loadDatasetSpec } from '../../lib/train/datasets';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'analysis-tables-'));
process.on('exit', () => fs.rmSync(runsDir, { recursive: true, force: true }));
const s = experimentSettings('smoke');

test('Table 2 cells: the analysis AP equals the cell mmAP; detections are cached in the run folder', async () => {
  const result = await runTable(selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3'] }), s, { runsDir, quiet: true });
  const cells = [
    { row: '0.5/0.4 3x3', group: 'baseline' },
    { row: '0.5/0.4 3x3', group: 'MetaAnchor' },
  ];
  const errors = await analyzeCells(result, cells);
  assert.deepEqual(
    errors.map((e) => e.name),
    ['baseline 0.5/0.4 3x3', 'MetaAnchor 0.5/0.4 3x3'],
  );
  for (const [i, e] of errors.entries()) {
    assert.equal(e.analysis.ap['0.5:0.95'], result.cells[i].seeds[0].eval.stats[0]);
    assert.equal(e.analysis.ap['0.5'], result.cells[i].seeds[0].eval.stats[1]);
    assert.equal(e.analysis.counts.images, 4);
  }
  const evals = path.join(result.cells[0].seeds[0].runDir, 'table-evals');
  const files = fs.readdirSync(evals).filter((f) => f.startsWith('detections-'));
  assert.equal(files.length, 1);
  const before = fs.statSync(path.join(evals, files[0])).mtimeMs;
  const again = await cellDetections(result.cells[0]);
  assert.equal(fs.statSync(path.join(evals, files[0])).mtimeMs, before, 'cached detections are reused');
  assert.deepEqual(
    again.imageIds,
    again.dataset.images.slice(0, 4).map((im) => im.id),
  );

  // Table 4's split: a range holding every box puts all AP inside; none outside.
  const all = { sqrtMinPx: 0, sqrtMaxPx: 1e9, logRatioMin: -100, logRatioMax: 100 };
  const [d] = await droppedRangeAp({ cells: [result.cells[1]] }, all);
  assert.ok(Math.abs(d.inside.ap - d.mmAP) < 1e-12, `${d.inside.ap} vs ${d.mmAP}`);
  assert.equal(d.outside.numGt, 0);
  const none = { sqrtMinPx: 1e8, sqrtMaxPx: 1e9, logRatioMin: -100, logRatioMax: 100 };
  const [e] = await droppedRangeAp({ cells: [result.cells[1]] }, none);
  assert.equal(e.inside.numGt, 0);
  assert.equal(e.outside.numGt, d.inside.numGt);
});

test('Table 3 cells: coverage of each inference anchor set on the evaluated validation boxes', async () => {
  const result = await runTable(selectCells(tableSpec('3', s), { rows: ['3x3'], groups: ['3x3', '9x9'] }), s, { runsDir, quiet: true });
  const cov = await inferenceCoverage(result);
  assert.deepEqual(
    cov.map((c) => [c.row, c.group, c.coverage.anchors, c.coverage.posIou]),
    [
      ['3x3', '3x3', '3x3', 0.6],
      ['3x3', '9x9', '9x9', 0.6],
    ],
  );
  const val = await loadDatasetSpec(s.base.val, 'val');
  const boxes = collectInputBoxes({ ...val, images: val.images.slice(0, 4) }, inputGeometry(s.base));
  assert.deepEqual(cov[1].coverage, anchorCoverageReport(boxes, parseAnchorSpec('9x9'), { posIou: 0.6 }));
  assert.equal(cov[0].mmAP, result.cells[0].seeds[0].eval.stats[0]);
});
