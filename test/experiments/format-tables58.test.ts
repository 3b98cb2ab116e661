import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentSettings } from '../../lib/experiments/settings';
import { tableSpec } from '../../lib/experiments/tables';
import { CellResult } from '../../lib/experiments/runner';
import { EvalRecordFile } from '../../lib/experiments/run-eval';
import { SelectionRecord } from '../../lib/experiments/run-selection';
import { cellConfigRows, claimRows, formatTextTable, tableRows } from '../../lib/experiments/format';
import { tableHtml } from '../../lib/notebook/table';
import { rowsBarFigure, selectionRows, vocPerClassFigure } from '../../lib/experiments/figures';

const s = experimentSettings('smoke');

function cocoCell(row: string, perSeedMmAP: number[], selection?: SelectionRecord): CellResult {
  return {
    row,
    group: '',
    inference: 'train',
    seeds: perSeedMmAP.map((v, seed) => ({
      seed,
      runDir: `/runs/${row}/${seed}`,
      status: 'reused' as const,
      evalReused: true,
      eval: { inference: 'train', anchors: '3x3', images: 200, stats: [v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], seconds: 0 },
      ...(selection ? { selection: { ...selection, picked: seed === 0 ? selection.picked : '0.6/0.5 9x9' } } : {}),
    })),
  };
}

function vocCell(group: string, perSeedAp: number[][]): CellResult {
  return {
    row: tableSpec('5', s).rows[0],
    group,
    inference: 'train',
    seeds: perSeedAp.map((ap, seed) => {
      const record: EvalRecordFile = {
        inference: 'train',
        anchors: '3x3',
        images: 200,
        stats: [],
        seconds: 0,
        voc: {
          metric: 'voc07',
          target: 't',
          leaveOut: ['5'],
          mAP: ap.reduce((a, b) => a + b, 0) / ap.length,
          perClass: ap.map((v, i) => ({ className: String(i < 5 ? i : i + 1), ap: v, npos: 10, numDets: 10 })),
        },
      };
      return { seed, runDir: `/r/${seed}`, status: 'reused' as const, evalReused: true, eval: record };
    }),
  };
}

test('Table 8 rows: IoU, the picked run per seed, mmAP beside the paper, Δ vs RetinaNet with its verdict', () => {
  const table = tableSpec('8', s);
  const sel: SelectionRecord = {
    rule: 'train-subset-mmAP',
    picked: '0.5/0.4 5x5',
    images: 100,
    candidates: [
      { label: '0.5/0.4 3x3', runDir: '/a', mmAP: 0.1 },
      { label: '0.5/0.4 5x5', runDir: '/b', mmAP: 0.2 },
    ],
  };
  const result = {
    table,
    cells: [
      cocoCell('RetinaNet 3x3/3x3', [0.2, 0.21, 0.22]),
      cocoCell('RetinaNet* search/search', [0.25, 0.26, 0.27], sel),
      cocoCell('MetaAnchor 3x3/3x3', [0.2, 0.22, 0.24]),
      cocoCell('MetaAnchor 9x9/search', [0.3, 0.31, 0.32]),
      cocoCell('MetaAnchor data-dependent 9x9/search', [0.3, 0.3, 0.3]),
    ],
  };
  const rows = tableRows(result);
  const label = 'Δ mmAP vs RetinaNet 3x3/3x3';
  assert.deepEqual(rows[0], {
    row: 'RetinaNet 3x3/3x3',
    IoU: '0.5/0.4',
    'picked run': '',
    mmAP: '21.0 ± 1.0',
    'mmAP (paper)': 35.8,
    [label]: '',
    [`${label} (paper)`]: undefined,
  });
  assert.deepEqual(rows[1], {
    row: 'RetinaNet* search/search',
    IoU: 'picked',
    'picked run': '0.5/0.4 5x5, 0.6/0.5 9x9, 0.6/0.5 9x9',
    mmAP: '26.0 ± 1.0',
    'mmAP (paper)': 36.9,
    [label]: '+5.0 (beyond noise)',
    [`${label} (paper)`]: 1.1,
  });
  // |Δ| = 1.0 < 2·sqrt(1² + 2²) = 4.5 points.
  assert.equal(rows[2][label], '+1.0 (within noise)');
  assert.equal(rows[3][`${label} (paper)`], 1.7);
  assert.equal(rows[4][`${label} (paper)`], 2.1);
  // The claim first: Δ and its verdict beside the row label, then the paper's Δ, then ours [paper].
  const claim = claimRows(result);
  assert.deepEqual(Object.keys(claim[1]), ['row', 'IoU', label, 'paper Δ', 'mmAP ours [paper]']);
  assert.deepEqual(claim[1], {
    row: 'RetinaNet* search/search',
    IoU: 'picked',
    [label]: '+5.0 (beyond noise)',
    'paper Δ': '+1.1',
    'mmAP ours [paper]': '26.0 ± 1.0 [36.9]',
  });
  assert.deepEqual(claim[0], { row: 'RetinaNet 3x3/3x3', IoU: '0.5/0.4', [label]: '', 'paper Δ': '', 'mmAP ours [paper]': '21.0 ± 1.0 [35.8]' });
  // The details fold away under their caption.
  const folded = tableHtml(rows, { caption: 'all metrics', folded: true });
  assert.match(
    folded,
    /^<details class="metaanchor-details"><summary[^>]*>all metrics<\/summary><div style="overflow-x:auto"><table class="metaanchor-table"[^>]*><thead/,
  );
  const text = formatTextTable(tableRows(result, { compact: true }));
  assert.match(text, /^MetaAnchor 9x9\/search +0\.6\/0\.5 +31\.0 ± 1\.0 \[37\.5\] +\+10\.0 \(beyond noise\) \[\+1\.7\]$/m);
  assert.deepEqual(
    selectionRows(result).map((r) => [r.seed, r.candidate, r.picked]),
    [
      [0, '0.5/0.4 3x3', ''],
      [0, '0.5/0.4 5x5', '✓'],
      [1, '0.5/0.4 3x3', ''],
      [1, '0.5/0.4 5x5', ''],
      [2, '0.5/0.4 3x3', ''],
      [2, '0.5/0.4 5x5', ''],
    ],
  );
  const fig = rowsBarFigure(result);
  const ours = fig.data[0].y as number[];
  [21, 26, 22, 31, 30].forEach((v, i) => assert.ok(Math.abs(ours[i] - v) < 1e-9, `${ours[i]} vs ${v}`));
  assert.deepEqual(fig.data[1].y, [35.8, 36.9, 36.8, 37.5, 37.9]);
});

test('Table 5 rows: VOC mAP50 per method beside the paper; per-class AP figure', () => {
  const table = tableSpec('5', s);
  const ap = (v: number) => Array.from({ length: 9 }, (_, i) => v + i / 100);
  const result = { table, cells: [vocCell('Baseline', [ap(0.5)]), vocCell('MetaAnchor', [ap(0.6)]), vocCell('MetaAnchor + search', [ap(0.62)])] };
  const [row] = tableRows(result);
  assert.deepEqual(row, {
    row: table.rows[0],
    'Baseline VOC mAP50': '54.0',
    'Baseline VOC mAP50 (paper)': 82.5,
    'MetaAnchor VOC mAP50': '64.0',
    'MetaAnchor VOC mAP50 (paper)': 83.1,
    'MetaAnchor + search VOC mAP50': '66.0',
    'MetaAnchor + search VOC mAP50 (paper)': 83.3,
    'Δ VOC mAP50 MetaAnchor − Baseline': '+10.0 (single seed)',
    'Δ VOC mAP50 MetaAnchor − Baseline (paper)': 0.6,
  });
  const fig = vocPerClassFigure(result);
  assert.equal(fig.data.length, 3);
  assert.deepEqual(fig.data[0].x, ['0', '1', '2', '3', '4', '6', '7', '8', '9']);
  assert.ok(Math.abs((fig.data[1].y as number[])[8] - 68) < 1e-9);
  assert.match(String(fig.data[2].name), /^MetaAnchor \+ search: mAP 66\.0 \(paper 83\.3\)$/);
  // Which runs the cells use: Table 2's folders.
  assert.deepEqual(
    cellConfigRows(table).map((r) => [r.column, r.IoU, r.inference]),
    [
      ['Baseline', '0.5/0.4', 'training anchors'],
      ['MetaAnchor', '0.5/0.4', 'training anchors'],
      ['MetaAnchor + search', '0.5/0.4', 'search'],
    ],
  );
});
