// Notebook 10's comparison: greedy search, k-means, evolution and Table 1 on smoke runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchorSearchComparison, anchorSearchRows, cocoFolder } from '../../lib/experiments';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { runTable } from '../../lib/experiments/runner';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anchor-search-'));
process.on('exit', () => fs.rmSync(runsDir, { recursive: true, force: true }));
const s = experimentSettings('smoke');

test('anchor-search comparison: k-means and evolution beside Table 1 and the greedy search, on MNIST-Det and a COCO folder', async () => {
  const c = await anchorSearchComparison(s, { k: 4, generations: 30, baselines: false, run: { runsDir, quiet: true } });
  assert.deepEqual(
    c.entries.map((e) => e.name),
    ['3x3', '5x5', '7x7', '9x9', 'greedy search', 'k-means', 'k-means + evolution'],
  );
  assert.equal(c.entries[5].spec, c.kmeans.anchors);
  assert.equal(c.entries[5].config.shapes.length, 4);
  assert.equal(c.evolve.trace!.length, 30);
  // The MetaAnchor run is Table 3's 3x3 row: the same run folder and evaluation.
  const t3 = await runTable(selectCells(tableSpec('3', s), { rows: ['3x3'], groups: ['3x3'] }), s, { runsDir, quiet: true });
  assert.equal(c.metaResult.cells[0].seeds[0].runDir, t3.cells[0].seeds[0].runDir);
  assert.equal(c.entries[0].metaMmAP, t3.cells[0].seeds[0].eval.stats[0]);
  const rows = anchorSearchRows(c);
  assert.equal(rows[5]['anchor set'], 'k-means');
  assert.equal(rows[5]['BPR IoU>=0.6 %'], 100 * c.entries[5].coverage.bprIou);
  assert.equal(rows[0]['seconds to find'], 0);

  // A real COCO-format folder inside the repository: the four fixture photos (test/fixtures/photos).
  const coco = cocoFolder(path.resolve(__dirname, '..', 'fixtures', 'photos'));
  assert.ok(coco, 'the fixture photos folder');
  const real = await anchorSearchComparison(s, { coco, k: 3, generations: 20, baselines: false, run: { runsDir, quiet: true } });
  assert.equal(real.dataset, 'COCO annotations.json');
  assert.equal(real.kmeans.boxes, 5);
  assert.equal(cocoFolder(path.join(runsDir, 'missing')), null);
  assert.throws(() => cocoFolder(runsDir), /not a COCO dataset folder/);
});
