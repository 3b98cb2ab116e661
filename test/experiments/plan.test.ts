import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { experimentSettings } from '../../lib/experiments/settings';
import { tableSpec, selectCells } from '../../lib/experiments/tables';
import { distinctRuns } from '../../lib/experiments/runner';
import { estimatedStepSeconds } from '../../lib/experiments/parallel';
import { formatPlan, measuredStepSeconds, planTables } from '../../lib/experiments/plan';
import { ensureRun, runDirOf } from '../../lib/experiments/run-cache';
import { train } from '../../lib/train/trainer';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'plan-'));
const settings = experimentSettings('smoke');

test('plan of an empty cache: every run to train, the schedule of the workers, tables ready when their last run ends', () => {
  const tables = ['2', '3', '5'].map((id) => tableSpec(id, settings));
  const runsDir = tmp();
  const one = planTables(tables, settings, runsDir, 1, true);
  const two = planTables(tables, settings, runsDir, 2, true);
  const all = distinctRuns(tables, settings);
  assert.equal(one.runs.length, all.length);
  assert.ok(one.runs.every((r) => r.state === 'missing' && r.stepsDone === 0));
  const nominal = all.reduce((a, c) => a + estimatedStepSeconds(c) * c.steps, 0);
  assert.ok(Math.abs(one.trainSeconds - nominal) < 1e-9);
  // One worker: back to back; two: at least half, at most the whole, no more than one run's length over half.
  assert.ok(Math.abs(one.wallSeconds - nominal) < 1e-9);
  const longest = Math.max(...two.runs.map((r) => r.seconds));
  assert.ok(two.wallSeconds >= nominal / 2 - 1e-9 && two.wallSeconds <= nominal / 2 + longest + 1e-9);
  for (const t of two.tables) {
    const ends = distinctRuns([tables.find((x) => x.id === t.table)!], settings).map(
      (c) => two.runs.find((r) => r.run === path.basename(runDirOf(runsDir, c)))!.end!,
    );
    assert.equal(t.readyAt, Math.max(...ends));
    assert.equal(t.finished, 0);
  }
  // Never more than two runs at once.
  for (const r of two.runs) {
    const atStart = two.runs.filter((q) => q.start! <= r.start! + 1e-9 && q.end! > r.start! + 1e-9);
    assert.ok(atStart.length <= 2, `${atStart.length} runs train when ${r.run} starts`);
  }
  const text = formatPlan(two);
  assert.match(text, new RegExp(`in all: ${all.length} runs: 0 finished, 0 partly trained, ${all.length} not started`));
  assert.match(text, /no finished run in this cache/);
});

test('plan reads the cache: a finished run, a partly trained one (its checkpoint step), and the step times a finished run logged', async () => {
  const table = selectCells(tableSpec('2', settings), { rows: ['0.5/0.4 3x3'] });
  const runsDir = tmp();
  const [a, b] = distinctRuns([table], settings);
  await ensureRun(a, runsDir, true);
  // b stopped after its step-2 checkpoint, as a kill leaves it.
  await train(b, runDirOf(runsDir, b), { quiet: true, stopAfter: 2 });
  const plan = planTables([table], settings, runsDir, 2, false);
  const byRun = new Map(plan.runs.map((r) => [r.run, r]));
  const fa = byRun.get(path.basename(runDirOf(runsDir, a)))!;
  assert.equal(fa.state, 'finished');
  assert.equal(fa.seconds, 0);
  const measured = measuredStepSeconds(runDirOf(runsDir, a))!;
  assert.ok(measured > 0);
  assert.equal(plan.calibration?.runs, 1);
  assert.ok(Math.abs(plan.calibration!.factor - measured / estimatedStepSeconds(a)) < 1e-9);
  const fb = byRun.get(path.basename(runDirOf(runsDir, b)))!;
  assert.equal(fb.state, 'partial');
  assert.equal(fb.stepsDone, 2);
  assert.ok(Math.abs(fb.seconds - estimatedStepSeconds(b) * (b.steps - 2)) < 1e-9);
  assert.equal(plan.tables[0].finished, 1);
  assert.equal(plan.tables[0].readyAt, fb.end);
  assert.match(formatPlan(plan), /1 finished, 1 partly trained, 0 not started/);
  assert.match(formatPlan(plan), /the 1 finished run\(s\) of this cache took/);
});
