import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentSettings } from '../../lib/experiments/settings';
import { tableSpec } from '../../lib/experiments/tables';
import { CellResult } from '../../lib/experiments/runner';
import { boxDistributionFigure, inferenceHeatmapFigure, mmapVsAnchorsFigure, rowsBarFigure, wrapLabel } from '../../lib/experiments/figures';
import { DetectionDataset } from '../../lib/data/types';

function cell(row: string, group: string, mmAPs: number[]): CellResult {
  return {
    row,
    group,
    inference: 'train',
    seeds: mmAPs.map((v, seed) => ({
      seed,
      runDir: '/r',
      status: 'reused' as const,
      evalReused: true,
      eval: { inference: 'train', anchors: '', images: 1, stats: [v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], seconds: 0 },
    })),
  };
}

test('Table 2 figure: ours per anchor count with sd error bars, the paper on the second axis', () => {
  const table = tableSpec('2', experimentSettings('smoke'));
  const cells = ['3x3', '5x5', '7x7', '9x9'].map((a, i) => cell(`0.5/0.4 ${a}`, 'MetaAnchor', [0.1 + i / 100, 0.12 + i / 100]));
  const fig = mmapVsAnchorsFigure({ table, cells });
  const ours = fig.data.filter((t) => String(t.name).startsWith('ours'));
  assert.equal(ours.length, 1, 'only groups with results get a trace of ours');
  assert.equal(ours[0].name, 'ours MetaAnchor 0.5/0.4');
  assert.deepEqual(Array.from(ours[0].x as number[]), [9, 25, 49, 81]);
  (ours[0].y as number[]).forEach((v, i) => assert.ok(Math.abs(v - (11 + i)) < 1e-9, `${v}`));
  const sd = (ours[0].error_y as { array: number[] }).array[0];
  assert.ok(Math.abs(sd - 100 * Math.SQRT2 * 0.01) < 1e-9, `${sd}`);
  const paper = fig.data.filter((t) => String(t.name).startsWith('paper'));
  assert.equal(paper.length, 4);
  assert.deepEqual(paper.find((t) => t.name === 'paper baseline 0.6/0.5')!.y, [25.7, 26.1, 26.2, 26.1]);
  assert.ok(paper.every((t) => t.yaxis === 'y2'));
});

test('Table 3 heatmap: rows = training anchors, columns = inference anchors', () => {
  const table = tableSpec('3', experimentSettings('smoke'));
  const fig = inferenceHeatmapFigure({ table, cells: [cell('5x5', 'search', [0.2345]), cell('3x3', '9x9', [0.1])] });
  const z = fig.data[0].z as number[][];
  assert.equal(z[1][4], 23.5);
  assert.equal(z[0][3], 10);
  assert.ok(Number.isNaN(z[0][0]));
  assert.deepEqual((fig.data[1].z as number[][])[3], [26.3, 27.2, 27.4, 27.4, 27.6]);
});

test('Table 6 bars: one bar per generator and row, ours with sd, the paper hatched on the second axis', () => {
  const table = tableSpec('6', experimentSettings('smoke'));
  const cells = [cell('3x3', 'data-independent', [0.2, 0.22]), cell('3x3', 'data-dependent', [0.25]), cell('search', 'data-dependent', [0.3])];
  const fig = rowsBarFigure({ table, cells });
  assert.deepEqual(
    fig.data.map((t) => t.name),
    ['ours: data-independent', 'ours: data-dependent', 'paper: data-independent', 'paper: data-dependent'],
  );
  assert.deepEqual(fig.data[0].x, ['3x3', '5x5', '7x7', '9x9', 'search']);
  const indep = fig.data[0].y as number[];
  assert.ok(Math.abs(indep[0] - 21) < 1e-9 && indep.slice(1).every(Number.isNaN), `${indep}`);
  const dep = fig.data[1].y as number[];
  assert.ok(Math.abs(dep[0] - 25) < 1e-9 && Math.abs(dep[4] - 30) < 1e-9, `${dep}`);
  assert.ok(Math.abs((fig.data[0].error_y as { array: number[] }).array[0] - 100 * Math.SQRT2 * 0.01) < 1e-9);
  // The paper's Table 6 (Sec. 4.1.4), COCO-mini.
  assert.deepEqual(fig.data[2].y, [26.0, 27.3, 27.0, 27.4, 27.6]);
  assert.deepEqual(fig.data[3].y, [26.5, 27.3, 27.4, 27.3, 28.0]);
  assert.ok(fig.data.slice(2).every((t) => t.yaxis === 'y2'));
});

test('box distributions: each dataset has one colour in both panels (the legend explains the ln(w/h) panel)', () => {
  const ds = (w: number): DetectionDataset =>
    ({
      images: [
        { filePath: 'a.png', widthPx: 64, heightPx: 64, boxes: new Float32Array([0, 0, w, 10]), classIdx: new Int32Array([0]), ignore: new Uint8Array([0]) },
      ],
      categories: [{ id: 1, name: '0' }],
    }) as unknown as DetectionDataset;
  const fig = boxDistributionFigure([
    { name: 'source', dataset: ds(10) },
    { name: 'target', dataset: ds(30) },
  ]);
  const colour = (i: number) => (fig.data[i].marker as { color: string }).color;
  assert.equal(fig.data.length, 4);
  assert.equal(colour(0), colour(1));
  assert.equal(colour(2), colour(3));
  assert.notEqual(colour(0), colour(2));
  assert.deepEqual(
    fig.data.map((t) => t.showlegend),
    [undefined, false, undefined, false],
  );
});

test('wrapLabel breaks long category labels at spaces', () => {
  assert.equal(wrapLabel('MetaAnchor data-dependent 9x9/search'), 'MetaAnchor<br>data-dependent<br>9x9/search');
  assert.equal(wrapLabel('RetinaNet 3x3/3x3'), 'RetinaNet<br>3x3/3x3');
  assert.equal(wrapLabel('short'), 'short');
});
