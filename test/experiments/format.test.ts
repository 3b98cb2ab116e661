import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { CellResult, TableResult } from '../../lib/experiments/runner';
import { formatTextTable, tableRows } from '../../lib/experiments/format';

/** A cell with hand-made per-seed mmAP / AP50 / AP75 (fractions). */
function cell(row: string, group: string, perSeed: [number, number, number][]): CellResult {
  return {
    row,
    group,
    inference: 'train',
    seeds: perSeed.map((v, seed) => ({
      seed,
      runDir: `/runs/${seed}`,
      status: 'reused' as const,
      evalReused: true,
      eval: { inference: 'train', anchors: '3x3', images: 200, stats: [...v, 0, 0, 0, 0, 0, 0, 0, 0, 0], seconds: 0 },
    })),
  };
}

function fakeResult(cells: CellResult[]): Pick<TableResult, 'cells' | 'table'> {
  const table = selectCells(tableSpec('2', experimentSettings('smoke')), { rows: ['0.5/0.4 3x3', '0.6/0.5 9x9'] });
  return { table, cells };
}

test('Table 2 rows: ours as mean ± sd beside the paper, difference with its noise verdict', () => {
  const r = fakeResult([
    cell('0.5/0.4 3x3', 'baseline', [
      [0.2, 0.4, 0.18],
      [0.22, 0.42, 0.2],
      [0.24, 0.44, 0.22],
    ]),
    cell('0.5/0.4 3x3', 'MetaAnchor', [
      [0.28, 0.5, 0.3],
      [0.3, 0.5, 0.3],
      [0.32, 0.5, 0.3],
    ]),
    cell('0.6/0.5 9x9', 'baseline', [
      [0.2, 0.4, 0.18],
      [0.22, 0.42, 0.2],
      [0.24, 0.44, 0.22],
    ]),
    cell('0.6/0.5 9x9', 'MetaAnchor', [
      [0.23, 0.5, 0.3],
      [0.25, 0.5, 0.3],
      [0.27, 0.5, 0.3],
    ]),
  ]);
  const rows = tableRows(r);
  assert.deepEqual(rows[0], {
    row: '0.5/0.4 3x3',
    'baseline mmAP': '22.0 ± 2.0',
    'baseline mmAP (paper)': 26.5,
    'baseline AP50': '42.0 ± 2.0',
    'baseline AP50 (paper)': 43.1,
    'baseline AP75': '20.0 ± 2.0',
    'baseline AP75 (paper)': 27.6,
    'MetaAnchor mmAP': '30.0 ± 2.0',
    'MetaAnchor mmAP (paper)': 26.9,
    'MetaAnchor AP50': '50.0 ± 0.0',
    'MetaAnchor AP50 (paper)': 44.2,
    'MetaAnchor AP75': '30.0 ± 0.0',
    'MetaAnchor AP75 (paper)': 28.2,
    'Δ mmAP MetaAnchor − baseline': '+8.0 (beyond noise)',
    'Δ mmAP MetaAnchor − baseline (paper)': 0.4,
  });
  assert.equal(rows[1]['Δ mmAP MetaAnchor − baseline'], '+3.0 (within noise)');
  assert.equal(rows[1]['Δ mmAP MetaAnchor − baseline (paper)'], 1.3);
  assert.equal(rows[1]['MetaAnchor mmAP (paper)'], 27.4);
  const compact = tableRows(r, { compact: true });
  assert.deepEqual(Object.keys(compact[0]), [
    'row',
    'baseline mmAP',
    'baseline AP50',
    'baseline AP75',
    'MetaAnchor mmAP',
    'MetaAnchor AP50',
    'MetaAnchor AP75',
    'Δ mmAP MetaAnchor − baseline',
  ]);
  assert.equal(compact[0]['baseline mmAP'], '22.0 ± 2.0 [26.5]');
  assert.equal(compact[0]['Δ mmAP MetaAnchor − baseline'], '+8.0 (beyond noise) [+0.4]');
});

test('single seed cells and missing cells', () => {
  const r = fakeResult([cell('0.5/0.4 3x3', 'baseline', [[0.219, 0.4, 0.2]]), cell('0.5/0.4 3x3', 'MetaAnchor', [[0.216, 0.4, 0.2]])]);
  const rows = tableRows(r, { compact: true });
  assert.equal(rows[0]['baseline mmAP'], '21.9 [26.5]');
  assert.equal(rows[0]['Δ mmAP MetaAnchor − baseline'], '-0.3 (single seed) [+0.4]');
  assert.equal(rows[1]['baseline mmAP'], '- [26.1]');
  assert.equal(rows[1]['Δ mmAP MetaAnchor − baseline'], '- [+1.3]');
  const text = formatTextTable(tableRows(r, { compact: true })).split('\n');
  assert.equal(text.length, 4);
  assert.ok(text[0].startsWith('row          baseline mmAP'), text[0]);
  assert.ok(text[2].startsWith('0.5/0.4 3x3    21.9 [26.5]'), text[2]);
});

test('paper numbers of Tables 3, 4 and 6 are looked up by row and column', () => {
  const s = experimentSettings('smoke');
  assert.equal(tableSpec('3', s).paper('5x5', 'search', 'mmAP'), 27.7);
  assert.equal(tableSpec('3', s).paper('9x9', '3x3', 'mmAP'), 26.3);
  assert.equal(tableSpec('4', s).paper('5x5', 'MetaAnchor drop', 'mmAP'), 23.0);
  assert.equal(tableSpec('4', s).paper('7x7', 'baseline all', 'mmAP'), 26.4);
  assert.equal(tableSpec('6', s).paper('search', 'data-dependent', 'mmAP'), 28.0);
  assert.equal(tableSpec('6', s).paper('3x3', 'data-dependent', 'AP50'), undefined);
});
