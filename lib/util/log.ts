/**
 * Status lines (backend chosen, progress, notes). In a terminal they go to stderr, leaving stdout
 * to results (tables, JSON). In a notebook kernel (METAANCHOR_NOTEBOOK=1, set by the kernel
 * launcher in kernels/tslab) they go to stdout: notebooks show stderr as an error block.
 * METAANCHOR_QUIET=1 silences them.
 */
export function statusStream(): NodeJS.WriteStream {
  return process.env.METAANCHOR_NOTEBOOK === '1' ? process.stdout : process.stderr;
}

export function logStatus(line: string): void {
  if (process.env.METAANCHOR_QUIET !== '1') statusStream().write(line + '\n');
}
