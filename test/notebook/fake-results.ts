/**
 * Table results with made-up numbers for every cell of a COCO-scored table (2, 3, 4, 6, 7, 8), two
 * seeds each: enough to render the notebooks' tables and figures without training (browser tests).
 */
import { experimentSettings } from '../../lib/experiments/settings';
import { TableId, tableSpec } from '../../lib/experiments/tables';
import { CellResult, TableResult } from '../../lib/experiments/runner';

export function fakeTableResult(id: TableId): Pick<TableResult, 'cells' | 'table'> {
  const table = tableSpec(id, experimentSettings('smoke'));
  const cells: CellResult[] = table.cells.map((c, k) => ({
    row: c.row,
    group: c.group,
    inference: c.inference,
    seeds: [0, 1].map((seed) => ({
      seed,
      runDir: `/runs/${k}/${seed}`,
      status: 'reused' as const,
      evalReused: true,
      eval: {
        inference: 'train',
        anchors: '3x3',
        images: 200,
        stats: Array.from({ length: 12 }, (_, i) => 0.2 + 0.013 * ((k * 7 + i * 3 + seed * 5) % 11)),
        seconds: 0,
      },
    })),
  }));
  return { table, cells };
}
