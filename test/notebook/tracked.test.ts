/**
 * The notebooks kept in git are sources: no outputs, no execution counts, a few kB each. Executed
 * copies (with tables, plots and Figure 2's image panels: ~1 MB for 09_figure2) are written to
 * outputs/ by `npm run notebooks`, which git ignores; a notebook saved from Jupyter with its outputs
 * must not be committed over its source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const DIR = path.resolve(__dirname, '../../notebooks');
const MAX_BYTES = 16_000;

test('tracked notebooks hold no outputs and stay small', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.ipynb'));
  assert.ok(files.length >= 11, files.join(', '));
  const problems: string[] = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(DIR, f), 'utf8');
    const nb = JSON.parse(text) as { cells: { cell_type: string; outputs?: unknown[]; execution_count?: number | null }[] };
    const withOutputs = nb.cells.filter((c) => (c.outputs ?? []).length > 0).length;
    const counted = nb.cells.filter((c) => c.execution_count != null).length;
    if (withOutputs) problems.push(`${f}: ${withOutputs} cell(s) with outputs (clear them: Cell > All Output > Clear, then save)`);
    if (counted) problems.push(`${f}: ${counted} cell(s) with an execution count`);
    if (text.length > MAX_BYTES) problems.push(`${f}: ${text.length} bytes (> ${MAX_BYTES})`);
  }
  assert.deepEqual(problems, []);
});
