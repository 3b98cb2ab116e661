/**
 * A table result as rows (for `showTable` and the CLI): ours as mean ± sd over seeds, the paper's
 * number beside it, and the difference the table is about with its noise verdict.
 */
import { Row } from '../notebook/table';
import { ExperimentSettings } from './settings';
import { MeanSd, compareCells, formatDifference, formatMeanSd, meanSd } from './stats';
import { MetricName, TableSpec, cellTrainConfigs } from './tables';
import { runFolderName } from './key';
import { CellResult, TableResult } from './runner';
import { metricValue } from './run-eval';
import { convergenceLine } from './curve';

/** Per-seed values of one metric in a cell (fractions). */
export function cellValues(cell: CellResult, metric: MetricName): number[] {
  return cell.seeds.map((s) => metricValue(s.eval, metric));
}

export function cellSummary(result: Pick<TableResult, 'cells'>, row: string, group: string, metric: MetricName): MeanSd | undefined {
  const cell = result.cells.find((c) => c.row === row && c.group === group);
  return cell ? meanSd(cellValues(cell, metric)) : undefined;
}

/** Column names of the rows `tableRows` builds (a table with one unnamed group: the metric alone). */
export function columnName(group: string, metric: MetricName, paper = false): string {
  return `${group ? `${group} ` : ''}${metric}${paper ? PAPER_SUFFIX : ''}`;
}

/**
 * One row per table row: for each (group, metric) our value "21.9 ± 0.4" (percent; one seed: "21.9")
 * and the paper's number, then — for tables with a comparison — the mmAP difference with its noise
 * verdict and the paper's difference. `compact` puts the paper's number in brackets in the same
 * cell ("21.9 [26.5]"), for terminals.
 */
export function tableRows(result: Pick<TableResult, 'cells' | 'table'>, options: { paper?: boolean; compact?: boolean } = {}): Row[] {
  const rows = wideRows(result, options.paper ?? true);
  if (!options.compact) return rows;
  return rows.map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) {
      if (k.endsWith(PAPER_SUFFIX)) continue;
      const p = r[k + PAPER_SUFFIX];
      out[k] = p === undefined ? v : `${v === '' ? '-' : String(v)} [${(p as number) > 0 && k.startsWith('Δ') ? '+' : ''}${(p as number).toFixed(1)}]`;
    }
    return out;
  });
}

const PAPER_SUFFIX = ' (paper)';

/**
 * The table's claim first, compact enough for a notebook: per row, the difference the table is about
 * (ours with its noise verdict, then the paper's) beside the row label, then ours [paper] in the
 * table's first metric per group. Tables without a difference show the compact numbers alone. Every
 * metric, the spread over seeds and the picked runs stay in `tableRows` (shown folded below it).
 */
export function claimRows(result: Pick<TableResult, 'cells' | 'table'>): Row[] {
  const t = result.table;
  const first = t.metrics[0];
  return wideRows(result, true).map((w) => {
    const out: Row = { row: w.row };
    if (t.rowInfo) Object.assign(out, t.rowInfo[String(w.row)] ?? {});
    for (const k of Object.keys(w)) {
      if (!k.startsWith('Δ') || k.endsWith(PAPER_SUFFIX)) continue;
      out[k] = w[k];
      const p = w[k + PAPER_SUFFIX] as number | undefined;
      out[`paper ${k.split(' ')[0]}`] = p === undefined ? '' : `${p > 0 ? '+' : ''}${p.toFixed(1)}`;
    }
    for (const group of t.groups) {
      const ours = w[columnName(group, first)];
      const paper = w[columnName(group, first, true)] as number | undefined;
      out[`${group ? `${group} ` : ''}${first} ours [paper]`] = `${ours === '' ? '-' : String(ours)}${paper === undefined ? '' : ` [${paper.toFixed(1)}]`}`;
    }
    return out;
  });
}

/** Per seed, the label of the run a selection cell picked ("0.5/0.4 5x5"; seeds joined by ", "). */
export function pickedRuns(result: Pick<TableResult, 'cells'>, row: string): string {
  const picks = result.cells
    .filter((c) => c.row === row)
    .flatMap((c) => c.seeds.map((s) => s.selection?.picked))
    .filter((p): p is string => p !== undefined);
  return picks.join(', ');
}

function wideRows(result: Pick<TableResult, 'cells' | 'table'>, withPaper: boolean): Row[] {
  const t: TableSpec = result.table;
  const hasSelection = result.cells.some((c) => c.seeds.some((s) => s.selection));
  const first = t.metrics[0];
  return t.rows.map((row) => {
    const out: Row = { row };
    if (t.rowInfo) Object.assign(out, t.rowInfo[row] ?? {});
    if (hasSelection) out['picked run'] = pickedRuns(result, row);
    for (const group of t.groups) {
      for (const metric of t.metrics) {
        out[columnName(group, metric)] = formatMeanSd(cellSummary(result, row, group, metric));
        if (withPaper) out[columnName(group, metric, true)] = t.paper(row, group, metric);
      }
    }
    if (t.compare) {
      const [a, b] = t.compare;
      difference(out, `Δ ${first} ${b} − ${a}`, [row, a], [row, b]);
    }
    if (t.compareToRow !== undefined) {
      const g = t.groups[0];
      const label = `Δ ${first} vs ${t.compareToRow}`;
      if (row !== t.compareToRow) difference(out, label, [t.compareToRow, g], [row, g]);
      else Object.assign(out, withPaper ? { [label]: '', [`${label}${PAPER_SUFFIX}`]: undefined } : { [label]: '' });
    }
    return out;
  });

  /** out[label] = b − a in the table's first metric with its noise verdict, and the paper's difference. */
  function difference(out: Row, label: string, [ra, ga]: [string, string], [rb, gb]: [string, string]): void {
    const sa = cellSummary(result, ra, ga, first);
    const sb = cellSummary(result, rb, gb, first);
    out[label] = sa && sb && sa.n > 0 && sb.n > 0 ? formatDifference(compareCells(sa, sb)) : '';
    if (withPaper) {
      const pa = t.paper(ra, ga, first);
      const pb = t.paper(rb, gb, first);
      out[`${label}${PAPER_SUFFIX}`] = pa !== undefined && pb !== undefined ? Math.round(10 * (pb - pa)) / 10 : undefined;
    }
  }
}

/** Plain-text table (CLI): columns padded, numbers with one decimal (percent). */
export function formatTextTable(rows: Row[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]);
  const text = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? v.toFixed(1) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => text(r[c]))))].join('\n');
}

/** Heading for a table result: what was run and how much of it came from the cache. */
export function describeResult(result: TableResult): string {
  const c = result.counts;
  const counts = [...new Set(result.cells.map((c) => c.seeds.length))].sort((a, b) => a - b);
  const seeds =
    counts.length > 1
      ? `${counts.join(' or ')} seeds per cell (seeds ${result.seeds.join(', ')}; mean ± sd where more than one)`
      : result.seeds.length === 1
        ? '1 seed'
        : `${result.seeds.length} seeds (mean ± sd)`;
  const first = result.cells[0]?.seeds[0];
  const t = result.table;
  const ev = t.evaluation;
  const images = first ? `${first.eval.images} ${ev?.kind === 'voc-transfer' ? 'target' : 'validation'} images` : '';
  const ours =
    ev?.kind === 'voc-transfer' ? `MNIST-Det → MNIST-Det "shifted" (VOC layout), VOC07 mAP@0.5 without class ${ev.leaveOut.join(', ')}` : 'MNIST-Det';
  return [
    `${t.title} — ${t.source}`,
    `profile ${result.profile}, ${seeds}, ${images}; our numbers are ${ours}, the paper's ${t.paperData ?? 'COCO-mini'} (percent)`,
    `runs: ${c.trained} trained, ${c.resumed} resumed, ${c.reused} reused; evaluations: ${c.evaluated} computed, ${c.evalReused} cached; ${result.seconds.toFixed(1)} s`,
    convergenceLine(result),
  ].join('\n');
}

/**
 * Which training run and inference anchors each cell uses (a selection cell: every candidate), with
 * the run folder name: the rows show that Tables 5 and 8 reuse Table 2's and Table 6's runs.
 */
export function cellConfigRows(table: TableSpec): Row[] {
  const rows: Row[] = [];
  for (const c of table.cells) {
    for (const cfg of cellTrainConfigs(c)) {
      rows.push({
        row: c.row,
        ...(table.groups.length > 1 || c.group ? { column: c.group } : {}),
        method: cfg.method === 'metaanchor' ? `MetaAnchor (${cfg.generator === 'dependent' ? 'data-dependent' : 'data-independent'})` : 'baseline',
        'training anchors': cfg.anchors,
        // YOLOv2 assigns ground truth by the region layer's rules (best anchor in the object's cell).
        IoU: cfg.detector === 'yolov2' ? 'region layer' : `${cfg.posIou}/${cfg.negIou}`,
        inference: c.select ? 'training anchors, if picked' : c.inference === 'train' ? 'training anchors' : c.inference,
        run: runFolderName(cfg),
      });
    }
  }
  return rows;
}

/**
 * What one table cell's run is under a profile, as rows for showTable. With `table`: that table's
 * base (Table 7: settings.yolo's) and search.
 */
export function settingsRows(s: ExperimentSettings, table?: Pick<TableSpec, 'cells' | 'search'>): Row[] {
  const yolo = table !== undefined && table.cells.some((c) => c.train.detector === 'yolov2');
  const b = yolo ? s.yolo.base : s.base;
  const search = table?.search ?? s.search;
  return [
    { setting: 'profile', value: s.profile },
    {
      setting: 'seeds per cell',
      value:
        `${s.seeds.length} (seed ${s.seeds.join(', ')})` +
        (s.headlineSeeds ? `; Table 2's 3x3 and 9x9 cells (and their reuses): ${s.headlineSeeds.length} (seed ${s.headlineSeeds.join(', ')})` : ''),
    },
    { setting: 'dataset', value: `${b.train.kind} train / ${b.val.kind} val` },
    { setting: 'input side (px)', value: b.imageSizePx },
    { setting: 'batch x steps', value: `${b.batchSize} x ${b.steps}` },
    { setting: 'optimizer, base lr', value: `${b.optimizer} ${b.lr.baseLr} (warm-up ${b.lr.warmupSteps}, decay at ${b.lr.decaySteps.join(', ')})` },
    { setting: 'model preset', value: yolo ? `${b.preset} (YOLOv2: darknet-style trunk, region layer)` : b.preset },
    { setting: 'validation images', value: s.evalImages === 0 ? 'all' : s.evalImages },
    { setting: 'search', value: `${search.steps} candidates of the ${yolo ? 'YOLOv2' : 'Table 8'} grid on ${search.subset} training images` },
  ];
}
