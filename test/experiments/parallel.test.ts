import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { runTable, runTables } from '../../lib/experiments/runner';
import { isRunComplete, runDirOf } from '../../lib/experiments/run-cache';
import { defaultJobs, estimatedStepSeconds, parseJobs, trainRuns } from '../../lib/experiments/parallel';
import { TrainConfig, trainConfig, yoloTrainConfig } from '../../lib/train/config';
import { readTrainState } from '../../lib/train/trainer';
import { UserError } from '../../lib/util/errors';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tables-par-'));

/** Every number a run produced: per-step losses and the final validation's COCO stats. */
function runNumbers(dir: string): { losses: number[][]; evals: number[][] } {
  const st = readTrainState(dir);
  return { losses: st.history.map((h) => [h.step, h.loss, h.cls, h.box, h.positives, h.gradNorm]), evals: st.evals.map((e) => [e.step, ...e.stats]) };
}

test('two worker processes train the same runs with the same numbers as one process', async () => {
  const s = experimentSettings('smoke');
  const t = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3', '0.6/0.5 3x3'] });
  const seqDir = tmp();
  const parDir = tmp();
  const lines: string[] = [];
  const seq = await runTable(t, s, { runsDir: seqDir, quiet: true, jobs: 1 });
  const par = await runTable(t, s, { runsDir: parDir, quiet: false, log: (l) => lines.push(l), jobs: 2 });
  assert.deepEqual(par.counts, { trained: 4, resumed: 0, reused: 0, evaluated: 4, evalReused: 0 });
  assert.deepEqual(par.counts, seq.counts);
  assert.deepEqual(fs.readdirSync(parDir).sort(), fs.readdirSync(seqDir).sort());
  assert.equal(fs.readdirSync(parDir).length, 4);
  for (let i = 0; i < t.cells.length; i++) {
    const a = seq.cells[i].seeds[0];
    const b = par.cells[i].seeds[0];
    assert.equal(path.basename(b.runDir), path.basename(a.runDir));
    assert.deepEqual(b.eval.stats, a.eval.stats);
    const na = runNumbers(a.runDir);
    assert.equal(na.losses.length, s.base.steps);
    assert.ok(na.losses.every((l) => Number.isFinite(l[1]) && l[1] > 0));
    assert.deepEqual(runNumbers(b.runDir), na, `${path.basename(a.runDir)} differs`);
    assert.equal(fs.existsSync(path.join(b.runDir, 'training.lock')), false);
  }
  // Combined progress: the worker count, every finished run, and a last line with all runs done.
  assert.ok(lines.includes('training 4 of 4 runs with 2 worker processes'), lines.join('\n'));
  assert.equal(lines.filter((l) => /^training: trained \S+ in /.test(l)).length, 4);
  assert.ok(
    lines.some((l) => /^training: 4\/4 runs done; [0-9.]+ steps\/s in all, ETA /.test(l)),
    lines.join('\n'),
  );
});

test('several tables train their shared runs once', async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  // Table 3's 3x3 row trains Table 2's MetaAnchor 0.6/0.5 3x3 run.
  const t2 = selectCells(tableSpec('2', s), { rows: ['0.6/0.5 3x3'] });
  const t3 = selectCells(tableSpec('3', s), { rows: ['3x3'], groups: ['3x3', '5x5'] });
  const [r2, r3] = await runTables([t2, t3], s, { runsDir, quiet: true, jobs: 2 });
  assert.equal(fs.readdirSync(runsDir).length, 2);
  assert.deepEqual(r2.counts, { trained: 2, resumed: 0, reused: 0, evaluated: 2, evalReused: 0 });
  // Its training-anchor evaluation is the one Table 2 computed.
  assert.deepEqual(r3.counts, { trained: 1, resumed: 0, reused: 0, evaluated: 1, evalReused: 1 });
  assert.equal(r3.cells[0].seeds[0].runDir, r2.cells[1].seeds[0].runDir);
  const again = await trainRuns([t2.cells[0].train, t2.cells[1].train, t3.cells[0].train], runsDir, { jobs: 2, quiet: true });
  assert.deepEqual([...again.status.values()], ['reused', 'reused']);
});

test("a failing worker's error names its run; no further run starts, the running ones finish", async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  // Runs start longest first (estimated cost), equal costs in the given order: 0 and 1 first.
  const t = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3', '0.6/0.5 3x3'] });
  const cfgs = t.cells.map((c) => c.train).sort((a, b) => estimatedStepSeconds(b) - estimatedStepSeconds(a));
  const dirs = cfgs.map((c) => runDirOf(runsDir, c));
  // Run 1 is locked by a live process (pid 1): its worker refuses with a UserError.
  fs.mkdirSync(dirs[1], { recursive: true });
  fs.writeFileSync(path.join(dirs[1], 'training.lock'), '1');
  await assert.rejects(trainRuns(cfgs, runsDir, { jobs: 2, quiet: true }), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, `training run ${path.basename(dirs[1])} failed: ${dirs[1]} is being trained by process 1`);
    assert.match(err.hint ?? '', /wait for it to finish/);
    return true;
  });
  assert.equal(fs.existsSync(path.join(dirs[1], 'checkpoint')), false);
  assert.equal(isRunComplete(dirs[0], cfgs[0]), true, 'the run trained beside the failing one did not finish');
  assert.deepEqual([fs.existsSync(dirs[2]), fs.existsSync(dirs[3])], [false, false]);
  // A worker that dies (killed here through the pid in its lock file) is reported with the run's name.
  fs.rmSync(path.join(dirs[1], 'training.lock'));
  const lockFile = path.join(dirs[2], 'training.lock');
  const pending = trainRuns(cfgs, runsDir, { jobs: 2, quiet: true });
  let killed = 0;
  for (let i = 0; i < 1000 && !killed; i++) {
    await new Promise((r) => setTimeout(r, 10));
    // The lock names the trainer: "<pid> <host> <start> <boot>" (lib/train/run-folder.ts).
    const pid = fs.existsSync(lockFile) ? Number(fs.readFileSync(lockFile, 'utf8').split(' ')[0]) : 0;
    if (pid > 0 && pid !== process.pid) {
      process.kill(pid, 'SIGKILL');
      killed = pid;
    }
  }
  assert.ok(killed > 0, 'no worker took the lock of run 2');
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof UserError), String(err));
    assert.equal(err.message.split(';')[0], `training run ${path.basename(dirs[2])}: the worker process was killed by SIGKILL`);
    return true;
  });
  // Its lock is stale now: the next call takes it over and trains what is left.
  assert.equal(fs.readFileSync(lockFile, 'utf8').split(' ')[0], String(killed));
  const done = await trainRuns(cfgs, runsDir, { jobs: 2, quiet: true });
  const st = dirs.map((d) => done.status.get(d));
  // Run 1 trained beside the killed worker; run 2 resumes if it got to a checkpoint (smoke: every 2 steps).
  assert.deepEqual([st[0], st[1], st[3]], ['reused', 'reused', 'trained']);
  assert.ok(st[2] === 'trained' || st[2] === 'resumed', String(st[2]));
  for (let i = 0; i < 4; i++) assert.equal(isRunComplete(dirs[i], cfgs[i]), true);
});

test('worker counts', async () => {
  assert.equal(parseJobs('3'), 3);
  assert.throws(() => parseJobs('0'), /--jobs expects a whole number >= 1, got "0"/);
  assert.throws(() => parseJobs('1.5'), /--jobs expects a whole number >= 1/);
  // The tests run on the wasm backend: one worker per core.
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  assert.equal(await defaultJobs(), cores);
});

test('step-cost estimate: grows with anchors, image size and batch; the data-dependent generator costs more', () => {
  const q = (o: Partial<TrainConfig>) => estimatedStepSeconds(trainConfig('quick', { imageSizePx: 96, batchSize: 8, ...o }));
  const a3 = q({ anchors: '3x3' });
  const a9 = q({ anchors: '9x9' });
  // The fit's anchor points (bench/profile-train.ts on the quick preset): 0.14 s at 3x3, 0.28 s at 9x9.
  assert.ok(Math.abs(a3 - 0.137) < 0.001 && Math.abs(a9 - 0.274) < 0.001, `${a3} ${a9}`);
  assert.ok(q({ anchors: '9x9', method: 'metaanchor' }) > a9);
  assert.ok(q({ anchors: '9x9', method: 'metaanchor', generator: 'dependent' }) > q({ anchors: '9x9', method: 'metaanchor' }));
  assert.ok(Math.abs(q({ anchors: '3x3', imageSizePx: 192 }) - 4 * a3) < 1e-9);
  assert.ok(Math.abs(q({ anchors: '3x3', batchSize: 4 }) - a3 / 2) < 1e-9);
  assert.ok(Math.abs(estimatedStepSeconds(yoloTrainConfig('quick', { batchSize: 8 })) - 0.65) < 1e-9);
  // An anchor spec it cannot read falls back to 9 anchors instead of failing the schedule.
  assert.equal(q({ anchors: 'not-a-spec' }), a3);
});
