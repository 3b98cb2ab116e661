/**
 * The paper's tables as lists of cells. A cell is one training configuration (trained once per seed)
 * evaluated with one inference setting: the training anchors, another anchor configuration (only
 * MetaAnchor can, Table 3), or the anchors a greedy search finds (Sec. 4.1.2).
 *
 * Cells of different tables that share a training configuration share its runs (the cache key is
 * the configuration, lib/experiments/key.ts): Table 3's diagonal and Table 6's data-independent
 * column are Table 2's MetaAnchor 0.6/0.5 runs, Table 4's "all boxes" columns its 0.5/0.4 runs.
 */
import { TABLE1_NAMES } from '../anchors';
import { paperDropRange } from '../data/stats';
import { TrainConfig, trainConfig, validateTrainConfig } from '../train/config';
import { UserError } from '../util/errors';
import { ExperimentSettings } from './settings';
import { PAPER } from './paper';

/** COCO summary numbers a table shows, by their index in COCOeval.stats. */
export const METRIC_INDEX = { mmAP: 0, AP50: 1, AP75: 2, APs: 3, APm: 4, APl: 5 } as const;
export type MetricName = keyof typeof METRIC_INDEX;

/** 'train': the training anchors; 'search': greedy search from them; anything else: an anchor spec. */
export type Inference = 'train' | 'search' | string;

export interface CellSpec {
  /** Row label, e.g. "0.5/0.4 3x3". */
  row: string;
  /** Column group, e.g. "baseline" or "MetaAnchor" (Table 3: the inference configuration). */
  group: string;
  /** Seed 0's configuration; seed s replaces `seed`. */
  train: TrainConfig;
  inference: Inference;
}

export interface TableSpec {
  id: TableId;
  title: string;
  /** Where in the paper. */
  source: string;
  rows: string[];
  groups: string[];
  metrics: MetricName[];
  cells: CellSpec[];
  /** Paper number (percent) of (row, group, metric), if printed. */
  paper(row: string, group: string, metric: MetricName): number | undefined;
  /** Columns whose mmAP difference the table reports: [reference, compared], e.g. baseline vs MetaAnchor. */
  compare?: [string, string];
}

export const TABLE_IDS = ['2', '3', '4', '6'] as const;
export type TableId = (typeof TABLE_IDS)[number];

export function parseTableId(text: string): TableId {
  const t = String(text).trim().replace(/^table\s*/i, '');
  if ((TABLE_IDS as readonly string[]).includes(t)) return t as TableId;
  throw new UserError(`no table "${text}"`, `the reproducible tables are ${TABLE_IDS.join(', ')} (1 is anchor definitions; 5, 7 and 8 need COCO/VOC and a GPU)`);
}

const IOU_PAIRS = [
  { label: '0.5/0.4', posIou: 0.5, negIou: 0.4 },
  { label: '0.6/0.5', posIou: 0.6, negIou: 0.5 },
];

function cellConfig(s: ExperimentSettings, overrides: Partial<TrainConfig>): TrainConfig {
  const cfg = trainConfig(s.base.preset, { ...s.base, ...overrides, seed: s.seeds[0] ?? 0 });
  validateTrainConfig(cfg);
  return cfg;
}

/** Table 2: baseline vs MetaAnchor, each Table 1 configuration, both matcher thresholds. */
export function table2(s: ExperimentSettings): TableSpec {
  const cells: CellSpec[] = [];
  const rows: string[] = [];
  for (const iou of IOU_PAIRS) {
    for (const a of TABLE1_NAMES) {
      const row = `${iou.label} ${a}`;
      rows.push(row);
      for (const method of ['baseline', 'metaanchor'] as const) {
        cells.push({ row, group: method === 'baseline' ? 'baseline' : 'MetaAnchor', train: cellConfig(s, { method, anchors: a, posIou: iou.posIou, negIou: iou.negIou }), inference: 'train' });
      }
    }
  }
  return {
    id: '2',
    title: 'Table 2: RetinaNet (baseline) vs MetaAnchor, same training and inference anchors',
    source: 'Sec. 4.1.1, Table 2',
    rows,
    groups: ['baseline', 'MetaAnchor'],
    metrics: ['mmAP', 'AP50', 'AP75'],
    cells,
    paper: (row, group, metric) => PAPER.table2[row]?.[group]?.[metric],
    compare: ['baseline', 'MetaAnchor'],
  };
}

/** Table 3: MetaAnchor (0.6/0.5) trained with each configuration, evaluated with each and with search. */
export function table3(s: ExperimentSettings): TableSpec {
  const groups = [...TABLE1_NAMES, 'search'];
  const cells: CellSpec[] = [];
  for (const a of TABLE1_NAMES) {
    const train = cellConfig(s, { method: 'metaanchor', anchors: a, posIou: 0.6, negIou: 0.5 });
    for (const g of groups) cells.push({ row: a, group: g, train, inference: g === a ? 'train' : g });
  }
  return {
    id: '3',
    title: 'Table 3: MetaAnchor with inference anchors other than the training anchors (mmAP)',
    source: 'Sec. 4.1.2, Table 3',
    rows: [...TABLE1_NAMES],
    groups,
    metrics: ['mmAP'],
    cells,
    paper: (row, group, metric) => (metric === 'mmAP' ? PAPER.table3[row]?.[group] : undefined),
  };
}

/** Table 4: trained with the paper's "dropped" boxes given no loss, tested on all boxes. */
export function table4(s: ExperimentSettings): TableSpec {
  const cells: CellSpec[] = [];
  const drop = paperDropRange(s.base.minSizePx ?? s.base.imageSizePx);
  for (const a of TABLE1_NAMES) {
    for (const method of ['baseline', 'metaanchor'] as const) {
      const name = method === 'baseline' ? 'baseline' : 'MetaAnchor';
      const common = { method, anchors: a, posIou: 0.5, negIou: 0.4 };
      cells.push({ row: a, group: `${name} all`, train: cellConfig(s, common), inference: 'train' });
      cells.push({ row: a, group: `${name} drop`, train: cellConfig(s, { ...common, dropBoxes: drop }), inference: 'train' });
    }
  }
  return {
    id: '4',
    title: 'Table 4: training without the boxes of one size/shape range, testing on all boxes (mmAP)',
    source: 'Sec. 4.1.3, Table 4',
    rows: [...TABLE1_NAMES],
    groups: ['baseline all', 'MetaAnchor all', 'baseline drop', 'MetaAnchor drop'],
    metrics: ['mmAP'],
    cells,
    paper: (row, group, metric) => (metric === 'mmAP' ? PAPER.table4[row]?.[group] : undefined),
    compare: ['baseline drop', 'MetaAnchor drop'],
  };
}

/** Table 6: data-independent (Eq. 4) vs data-dependent (Eq. 6) generator, 0.6/0.5; search from 9x9. */
export function table6(s: ExperimentSettings): TableSpec {
  const cells: CellSpec[] = [];
  const rows = [...TABLE1_NAMES, 'search'];
  for (const row of rows) {
    const anchors = row === 'search' ? '9x9' : row;
    for (const generator of ['independent', 'dependent'] as const) {
      const train = cellConfig(s, { method: 'metaanchor', generator, anchors, posIou: 0.6, negIou: 0.5 });
      cells.push({ row, group: generator === 'independent' ? 'data-independent' : 'data-dependent', train, inference: row === 'search' ? 'search' : 'train' });
    }
  }
  return {
    id: '6',
    title: 'Table 6: data-independent vs data-dependent anchor function generator (mmAP)',
    source: 'Sec. 4.1.4, Table 6',
    rows,
    groups: ['data-independent', 'data-dependent'],
    metrics: ['mmAP'],
    cells,
    paper: (row, group, metric) => (metric === 'mmAP' ? PAPER.table6[row]?.[group] : undefined),
    compare: ['data-independent', 'data-dependent'],
  };
}

export function tableSpec(id: TableId | string, s: ExperimentSettings): TableSpec {
  switch (parseTableId(id)) {
    case '2':
      return table2(s);
    case '3':
      return table3(s);
    case '4':
      return table4(s);
    case '6':
      return table6(s);
  }
}

/** The same table restricted to some rows (and groups): for notebooks and tests that run part of a table. */
export function selectCells(table: TableSpec, options: { rows?: string[]; groups?: string[] }): TableSpec {
  const rows = options.rows ?? table.rows;
  const groups = options.groups ?? table.groups;
  for (const r of rows) if (!table.rows.includes(r)) throw new UserError(`Table ${table.id} has no row "${r}"`, `rows: ${table.rows.join(', ')}`);
  for (const g of groups) if (!table.groups.includes(g)) throw new UserError(`Table ${table.id} has no column "${g}"`, `columns: ${table.groups.join(', ')}`);
  return {
    ...table,
    rows: table.rows.filter((r) => rows.includes(r)),
    groups: table.groups.filter((g) => groups.includes(g)),
    cells: table.cells.filter((c) => rows.includes(c.row) && groups.includes(c.group)),
  };
}
