/**
 * `metaanchor table <2|3|4|5|6|7|8 ...> [--profile smoke|quick|full] [--seeds 0,1,2] [--jobs N]`: run (or resume)
 * tables of the paper on MNIST-Det and print them beside the paper's numbers. Finished runs and
 * evaluations are reused from the results cache (lib/experiments/run-cache.ts); missing runs of all
 * the given tables are trained by N worker processes (lib/experiments/parallel.ts).
 * `--paper-commands` prints instead the commands that run the tables at the paper's scale (preset
 * paper, COCO, a GPU; lib/experiments/paper-commands.ts).
 */
import { Command, Option } from 'commander';
import { listOption } from '../options';
import { PROFILES } from '../../profile';
import { UserError } from '../../util/errors';
import { NotebookQueue, TABLE_NOTEBOOKS, allNotebooks } from '../../experiments/main-job';
import { statusStream } from '../../util/log';
import { defaultJobs, queueUrlFrom } from '../../experiments/parallel';
import { defaultRunsDir } from '../../experiments/run-cache';
import * as path from 'node:path';
import {
  describeResult,
  experimentSettings,
  formatPlan,
  formatTextTable,
  paperCommands,
  paperSettings,
  parseJobs,
  parseSeeds,
  planTables,
  runTables,
  selectCells,
  tableRows,
  tableSpec,
  TABLE_IDS,
} from '../../experiments';

interface TableOpts {
  profile?: string;
  runsDir?: string;
  rows?: string;
  jobs?: number;
  seeds?: number[];
  json?: boolean;
  paperCommands?: boolean;
  notebooks?: boolean;
  queue?: string;
  plan?: boolean;
}

export function register(program: Command): void {
  program
    .command('table')
    .description(`run or resume tables of the paper (${TABLE_IDS.join(', ')}) and print them with the paper's numbers`)
    .argument('<id...>', `table numbers: ${TABLE_IDS.join(' | ')}, or all (several train their runs together)`)
    .addOption(new Option('--profile <p>', 'run size (default: env METAANCHOR_PROFILE or quick)').choices([...PROFILES]))
    .option('--runs-dir <dir>', 'results cache (default: runs/tables, env METAANCHOR_RUNS_DIR)')
    .option('--rows <list>', 'only these rows, comma-separated (e.g. "0.5/0.4 3x3,0.5/0.4 5x5")')
    .option('--jobs <n>', 'training worker processes (default: CPU cores on wasm/cpu, 1 on a native backend)', parseJobs)
    .option(
      '--seeds <list>',
      "seeds per cell, comma-separated (default: env METAANCHOR_SEEDS or the profile's: quick 0, full 0,1,2); with 2 or more, differences get a within/beyond-noise verdict",
      parseSeeds,
    )
    .option(
      '--queue <url>',
      'train the missing runs as jobs on this Redis (redis://host:port) for `metaanchor worker` processes on any machine, sharing the runs folder (default: env METAANCHOR_QUEUE; README "Many machines")',
    )
    .option(
      '--plan',
      "train nothing: say which runs the cache holds, how much training is left and when each table's runs would be trained on --jobs workers (with --notebooks: in the main job's order)",
    )
    .option('--json', 'print the per-seed results as JSON (with --plan: the plan)')
    .option('--paper-commands', "print the commands that run these tables at the paper's scale (preset paper, COCO, a GPU) instead of running them")
    .option(
      '--notebooks',
      "the main job (npm start): train table by table, write each table's notebooks to outputs/ as soon as its runs are done, then the other notebooks",
    )
    .action(async (given: string[], o: TableOpts) => {
      const ids = given.some((id) => id.trim().toLowerCase() === 'all') ? [...TABLE_IDS] : given;
      if (o.paperCommands) {
        for (const id of [...new Set(ids)]) console.log(paperCommands(tableSpec(id, paperSettings())).join('\n') + '\n');
        return;
      }
      const settings = experimentSettings(o.profile ?? process.env.METAANCHOR_PROFILE ?? 'quick', { seeds: o.seeds });
      const rows = listOption(o.rows);
      let tables = [...new Set(ids)].map((id) => tableSpec(id, settings));
      if (rows) {
        // Tables name their rows differently ("0.5/0.4 3x3" in Table 2, "3x3" in Table 3): each
        // table keeps the rows it has; a row no table has is an error.
        const unknown = rows.filter((r) => !tables.some((t) => t.rows.includes(r)));
        if (unknown.length > 0) {
          throw new UserError(
            `no row ${unknown.map((r) => `"${r}"`).join(', ')} in Table ${tables.map((t) => t.id).join(', ')}`,
            tables.map((t) => `Table ${t.id} rows: ${t.rows.join(', ')}`).join('; '),
          );
        }
        tables = tables.map((t) => selectCells(t, { rows: rows.filter((r) => t.rows.includes(r)) })).filter((t) => t.cells.length > 0);
      }
      if (o.plan) {
        const jobs = o.jobs ?? (await defaultJobs());
        const plan = planTables(tables, settings, path.resolve(o.runsDir ?? defaultRunsDir()), jobs, o.notebooks === true);
        console.log(o.json ? JSON.stringify(plan, null, 1) : formatPlan(plan));
        return;
      }
      const say = (line: string) => statusStream().write(`${line}\n`);
      if (o.notebooks && !queueUrlFrom(o.queue)) {
        // The main job says up front what it will cost and when each table is due.
        const plan = planTables(tables, settings, path.resolve(o.runsDir ?? defaultRunsDir()), o.jobs ?? (await defaultJobs()), true);
        say(`plan (estimated; \`metaanchor table all --notebooks --plan\` prints it without training):\n${formatPlan(plan)}`);
      }
      const queue = o.notebooks ? new NotebookQueue({ profile: settings.profile, runsDir: o.runsDir, seeds: o.seeds, log: say }) : undefined;
      const queueUrl = queueUrlFrom(o.queue);
      if (queueUrl) {
        // Ctrl-C stops only the waiting: the jobs stay queued and the workers go on.
        process.once('SIGINT', () => {
          say(`queue: stopped waiting; the runs stay queued and the workers go on. Run the same command again to wait for them.`);
          process.exit(130);
        });
      }
      const results = await runTables(tables, settings, {
        runsDir: o.runsDir,
        jobs: o.jobs,
        queue: queueUrl,
        onTableTrained: queue ? (t) => queue.add(TABLE_NOTEBOOKS[t.id], `Table ${t.id}: every run trained`) : undefined,
      });
      if (o.json) {
        const out = results.map((r) => ({ table: r.table.id, profile: r.profile, counts: r.counts, cells: r.cells }));
        console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 1));
        return;
      }
      for (const result of results) {
        console.log(describeResult(result));
        console.log("ours [paper's]:");
        console.log(formatTextTable(tableRows(result, { compact: true })));
      }
      if (queue) {
        queue.add(allNotebooks(), 'training done');
        await queue.idle();
        const failed = queue.outcomes.filter((n) => !n.ok);
        say(`notebooks: ${queue.outcomes.length - failed.length} of ${queue.outcomes.length} written to outputs/ (executed .ipynb and .html)`);
        if (failed.length)
          throw new UserError(
            `${failed.length} notebook(s) failed: ${failed.map((n) => n.notebook).join(', ')}`,
            'rerun one with `npm run notebooks -- <name>` to see the failing cell',
          );
      }
    });
}
