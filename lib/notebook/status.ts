/**
 * Status lines (training progress, runs done, the backend chosen) inside a notebook cell: one output
 * line per cell that is replaced in place as lines arrive, instead of a new printed line every few
 * seconds. The executed notebook and its HTML keep the last line, which the library makes a summary
 * (a run's last progress line, or "runs ... done in ...").
 *
 * lib/util/log.ts statusStream() hands this out inside a tslab kernel.
 */
import { DisplaySink, escapeHtml, newDisplay } from './display';

/** Where the status of the current cell is shown, and how many lines it has had. */
interface CellStatus {
  /** tslab points process.stdout.write at the running cell's output: a new function per cell. */
  cellKey: unknown;
  out: DisplaySink;
  lines: number;
  /** cellKey() of the cell's source, when the kernel says which cell runs. */
  source?: string;
}

/**
 * The HTML of the status output: the latest line; the class lets tests and styles find it. `cell`
 * (cellKey of the running cell's source) lets a page opened while the cell runs find the cell and
 * show its live outputs there (scripts/notebook-custom/custom.js).
 */
export function statusHtml(line: string, lines: number, cell?: string): string {
  const count = lines > 1 ? ` <span style="color:#888">(${lines} updates)</span>` : '';
  const key = cell ? ` data-metaanchor-cell="${escapeHtml(cell)}"` : '';
  return `<pre class="metaanchor-status"${key} style="margin:0;white-space:pre-wrap">${escapeHtml(line)}${count}</pre>`;
}

/** FNV-1a of a cell's source over its UTF-16 code units, base 36 (the same in custom.js). */
export function cellKey(source: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    h ^= source.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/** The key of the cell the kernel runs (its source, kept by kernels/tslab/tslab-fixes.js). */
function runningCellKey(): string | undefined {
  const source = (globalThis as Record<symbol, unknown>)[Symbol.for('metaanchor.kernel.cellSource')];
  return typeof source === 'string' ? cellKey(source) : undefined;
}

/**
 * A write-only stream of status text whose lines replace each other in one display per cell.
 * `cellKey` tells cells apart (default: tslab's per-cell stdout writer); `open` makes the display.
 */
export class InPlaceStatus {
  readonly inPlace = true;
  private current: CellStatus | undefined;
  private partial = '';

  constructor(
    private readonly cellKey: () => unknown = () => process.stdout.write,
    private readonly open: () => DisplaySink = newDisplay,
  ) {}

  write(text: string): boolean {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    const line = parts
      .map((l) => l.replace(/\r/g, '').trimEnd())
      .filter((l) => l !== '')
      .pop();
    if (line === undefined) return true;
    const key = this.cellKey();
    if (!this.current || this.current.cellKey !== key) this.current = { cellKey: key, out: this.open(), lines: 0, source: runningCellKey() };
    this.current.lines += parts.filter((l) => l.trim() !== '').length;
    this.current.out.html(statusHtml(line, this.current.lines, this.current.source));
    return true;
  }
}

let shared: InPlaceStatus | undefined;

/** The kernel's in-place status stream (one per kernel). */
export function inPlaceStatus(): InPlaceStatus {
  shared ??= new InPlaceStatus();
  return shared;
}
