/**
 * `metaanchor curve <run...>`: a run's validation mmAP at each weight snapshot (learning curve).
 * `metaanchor converge <table ids...>`: train each of the tables' configurations for twice its
 * steps and report whether the final mmAP moves by less than one point (converged).
 * Both cache what they measure (lib/experiments/curve.ts).
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { listOption } from '../options';
import { PROFILES } from '../../profile';
import { CONVERGED_DELTA, ConvergenceRow, convergence, learningCurve, learningCurveFigure } from '../../experiments/curve';
import { configHash } from '../../experiments/key';
import { ensurePretrainedFor } from '../../experiments/runner';
import { defaultRunsDir } from '../../experiments/run-cache';
import { experimentSettings, parseSeeds } from '../../experiments/settings';
import { parseJobs } from '../../experiments/parallel';
import { TABLE_IDS, cellTrainConfigs, selectCells, tableSpec } from '../../experiments/tables';
import { formatMeanSd } from '../../experiments/stats';
import { htmlPage } from '../../notebook/page';
import { TrainConfig } from '../../train/config';
import { writeFileAtomicSync } from '../../util/atomic';
import { UserError } from '../../util/errors';

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new UserError(`expected a whole number >= 0, got "${value}"`, 'e.g. --eval-images 200 (0 = all)');
  return n;
}

function pct(v: number): string {
  return Number.isFinite(v) ? (100 * v).toFixed(1) : '-';
}

export function formatConvergence(rows: ConvergenceRow[]): string {
  const head = ['configuration', 'steps', 'mmAP', 'mmAP at 2x steps', 'change', 'verdict'];
  const body = rows.map((r) => [
    r.label,
    String(r.steps),
    formatMeanSd(r.atSteps),
    formatMeanSd(r.atDouble),
    `${r.deltaPoints >= 0 ? '+' : ''}${r.deltaPoints.toFixed(1)}`,
    r.converged ? 'converged' : 'not converged',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const n = rows.filter((r) => r.converged).length;
  return [
    line(head),
    ...body.map(line),
    `${n} of ${rows.length} configurations converged (|change| < ${CONVERGED_DELTA} point when the steps double; seeds ${rows[0]?.seeds.join(',') ?? '-'})`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('curve')
    .description('learning curve: validation mmAP at each weight snapshot of a run (runs train with snapshots when snapshotEvery > 0, as the table runs do)')
    .argument('<run...>', 'run folders (the --out of `metaanchor train`, or runs/tables/<run>)')
    .option('--eval-images <n>', "validation images (default: the run's; 0 = all)", parseCount)
    .option('--json', 'print the curves as JSON')
    .option('--html <file>', 'write a page with the plot')
    .action(async (runs: string[], o: { evalImages?: number; json?: boolean; html?: string }) => {
      const curves = [];
      for (const run of runs) curves.push(await learningCurve(run, { evalImages: o.evalImages }));
      if (o.html) {
        writeFileAtomicSync(path.resolve(o.html), htmlPage('Learning curves', [{ figure: learningCurveFigure(curves) }]));
        console.error(`wrote ${o.html}`);
      }
      if (o.json) {
        console.log(
          JSON.stringify(
            curves.map((c) => ({ run: c.name, steps: c.steps, points: c.points })),
            null,
            1,
          ),
        );
        return;
      }
      for (const c of curves) {
        console.log(`${c.name} (${c.steps} steps, anchors ${c.anchors})`);
        console.log('   step   mmAP   AP50   AP75');
        for (const p of c.points)
          console.log(`${String(p.step).padStart(7)} ${pct(p.stats[0]).padStart(6)} ${pct(p.stats[1]).padStart(6)} ${pct(p.stats[2]).padStart(6)}`);
      }
    });

  program
    .command('converge')
    .description(
      `train each configuration of the given tables for twice its steps and report whether mmAP moves by less than ${CONVERGED_DELTA} point (converged)`,
    )
    .argument('<id...>', `table numbers: ${TABLE_IDS.join(' | ')}, or all`)
    .addOption(new Option('--profile <p>', 'run size (default: env METAANCHOR_PROFILE or quick)').choices([...PROFILES]))
    .option('--rows <list>', 'only these rows, comma-separated')
    .option('--seeds <list>', 'seeds to compare over (default 0)', parseSeeds)
    .option('--jobs <n>', 'training worker processes', parseJobs)
    .option('--runs-dir <dir>', 'results cache (default: runs/tables, env METAANCHOR_RUNS_DIR)')
    .option('--beside-tables', 'train only the doubled runs; wait for a `table` job running beside to finish the others')
    .option('--json', 'print the rows as JSON')
    .option('--html <file>', "write a page with the doubled runs' learning curves")
    .action(
      async (
        given: string[],
        o: { profile?: string; rows?: string; seeds?: number[]; jobs?: number; runsDir?: string; json?: boolean; html?: string; besideTables?: boolean },
      ) => {
        const ids = given.some((id) => id.trim().toLowerCase() === 'all') ? [...TABLE_IDS] : [...new Set(given)];
        const settings = experimentSettings(o.profile ?? process.env.METAANCHOR_PROFILE ?? 'quick');
        const rows = listOption(o.rows);
        const cfgs = new Map<string, TrainConfig>();
        for (const id of ids) {
          let t = tableSpec(id, settings);
          if (rows) t = selectCells(t, { rows: rows.filter((r) => t.rows.includes(r)) });
          for (const c of t.cells) for (const cfg of cellTrainConfigs(c)) cfgs.set(configHash({ ...cfg, seed: 0 }), { ...cfg, seed: 0 });
        }
        if (cfgs.size === 0) throw new UserError(`no configuration matches rows ${o.rows}`, 'check the row names with `metaanchor table <id>`');
        const runsDir = path.resolve(o.runsDir ?? defaultRunsDir());
        await ensurePretrainedFor([...cfgs.values()], (line) => console.error(line));
        // Beside a running main job: runs it trains are waited for, not trained twice.
        const result = await convergence([...cfgs.values()], o.seeds ?? [0], runsDir, {
          jobs: o.jobs,
          waitForLock: true,
          baseFromTables: o.besideTables,
          log: (line) => console.error(line),
        });
        if (o.html) {
          const curves = [];
          for (const r of result) for (const d of [...r.runDirs, ...r.doubledRunDirs]) curves.push(await learningCurve(d));
          writeFileAtomicSync(
            path.resolve(o.html),
            htmlPage('Convergence: runs and their doubled runs', [
              {
                table: result.map((r) => ({
                  configuration: r.label,
                  steps: r.steps,
                  mmAP: formatMeanSd(r.atSteps),
                  'mmAP at 2x steps': formatMeanSd(r.atDouble),
                  change: r.deltaPoints.toFixed(1),
                  verdict: r.converged ? 'converged' : 'not converged',
                })),
              },
              { figure: learningCurveFigure(curves), heightPx: 600 },
            ]),
          );
          console.error(`wrote ${o.html}`);
        }
        if (o.json) console.log(JSON.stringify(result, null, 1));
        else console.log(formatConvergence(result));
      },
    );
}
