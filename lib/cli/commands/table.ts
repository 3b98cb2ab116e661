/**
 * `metaanchor table <2|3|4|6> [--profile smoke|quick|full]`: run (or resume) one of the paper's
 * tables on MNIST-Det and print it beside the paper's numbers. Finished runs and evaluations are
 * reused from the results cache (lib/experiments/runner.ts).
 */
import { Command, Option } from 'commander';
import { PROFILES } from '../../profile';
import { describeResult, experimentSettings, formatTextTable, runTable, selectCells, tableRows, tableSpec, TABLE_IDS } from '../../experiments';

interface TableOpts {
  profile?: string;
  runsDir?: string;
  rows?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('table')
    .description(`run or resume a table of the paper (${TABLE_IDS.join(', ')}) and print it with the paper's numbers`)
    .argument('<id>', `table number: ${TABLE_IDS.join(' | ')}`)
    .addOption(new Option('--profile <p>', 'run size (default: env METAANCHOR_PROFILE or quick)').choices([...PROFILES]))
    .option('--runs-dir <dir>', 'results cache (default: runs/tables, env METAANCHOR_RUNS_DIR)')
    .option('--rows <list>', 'only these rows, comma-separated (e.g. "0.5/0.4 3x3,0.5/0.4 5x5")')
    .option('--json', 'print the per-seed results as JSON')
    .action(async (id: string, o: TableOpts) => {
      const settings = experimentSettings(o.profile ?? process.env.METAANCHOR_PROFILE ?? 'quick');
      let table = tableSpec(id, settings);
      if (o.rows) table = selectCells(table, { rows: o.rows.split(',').map((s) => s.trim()).filter(Boolean) });
      const result = await runTable(table, settings, { runsDir: o.runsDir });
      if (o.json) {
        console.log(JSON.stringify({ table: table.id, profile: result.profile, counts: result.counts, cells: result.cells }, null, 1));
        return;
      }
      console.log(describeResult(result));
      console.log("ours [paper's]:");
      console.log(formatTextTable(tableRows(result, { compact: true })));
    });
}
