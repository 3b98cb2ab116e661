/**
 * What a table job will cost before it starts (`metaanchor table ... --plan`): for each run the
 * tables need, whether the cache holds it finished, partly trained (its checkpoint's step) or not
 * at all; the training left, in estimated seconds (parallel.ts estimatedStepSeconds); and, by
 * replaying the job's schedule on `jobs` workers, when each table's runs are all trained.
 *
 * The nominal step times are a fit on a quiet 2-core machine. Finished runs in the cache log the
 * seconds each step took, so the plan also states how far this machine's runs were from the fit
 * (the median ratio over the finished runs) and the estimate scaled by it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { hasCheckpoint, readTrainState } from '../train/trainer';
import { LOG_FILE } from '../train/run-folder';
import { estimatedStepSeconds } from './parallel';
import { isRunComplete, runDirOf } from './run-cache';
import { distinctRuns, tableOrder } from './runner';
import { ExperimentSettings } from './settings';
import { TableSpec } from './tables';

export type PlannedState = 'finished' | 'partial' | 'missing';

export interface PlannedRun {
  run: string;
  state: PlannedState;
  steps: number;
  /** Steps already in the run's checkpoint (0 when missing, `steps` when finished). */
  stepsDone: number;
  /** Nominal seconds of training left. */
  seconds: number;
  /** Nominal start and end of its training from the job's start (undefined when finished). */
  start?: number;
  end?: number;
}

export interface PlannedTable {
  table: string;
  runs: number;
  finished: number;
  /** Nominal seconds from the job's start until its last run is trained (0: all cached). */
  readyAt: number;
}

export interface Calibration {
  /** Median over finished runs of (measured median step seconds / nominal step seconds). */
  factor: number;
  runs: number;
}

export interface TablePlan {
  jobs: number;
  runs: PlannedRun[];
  tables: PlannedTable[];
  /** Nominal single-process seconds of training left. */
  trainSeconds: number;
  /** Nominal wall seconds on `jobs` workers. */
  wallSeconds: number;
  calibration?: Calibration;
}

/** Median of a non-empty list. */
function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median seconds per step a run's log recorded (undefined without a readable log). */
export function measuredStepSeconds(dir: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, LOG_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const secs: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const sec = (JSON.parse(line) as { sec?: unknown }).sec;
      if (typeof sec === 'number' && Number.isFinite(sec) && sec > 0) secs.push(sec);
    } catch {
      // A line cut by a kill: the others still measure the run.
    }
  }
  return secs.length > 0 ? median(secs) : undefined;
}

/**
 * The plan of training the runs of `tables` into `runsDir` on `jobs` workers. `progressive` is the
 * main job's order (tables one after another, cheapest first: runner.ts tableOrder); otherwise the
 * order of a plain table job (longest runs first).
 */
export function planTables(tables: TableSpec[], settings: ExperimentSettings, runsDir: string, jobs: number, progressive: boolean): TablePlan {
  const cost = (c: TrainConfig) => estimatedStepSeconds(c) * c.steps;
  const cfgs = progressive ? tableOrder(tables, settings) : distinctRuns(tables, settings).sort((a, b) => cost(b) - cost(a));
  const byDir = new Map<string, PlannedRun>();
  const ratios: number[] = [];
  const free = Array.from({ length: Math.max(1, jobs) }, () => 0);
  for (const cfg of cfgs) {
    const dir = runDirOf(runsDir, cfg);
    if (byDir.has(dir)) continue;
    const perStep = estimatedStepSeconds(cfg);
    let state: PlannedState = 'missing';
    let stepsDone = 0;
    if (isRunComplete(dir, cfg)) {
      state = 'finished';
      stepsDone = cfg.steps;
      const measured = measuredStepSeconds(dir);
      if (measured !== undefined) ratios.push(measured / perStep);
    } else if (hasCheckpoint(dir)) {
      state = 'partial';
      stepsDone = Math.min(cfg.steps, readTrainState(dir).step);
    }
    const seconds = perStep * (cfg.steps - stepsDone);
    const run: PlannedRun = { run: path.basename(dir), state, steps: cfg.steps, stepsDone, seconds };
    if (state !== 'finished') {
      // The next run goes to the worker that frees first, as parallel.ts hands them out.
      const w = free.indexOf(Math.min(...free));
      run.start = free[w];
      run.end = free[w] + seconds;
      free[w] = run.end;
    }
    byDir.set(dir, run);
  }
  const planned = (dir: string) => byDir.get(dir)!;
  const tablesOut = tables.map((t) => {
    const runs = distinctRuns([t], settings).map((c) => planned(runDirOf(runsDir, c)));
    return {
      table: t.id,
      runs: runs.length,
      finished: runs.filter((r) => r.state === 'finished').length,
      readyAt: Math.max(0, ...runs.map((r) => r.end ?? 0)),
    };
  });
  const runs = [...byDir.values()];
  return {
    jobs: free.length,
    runs,
    tables: tablesOut,
    trainSeconds: runs.reduce((a, r) => a + r.seconds, 0),
    wallSeconds: Math.max(...free),
    calibration: ratios.length > 0 ? { factor: median(ratios), runs: ratios.length } : undefined,
  };
}

function hours(sec: number): string {
  if (sec <= 0) return 'now';
  if (sec < 3600) return `${Math.max(1, Math.round(sec / 60))} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

/** The plan as text: one line per table in the order they become ready, then the totals. */
export function formatPlan(plan: TablePlan): string {
  const lines: string[] = [];
  const c = plan.calibration;
  const scaled = (sec: number) => (c ? ` (${hours(sec * c.factor)} at this cache's pace)` : '');
  const tables = plan.tables.slice().sort((a, b) => a.readyAt - b.readyAt);
  for (const t of tables) {
    const left = t.runs - t.finished;
    lines.push(
      `Table ${t.table}: ${t.runs} run${t.runs === 1 ? '' : 's'}, ${t.finished} finished, ${left} to train; ` +
        (left === 0 ? 'ready now' : `trained after ${hours(t.readyAt)}${scaled(t.readyAt)}`),
    );
  }
  const count = (s: PlannedState) => plan.runs.filter((r) => r.state === s).length;
  const partial = count('partial');
  lines.push(
    `in all: ${plan.runs.length} runs: ${count('finished')} finished, ${partial} partly trained, ${count('missing')} not started; ` +
      `${Math.round(plan.trainSeconds).toLocaleString('en-US')} s of single-process training left, ` +
      `${hours(plan.wallSeconds)} on ${plan.jobs} worker${plan.jobs === 1 ? '' : 's'}${scaled(plan.wallSeconds)}`,
  );
  lines.push(
    c
      ? `step times: the nominal fit (parallel.ts estimatedStepSeconds); the ${c.runs} finished run(s) of this cache took ${c.factor.toFixed(2)}x it (median)`
      : 'step times: the nominal fit (parallel.ts estimatedStepSeconds); no finished run in this cache to compare it with',
  );
  lines.push('not counted: pretraining the starting point (about 13 min once), evaluations and anchor searches (minutes per table)');
  return lines.join('\n');
}
