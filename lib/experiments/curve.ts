/**
 * Learning curves and convergence.
 *
 * A learning curve is a run's validation mmAP at each of its weight snapshots (lib/train/snapshots.ts)
 * and at its final checkpoint, measured afterwards and cached in the run folder
 * (`curve-<hash>.json`, one entry per step), so rerunning costs nothing.
 *
 * Converged, as the quick tables use the word (docs/quick-proxy.md): training the same
 * configuration for twice the steps (the schedule stretched with it) changes the final mmAP by less
 * than CONVERGED_DELTA points. `convergence` trains the doubled runs (cached like any table run) and
 * reports that difference per configuration, over the same seeds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend';
import { cocoScore } from '../detect/score';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { TrainConfig, inputGeometry } from '../train/config';
import { loadDatasetSpec } from '../train/datasets';
import { loadRunAt, resolveCheckpointDir } from '../train/run-dir';
import { listSnapshots } from '../train/snapshots';
import { readTrainState } from '../train/trainer';
import { readRunConfig } from '../train/run-folder';
import { writeJsonAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { Progress } from '../util/progress';
import { configHash } from './key';
import { runFolderName } from './key';
import { trainRuns } from './parallel';
import { isRunComplete, runDirOf, seededConfig } from './run-cache';
import { scaledSchedule } from '../train/schedule';
import { MeanSd, meanSd } from './stats';
import type { TableResult } from './runner';

/** Doubling the steps must move mmAP by less than this (percentage points) for a run to count as converged. */
export const CONVERGED_DELTA = 1;

export interface CurvePoint {
  step: number;
  /** COCO's 12 summary numbers (fractions). */
  stats: number[];
  images: number;
}

export interface LearningCurve {
  runDir: string;
  /** The run folder's name. */
  name: string;
  /** Steps of the run's schedule. */
  steps: number;
  anchors: string;
  points: CurvePoint[];
}

interface CurveFile {
  evalImages: number;
  points: CurvePoint[];
}

export interface CurveOptions {
  /** Validation images (default: the run's evalImages; 0 = all). */
  evalImages?: number;
  /** Progress line over the points still to evaluate (default: on unless METAANCHOR_QUIET=1). */
  quiet?: boolean;
}

/**
 * The run's validation mmAP at every snapshot and at its final checkpoint (with its training
 * anchors). Points already measured are read from the cache; the final point is the trainer's own
 * validation when it used the same images.
 */
export async function learningCurve(runDirOrCheckpoint: string, options: CurveOptions = {}): Promise<LearningCurve> {
  const { runDir } = resolveCheckpointDir(runDirOrCheckpoint);
  const cfg = readRunConfig(runDir);
  const evalImages = options.evalImages ?? cfg.evalImages;
  if (!(Number.isInteger(evalImages) && evalImages >= 0))
    throw new UserError(`--eval-images must be a whole number >= 0, got ${evalImages}`, 'e.g. --eval-images 200 (0 = every validation image)');
  const file = path.join(runDir, `curve-${configHash({ evalImages })}.json`);
  const cached = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CurveFile) : { evalImages, points: [] };
  const have = new Map(cached.points.map((p) => [p.step, p] as const));
  const state = readTrainState(runDir);
  const final = state.evals.find((e) => e.step === state.step);
  // The trainer's final validation used the run's own evalImages: the same measurement.
  if (final && !have.has(final.step) && cfg.evalImages === evalImages) {
    have.set(final.step, { step: final.step, stats: final.stats, images: final.images });
  }
  const todo = [...listSnapshots(runDir), { step: state.step, dir: path.join(runDir, 'checkpoint') }].filter((s) => !have.has(s.step));
  if (todo.length > 0) {
    await initBackend();
    const val = await loadDatasetSpec(cfg.val, 'val');
    const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
    const progress = new Progress({ label: `curve ${path.basename(runDir)}`, total: todo.length, unit: 'points', quiet });
    let done = 0;
    for (const s of todo) {
      const run = loadRunAt(runDir, s.dir);
      try {
        const r = await cocoScore(run.detector, val, {
          anchors: run.trainAnchors,
          input: inputGeometry(cfg),
          maxImages: evalImages,
          batchSize: Math.max(1, Math.min(8, cfg.batchSize)),
        });
        have.set(s.step, { step: s.step, stats: r.stats, images: r.images });
      } finally {
        run.detector.dispose();
      }
      progress.update(++done);
      writeJsonAtomicSync(file, { evalImages, points: [...have.values()].sort((a, b) => a.step - b.step) } satisfies CurveFile);
    }
  }
  const points = [...have.values()].sort((a, b) => a.step - b.step);
  if (todo.length === 0 && !fs.existsSync(file)) writeJsonAtomicSync(file, { evalImages, points } satisfies CurveFile);
  return { runDir, name: path.basename(runDir), steps: cfg.steps, anchors: cfg.anchors, points };
}

/** mmAP (percent) against steps, one line per curve; `labels` name them (default: the run folders). */
export function learningCurveFigure(curves: LearningCurve[], options: { labels?: string[]; title?: string } = {}): PlotlyFigure {
  const data: PlotlyTrace[] = curves.map((c, i) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: options.labels?.[i] ?? c.name,
    x: c.points.map((p) => p.step),
    y: c.points.map((p) => 100 * p.stats[0]),
  }));
  return {
    data,
    layout: {
      title: { text: options.title ?? 'Learning curve: validation mmAP at each snapshot' },
      xaxis: { title: { text: 'training step' }, rangemode: 'tozero' },
      yaxis: { title: { text: 'mmAP (%)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

/** The configuration trained `factor` times longer: steps, schedule and snapshot interval stretched. */
export function stretchedConfig(cfg: TrainConfig, factor: number): TrainConfig {
  if (!(Number.isInteger(factor) && factor >= 1)) throw new UserError(`step factor must be a whole number >= 1, got ${factor}`, 'e.g. 2 (doubling)');
  const steps = cfg.steps * factor;
  return {
    ...cfg,
    steps,
    lr: scaledSchedule(cfg, steps),
    snapshotEvery: cfg.snapshotEvery * factor,
    checkpointEvery: cfg.checkpointEvery,
  };
}

export interface ConvergenceRow {
  /** What the configuration is (run folder name without seed and hash). */
  label: string;
  steps: number;
  seeds: number[];
  /** Final mmAP (fraction) over seeds at `steps` and at twice that. */
  atSteps: MeanSd;
  atDouble: MeanSd;
  /** atDouble.mean - atSteps.mean, in percentage points. */
  deltaPoints: number;
  converged: boolean;
  runDirs: string[];
  doubledRunDirs: string[];
}

function finalMmap(dir: string): number {
  const st = readTrainState(dir);
  const e = st.evals.find((x) => x.step === st.step);
  if (!e) throw new Error(`${dir} has no final validation`);
  return e.stats[0];
}

function labelOf(cfg: TrainConfig): string {
  return runFolderName(cfg)
    .replace(/-seed\d+-[0-9a-f]+$/, '')
    .replace(/-[0-9a-f]{12}$/, '');
}

/**
 * Train (or reuse) every configuration at its own steps and at twice them, for each seed, and
 * report the change of the final mmAP. Doubled runs live in the same cache as table runs.
 */
export interface ConvergenceOptions {
  jobs?: number;
  quiet?: boolean;
  log?: (s: string) => void;
  /** Wait for runs another process trains instead of failing (trainRuns waitForLock). */
  waitForLock?: boolean;
  /**
   * Train only the doubled runs; wait for the runs at the tables' own steps to be finished by the
   * table job that trains them (`table all` running beside), polling every `pollMs`.
   */
  baseFromTables?: boolean;
  pollMs?: number;
}

export async function convergence(cfgs: TrainConfig[], seeds: number[], runsDir: string, options: ConvergenceOptions = {}): Promise<ConvergenceRow[]> {
  const pairs = cfgs.map((cfg) => ({ cfg, doubled: stretchedConfig(cfg, 2) }));
  const base: TrainConfig[] = [];
  const doubled: TrainConfig[] = [];
  for (const p of pairs) for (const s of seeds) (base.push(seededConfig(p.cfg, s)), doubled.push(seededConfig(p.doubled, s)));
  // The doubled runs first: nobody else trains them.
  const train = options.baseFromTables ? doubled : [...doubled, ...base];
  await trainRuns(train, runsDir, { jobs: options.jobs, quiet: options.quiet, log: options.log, waitForLock: options.waitForLock, keepOrder: true });
  if (options.baseFromTables) {
    let said = false;
    while (!base.every((c) => isRunComplete(runDirOf(runsDir, c), c))) {
      if (!said)
        options.log?.(
          `waiting for the table job to finish ${base.filter((c) => !isRunComplete(runDirOf(runsDir, c), c)).length} run(s) at the tables' own steps`,
        );
      said = true;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 30_000));
    }
  }
  return pairs.map(({ cfg, doubled }) => {
    const runDirs = seeds.map((s) => runDirOf(runsDir, seededConfig(cfg, s)));
    const doubledRunDirs = seeds.map((s) => runDirOf(runsDir, seededConfig(doubled, s)));
    const atSteps = meanSd(runDirs.map(finalMmap));
    const atDouble = meanSd(doubledRunDirs.map(finalMmap));
    const deltaPoints = 100 * (atDouble.mean - atSteps.mean);
    return {
      label: labelOf(cfg),
      steps: cfg.steps,
      seeds: seeds.slice(),
      atSteps,
      atDouble,
      deltaPoints,
      converged: Math.abs(deltaPoints) < CONVERGED_DELTA,
      runDirs,
      doubledRunDirs,
    };
  });
}

/** A table run whose doubled run (stretchedConfig(cfg, 2)) is finished in the same cache. */
export interface DoublingCheck {
  /** The configuration (run folder name without seed and hash) and seed of the run. */
  label: string;
  seed: number;
  runDir: string;
  doubledRunDir: string;
  /** Final mmAP of the doubled run minus the run's, in percentage points. */
  deltaPoints: number;
  converged: boolean;
}

/**
 * What the cache says about the convergence of a table's runs: for each distinct run, the doubling
 * test if `metaanchor converge` (or anyone) trained its doubled run into the same cache. Runs
 * without one are counted, not guessed.
 */
export function doublingChecks(result: Pick<TableResult, 'cells'>): { runs: number; checks: DoublingCheck[] } {
  const dirs = new Set<string>();
  for (const cell of result.cells) for (const s of cell.seeds) dirs.add(s.runDir);
  const checks: DoublingCheck[] = [];
  for (const runDir of dirs) {
    let cfg: TrainConfig;
    try {
      cfg = readRunConfig(runDir);
    } catch {
      continue;
    }
    const doubled = stretchedConfig(cfg, 2);
    const doubledRunDir = runDirOf(path.dirname(runDir), doubled);
    if (!isRunComplete(doubledRunDir, doubled) || !isRunComplete(runDir, cfg)) continue;
    const deltaPoints = 100 * (finalMmap(doubledRunDir) - finalMmap(runDir));
    checks.push({ label: labelOf(cfg), seed: cfg.seed, runDir, doubledRunDir, deltaPoints, converged: Math.abs(deltaPoints) < CONVERGED_DELTA });
  }
  return { runs: dirs.size, checks };
}

/** One line for a table's heading: how many of its runs passed the doubling test, and the changes measured. */
export function convergenceLine(result: Pick<TableResult, 'cells'>): string {
  const { runs, checks } = doublingChecks(result);
  const rule = `doubling the steps moves mmAP by < ${CONVERGED_DELTA} point`;
  if (checks.length === 0)
    return `converged (${rule}): not measured for ${runs === 1 ? 'its run' : `these ${runs} runs`} (\`metaanchor converge <table>\` measures it)`;
  const ok = checks.filter((c) => c.converged).length;
  const changes = checks.map((c) => `${c.label} seed ${c.seed} ${c.deltaPoints >= 0 ? '+' : ''}${c.deltaPoints.toFixed(2)}`).join(', ');
  return `converged (${rule}): ${ok} of ${checks.length} measured runs (of ${runs}): ${changes}`;
}
