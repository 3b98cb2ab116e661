/**
 * Status lines (backend chosen, progress, notes). In a terminal they go to stderr, leaving stdout
 * to results (tables, JSON). In a notebook kernel (METAANCHOR_NOTEBOOK=1, set by the kernel
 * launcher in kernels/tslab) they replace each other in one output line per cell
 * (lib/notebook/status.ts): notebooks show stderr as an error block, and a line every few seconds
 * buried the results. METAANCHOR_QUIET=1 silences them.
 */
import { inPlaceStatus } from '../notebook/status';

/** What status text is written to: a process stream, or the notebook's in-place line. */
export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Each line replaces the previous one (a notebook cell's status line). */
  inPlace?: boolean;
}

function inKernel(): boolean {
  return process.env.METAANCHOR_NOTEBOOK === '1' && typeof (globalThis as { __tslab__?: unknown }).__tslab__ === 'object';
}

export function statusStream(): StatusStream {
  if (inKernel()) return inPlaceStatus();
  return process.env.METAANCHOR_NOTEBOOK === '1' ? process.stdout : process.stderr;
}

export function logStatus(line: string): void {
  if (process.env.METAANCHOR_QUIET !== '1') statusStream().write(line + '\n');
}
