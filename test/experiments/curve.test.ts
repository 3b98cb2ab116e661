import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainConfig } from '../../lib/train/config';
import { readTrainState, train } from '../../lib/train/trainer';
import { listSnapshots, snapshotSteps } from '../../lib/train/snapshots';
import { loadRunAt } from '../../lib/train/run-dir';
import { cocoScore } from '../../lib/detect/score';
import { inputGeometry } from '../../lib/train/config';
import { loadDatasetSpec } from '../../lib/train/datasets';
import type { SeedResult } from '../../lib/experiments/runner';
import {
  CONVERGED_DELTA,
  convergence,
  convergenceLine,
  doublingChecks,
  learningCurve,
  learningCurveFigure,
  stretchedConfig,
} from '../../lib/experiments/curve';
import { formatConvergence } from '../../lib/cli/commands/curve';
import { ensureRun, isRunComplete, runDirOf } from '../../lib/experiments/run-cache';
import { spawn } from 'node:child_process';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'curve-'));

test('snapshot steps: every snapshotEvery steps before the last (the last step is the checkpoint)', () => {
  assert.deepEqual(snapshotSteps(10, 4), [4, 8]);
  assert.deepEqual(snapshotSteps(8, 4), [4]);
  assert.deepEqual(snapshotSteps(8, 0), []);
  assert.deepEqual(snapshotSteps(3, 5), []);
});

test('a run keeps snapshots; its learning curve scores each, reuses the final validation and caches the rest', async () => {
  const dir = path.join(tmp(), 'run');
  const cfg = trainConfig('smoke', { method: 'metaanchor', steps: 6, checkpointEvery: 3, snapshotEvery: 2, evalImages: 3 });
  await train(cfg, dir, { quiet: true });
  assert.deepEqual(
    listSnapshots(dir).map((s) => s.step),
    [2, 4],
  );
  const curve = await learningCurve(dir, { quiet: true });
  assert.deepEqual(
    curve.points.map((p) => p.step),
    [2, 4, 6],
  );
  const final = readTrainState(dir).evals.find((e) => e.step === 6)!;
  assert.deepEqual(curve.points[2].stats, final.stats);
  // The step-2 point is the snapshot's model scored directly.
  const run = loadRunAt(dir, listSnapshots(dir)[0].dir);
  try {
    assert.equal(run.step, 2);
    const val = await loadDatasetSpec(cfg.val, 'val');
    const direct = await cocoScore(run.detector, val, { anchors: run.trainAnchors, input: inputGeometry(cfg), maxImages: 3, batchSize: 2 });
    assert.deepEqual(curve.points[0].stats, direct.stats);
  } finally {
    run.detector.dispose();
  }
  // Cached: with the snapshots gone, the curve still comes back whole.
  fs.rmSync(path.join(dir, 'snapshots'), { recursive: true });
  const again = await learningCurve(dir, { quiet: true });
  assert.deepEqual(again.points, curve.points);
  const fig = learningCurveFigure([again]);
  assert.deepEqual(fig.data[0].x, [2, 4, 6]);
  assert.deepEqual(
    fig.data[0].y,
    curve.points.map((p) => 100 * p.stats[0]),
  );
});

test('stretching a configuration doubles steps, decay points and snapshot interval, keeps the warm-up', () => {
  const cfg = trainConfig('quick', {
    steps: 800,
    snapshotEvery: 100,
    lr: { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [600, 733], gamma: 0.1 },
  });
  const d = stretchedConfig(cfg, 2);
  assert.equal(d.steps, 1600);
  assert.deepEqual(d.lr.decaySteps, [1200, 1466]);
  assert.equal(d.lr.warmupSteps, 50);
  assert.equal(d.snapshotEvery, 200);
  assert.equal(d.lr.baseLr, 0.002);
  assert.throws(() => stretchedConfig(cfg, 1.5), /whole number/);
});

test('convergence trains each configuration at 1x and 2x steps and reports the change of the final mmAP', async () => {
  const runsDir = tmp();
  const cfg = trainConfig('smoke', { steps: 2, evalImages: 2, checkpointEvery: 1 });
  const rows = await convergence([cfg], [0], runsDir, { jobs: 1, quiet: true });
  assert.equal(rows.length, 1);
  const r = rows[0];
  assert.equal(r.steps, 2);
  const at1 = readTrainState(r.runDirs[0]);
  const at2 = readTrainState(r.doubledRunDirs[0]);
  assert.equal(at1.step, 2);
  assert.equal(at2.step, 4);
  const m1 = at1.evals[at1.evals.length - 1].stats[0];
  const m2 = at2.evals[at2.evals.length - 1].stats[0];
  assert.ok(Math.abs(r.deltaPoints - 100 * (m2 - m1)) < 1e-9);
  assert.equal(r.converged, Math.abs(100 * (m2 - m1)) < CONVERGED_DELTA);
  const text = formatConvergence(rows);
  assert.match(text, /configuration\s+steps\s+mmAP\s+mmAP at 2x steps\s+change\s+verdict/);
  assert.match(text, new RegExp(`${rows.filter((x) => x.converged).length} of 1 configurations converged`));
  // A second call trains nothing (both runs are in the cache).
  const before = fs.statSync(path.join(r.doubledRunDirs[0], 'checkpoint', 'train-state.json')).mtimeMs;
  await convergence([cfg], [0], runsDir, { jobs: 1, quiet: true });
  assert.equal(fs.statSync(path.join(r.doubledRunDirs[0], 'checkpoint', 'train-state.json')).mtimeMs, before);
  // A table result over this run finds its doubled run in the cache; another run has none.
  const other = runDirOf(runsDir, { ...cfg, seed: 1 });
  await ensureRun({ ...cfg, seed: 1 }, runsDir, true);
  const seedOf = (runDir: string) => ({ runDir }) as SeedResult;
  const result = { cells: [{ row: 'r', group: 'g', inference: 'train' as const, seeds: [seedOf(r.runDirs[0]), seedOf(other)] }] };
  const { runs, checks } = doublingChecks(result);
  assert.equal(runs, 2);
  assert.equal(checks.length, 1);
  assert.equal(checks[0].runDir, r.runDirs[0]);
  assert.equal(checks[0].doubledRunDir, r.doubledRunDirs[0]);
  assert.ok(Math.abs(checks[0].deltaPoints - r.deltaPoints) < 1e-9);
  assert.match(
    convergenceLine(result),
    new RegExp(`${r.converged ? 1 : 0} of 1 measured runs \\(of 2\\): baseline-3x3-iou0.5-0.4-smoke seed 0 [+-]\\d+\\.\\d\\d`),
  );
  assert.match(convergenceLine({ cells: [{ ...result.cells[0], seeds: [seedOf(other)] }] }), /not measured for its run/);
});

test('a run another process is training is waited for, then reused or trained, not refused (converge beside the main job)', async () => {
  const runsDir = tmp();
  const cfg = trainConfig('smoke', { steps: 2, evalImages: 1 });
  const dir = runDirOf(runsDir, cfg);
  fs.mkdirSync(dir, { recursive: true });
  // A live process holds the lock for a moment.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
  fs.writeFileSync(path.join(dir, 'training.lock'), String(holder.pid));
  const t0 = Date.now();
  const lines: string[] = [];
  const r = await ensureRun(cfg, runsDir, true, undefined, { waitForLock: true, lockPollMs: 100, log: (s) => lines.push(s) });
  assert.ok(Date.now() - t0 >= 1000, 'it waited for the holder');
  assert.equal(r.status, 'trained');
  assert.match(lines[0], new RegExp(`process ${holder.pid} is training this run; waiting for it`));
  // Without waiting, the lock is an error naming the process.
  const other = trainConfig('smoke', { steps: 2, evalImages: 1, seed: 5 });
  const dir2 = runDirOf(runsDir, other);
  fs.mkdirSync(dir2, { recursive: true });
  const holder2 = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 3000)']);
  fs.writeFileSync(path.join(dir2, 'training.lock'), String(holder2.pid));
  await assert.rejects(ensureRun(other, runsDir, true), new RegExp(`is being trained by process ${holder2.pid}`));
  holder2.kill();
});

test("converge beside a table job: only the doubled runs are trained here; the runs at the tables' steps are waited for", async () => {
  const runsDir = tmp();
  const cfg = trainConfig('smoke', { steps: 2, evalImages: 1, seed: 3 });
  const lines: string[] = [];
  const pending = convergence([cfg], [3], runsDir, { jobs: 1, quiet: true, baseFromTables: true, pollMs: 50, log: (s) => lines.push(s) });
  // The "table job": trains the base run once converge has finished its doubled run (so that
  // converge is then waiting for it, whatever the machine's load).
  const doubled = stretchedConfig(cfg, 2);
  while (!isRunComplete(runDirOf(runsDir, { ...doubled, seed: 3 }), { ...doubled, seed: 3 })) await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.existsSync(runDirOf(runsDir, cfg)), false, 'converge did not train the base run');
  await ensureRun(cfg, runsDir, true);
  const [row] = await pending;
  assert.equal(readTrainState(row.doubledRunDirs[0]).step, 4);
  assert.equal(readTrainState(row.runDirs[0]).step, 2);
  assert.ok(
    lines.some((l) => /waiting for the table job to finish 1 run\(s\)/.test(l)),
    lines.join('\n'),
  );
});
