/**
 * A table result as rows (for `showTable` and the CLI): ours as mean ± sd over seeds, the paper's
 * number beside it, and the difference the table is about with its noise verdict.
 */
import { Row } from '../notebook/table';
import { ExperimentSettings } from './settings';
import { MeanSd, compareCells, formatDifference, formatMeanSd, meanSd } from './stats';
import { METRIC_INDEX, MetricName, TableSpec } from './tables';
import { CellResult, TableResult } from './runner';

/** Per-seed values of one metric in a cell (fractions). */
export function cellValues(cell: CellResult, metric: MetricName): number[] {
  return cell.seeds.map((s) => s.eval.stats[METRIC_INDEX[metric]]);
}

export function cellSummary(result: Pick<TableResult, 'cells'>, row: string, group: string, metric: MetricName): MeanSd | undefined {
  const cell = result.cells.find((c) => c.row === row && c.group === group);
  return cell ? meanSd(cellValues(cell, metric)) : undefined;
}

/** Column names of the rows `tableRows` builds. */
export function columnName(group: string, metric: MetricName, paper = false): string {
  return `${group} ${metric}${paper ? PAPER_SUFFIX : ''}`;
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

function wideRows(result: Pick<TableResult, 'cells' | 'table'>, withPaper: boolean): Row[] {
  const t: TableSpec = result.table;
  return t.rows.map((row) => {
    const out: Row = { row };
    for (const group of t.groups) {
      for (const metric of t.metrics) {
        out[columnName(group, metric)] = formatMeanSd(cellSummary(result, row, group, metric));
        if (withPaper) out[columnName(group, metric, true)] = t.paper(row, group, metric);
      }
    }
    if (t.compare) {
      const [a, b] = t.compare;
      const sa = cellSummary(result, row, a, 'mmAP');
      const sb = cellSummary(result, row, b, 'mmAP');
      const label = `Δ mmAP ${b} − ${a}`;
      out[label] = sa && sb && sa.n > 0 && sb.n > 0 ? formatDifference(compareCells(sa, sb)) : '';
      if (withPaper) {
        const pa = t.paper(row, a, 'mmAP');
        const pb = t.paper(row, b, 'mmAP');
        out[`${label} (paper)`] = pa !== undefined && pb !== undefined ? Math.round(10 * (pb - pa)) / 10 : undefined;
      }
    }
    return out;
  });
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
  const seeds = result.seeds.length === 1 ? '1 seed' : `${result.seeds.length} seeds (mean ± sd)`;
  const first = result.cells[0]?.seeds[0];
  const images = first ? `${first.eval.images} validation images` : '';
  return [
    `${result.table.title} — ${result.table.source}`,
    `profile ${result.profile}, ${seeds}, ${images}; our numbers are MNIST-Det, the paper's COCO-mini (percent)`,
    `runs: ${c.trained} trained, ${c.resumed} resumed, ${c.reused} reused; evaluations: ${c.evaluated} computed, ${c.evalReused} cached; ${result.seconds.toFixed(1)} s`,
  ].join('\n');
}

/** What one table cell's run is under a profile, as rows for showTable. */
export function settingsRows(s: ExperimentSettings): Row[] {
  const b = s.base;
  return [
    { setting: 'profile', value: s.profile },
    { setting: 'seeds per cell', value: `${s.seeds.length} (seed ${s.seeds.join(', ')})` },
    { setting: 'dataset', value: `${b.train.kind} train / ${b.val.kind} val` },
    { setting: 'input side (px)', value: b.imageSizePx },
    { setting: 'batch x steps', value: `${b.batchSize} x ${b.steps}` },
    { setting: 'optimizer, base lr', value: `${b.optimizer} ${b.lr.baseLr} (warm-up ${b.lr.warmupSteps}, decay at ${b.lr.decaySteps.join(', ')})` },
    { setting: 'model preset', value: b.preset },
    { setting: 'validation images', value: s.evalImages === 0 ? 'all' : s.evalImages },
    { setting: 'search', value: `${s.search.steps} candidates of the Table 8 grid on ${s.search.subset} training images` },
  ];
}
