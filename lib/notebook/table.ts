/**
 * HTML tables for notebook cells. danfojs has no HTML output (docs/DESIGN.md section 5), so a DataFrame is
 * rendered here from its columns, index and values; plain arrays of row objects work too.
 */
import { display, escapeHtml } from './display';
import { UserError } from '../util/errors';

/** The part of a danfojs-node DataFrame this needs (structural, so any danfojs copy fits). */
export interface DataFrameLike {
  columns: string[];
  index: Array<string | number>;
  values: unknown[] | unknown[][];
}

export type Row = Record<string, unknown>;

export interface TableOptions {
  /** Digits after the decimal point for non-integer numbers. Default 3. */
  digits?: number;
  /** Rows shown before the table is cut (first rows, then a "... n more" row). Default 50. */
  maxRows?: number;
  /** Show the DataFrame index as the first column. Default: true for DataFrames with a non-default index. */
  showIndex?: boolean;
  caption?: string;
  /** Fold the table away under its caption (a <details> the reader opens): for details beside a summary. */
  folded?: boolean;
}

export function isDataFrameLike(value: unknown): value is DataFrameLike {
  const v = value as Partial<DataFrameLike> | null;
  return !!v && typeof v === 'object' && Array.isArray(v.columns) && Array.isArray(v.index) && Array.isArray(v.values);
}

interface Grid {
  columns: string[];
  index: Array<string | number>;
  rows: unknown[][];
  defaultIndex: boolean;
}

function toGrid(data: DataFrameLike | Row[]): Grid {
  if (isDataFrameLike(data)) {
    // A one-column frame (or a Series) gives a flat values array.
    const rows = (data.values as unknown[]).map((r) => (Array.isArray(r) ? r : [r]));
    const defaultIndex = data.index.every((v, i) => v === i);
    return { columns: data.columns.map(String), index: data.index, rows, defaultIndex };
  }
  if (!Array.isArray(data)) {
    throw new UserError('showTable needs a danfojs DataFrame or an array of row objects', 'e.g. showTable([{ a: 1, b: 2 }])');
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of data) {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new UserError('showTable: every row must be a plain object', `got ${JSON.stringify(row)}`);
    }
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  return {
    columns,
    index: data.map((_, i) => i),
    rows: data.map((row) => columns.map((c) => row[c])),
    defaultIndex: true,
  };
}

/**
 * Text of one cell: numbers with `digits` decimals, missing values empty. Integers stay as they are
 * unless `integersAsDecimals` (a column of decimals: the paper's 26.0 beside 26.5, not "26").
 */
export function formatCell(value: unknown, digits = 3, integersAsDecimals = false): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return Number.isInteger(value) && !integersAsDecimals ? String(value) : value.toFixed(digits);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const STYLE = 'border-collapse:collapse;font-family:monospace;font-size:12px;margin:4px 0;' + 'border-top:1px solid #999;border-bottom:1px solid #999';

/** An HTML <table> for a DataFrame or an array of row objects (all text escaped). */
export function tableHtml(data: DataFrameLike | Row[], options: TableOptions = {}): string {
  const grid = toGrid(data);
  const digits = options.digits ?? 3;
  const maxRows = options.maxRows ?? 50;
  const showIndex = options.showIndex ?? !grid.defaultIndex;
  // A column is right-aligned (numbers) when every value in it is a number or missing.
  const numeric = grid.columns.map((_, c) => grid.rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'));
  const align = (c: number) => (numeric[c] ? 'right' : 'left');
  // A column with any fractional number shows all its numbers with the same decimals.
  const decimals = grid.columns.map((_, c) => grid.rows.some((r) => typeof r[c] === 'number' && Number.isFinite(r[c]) && !Number.isInteger(r[c])));
  const cell = (tag: 'td' | 'th', v: unknown, alignment: string, asDecimals = false) =>
    `<${tag} style="padding:2px 8px;text-align:${alignment}">${escapeHtml(formatCell(v, digits, asDecimals))}</${tag}>`;
  const header = [showIndex ? cell('th', '', 'left') : '', ...grid.columns.map((c, i) => cell('th', c, align(i)))].join('');
  const shown = grid.rows.slice(0, maxRows);
  const body = shown.map((row, i) => {
    const idx = showIndex ? cell('th', grid.index[i], 'left') : '';
    return `<tr>${idx}${row.map((v, c) => cell('td', v, align(c), decimals[c])).join('')}</tr>`;
  });
  const hidden = grid.rows.length - shown.length;
  if (hidden > 0) {
    const span = grid.columns.length + (showIndex ? 1 : 0);
    body.push(
      `<tr><td colspan="${span}" style="padding:2px 8px;color:#666">... ${hidden} more row${hidden === 1 ? '' : 's'} (${grid.rows.length} in all)</td></tr>`,
    );
  }
  const caption = options.caption ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : '';
  const table = `<table class="metaanchor-table" style="${STYLE}">${options.folded ? '' : caption}<thead style="border-bottom:1px solid #999"><tr>${header}</tr></thead><tbody>${body.join('')}</tbody></table>`;
  if (!options.folded) return table;
  return `<details class="metaanchor-details"><summary style="cursor:pointer;font-weight:bold">${escapeHtml(options.caption ?? 'details')}</summary><div style="overflow-x:auto">${table}</div></details>`;
}

/** Show a danfojs DataFrame or an array of row objects as a table. */
export function showTable(data: DataFrameLike | Row[], options: TableOptions = {}): void {
  display().html(tableHtml(data, options));
}
