/**
 * Progress for long work: step i/n, rate, ETA and free-form fields (e.g. loss parts), as one line
 * that redraws itself on a terminal and is printed every `everySec` seconds otherwise (notebooks,
 * CI logs), so logs stay short.
 */
import { StatusStream, statusStream } from './log';

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit shown in the rate, e.g. "steps" or "images". */
  unit?: string;
  /** Minimum seconds between printed lines when not on a TTY (default 5; 1 for an in-place line). */
  everySec?: number;
  stream?: StatusStream;
  /** Silence everything (tests). Defaults to METAANCHOR_QUIET=1. */
  quiet?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  private done = 0;
  private readonly opts: Required<Omit<ProgressOptions, 'stream'>> & { stream: NonNullable<ProgressOptions['stream']> };

  constructor(options: ProgressOptions) {
    const stream = options.stream ?? statusStream();
    this.opts = {
      unit: 'steps',
      everySec: stream.inPlace ? 1 : 5,
      quiet: process.env.METAANCHOR_QUIET === '1',
      ...options,
      stream,
    };
  }

  /** Seconds since creation. */
  elapsedSec(): number {
    return (Date.now() - this.start) / 1000;
  }

  /** Report that `done` units are complete; `fields` are shown after the counters. */
  update(done: number, fields: Record<string, string | number> = {}, force = false): string {
    this.done = done;
    const line = this.format(fields);
    const now = Date.now();
    const tty = Boolean(this.opts.stream.isTTY);
    if (!this.opts.quiet && (force || done >= this.opts.total || tty || now - this.lastPrint >= this.opts.everySec * 1000)) {
      this.lastPrint = now;
      this.opts.stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      if (tty && (force || done >= this.opts.total)) this.opts.stream.write('\n');
    }
    return line;
  }

  format(fields: Record<string, string | number> = {}): string {
    const elapsed = this.elapsedSec();
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 ? (this.opts.total - this.done) / rate : NaN;
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    const width = String(this.opts.total).length;
    return (
      `${this.opts.label} ${String(this.done).padStart(width)}/${this.opts.total}` +
      (extra ? `  ${extra}` : '') +
      `  ${rate >= 1 ? rate.toFixed(1) : rate.toFixed(2)} ${this.opts.unit}/s  elapsed ${formatDuration(elapsed)}  ETA ${formatDuration(eta)}`
    );
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(4);
}
