/**
 * Cells that fail or are interrupted, in the project's tslab kernel driven as Jupyter drives it
 * (test/notebook/kernel_driver.py: jupyter_client, interrupts by SIGINT to the kernel's process
 * group, as the notebook server's "interrupt kernel" does):
 *  - a library error (UserError) reads "error: <message>" and "hint: <hint>", nothing else;
 *  - an unexpected error keeps its stack, without tslab's, Node's or the compiled cell's frames;
 *  - interrupting a cell that trains (two worker processes) says where each run stopped, that its
 *    checkpoint is kept and that rerunning the cell continues; the runs are resumable.
 *
 * Needs Debian's Jupyter packages (bash scripts/setup.sh). About 30-60 s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunComplete, runDirOf } from '../../lib/experiments/run-cache';
import { ensureRun } from '../../lib/experiments/run-cache';
import { trainConfig } from '../../lib/train/config';
import { readTrainState } from '../../lib/train/trainer';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import jupyter_client'], { encoding: 'utf8' });
const skip = (probe.error || probe.status !== 0) && "Debian's Jupyter packages are not installed (bash scripts/setup.sh)";

let work = '';
let runsDir = '';

before(() => {
  if (skip) return;
  fs.mkdirSync(path.join(ROOT, 'outputs'), { recursive: true });
  work = fs.mkdtempSync(path.join(ROOT, 'outputs', 'kernel-test-'));
  runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kernel-test-runs-'));
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (runsDir) fs.rmSync(runsDir, { recursive: true, force: true });
});

interface CellRun {
  stdout: string;
  stderr: string;
  html: string;
  status: string;
  interruptedAfter: number | null;
}

function runCells(cells: { source: string; interruptWhen?: string }[]): CellRun[] {
  const file = path.join(work, 'cells.json');
  fs.writeFileSync(file, JSON.stringify(cells));
  const res = spawnSync(PYTHON, [path.join(__dirname, 'kernel_driver.py'), work, file], {
    encoding: 'utf8',
    env: {
      ...process.env,
      JUPYTER_PATH: ROOT,
      PATH: [path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
      METAANCHOR_QUIET: '',
      METAANCHOR_BACKEND: 'wasm',
      KERNEL_TEST_RUNS: runsDir,
    },
    timeout: 600_000,
  });
  assert.equal(res.status, 0, `driver failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!);
}

/** The runs the training cell trains: smoke-sized steps, long enough to be interrupted. */
const STEPS = 3000;
const cfgs = () => [0, 1].map((seed) => trainConfig('smoke', { steps: STEPS, checkpointEvery: 1000, snapshotEvery: 0, seed }));

test('library errors, unexpected errors and an interrupted training cell, as a notebook shows them', { skip, timeout: 600_000 }, () => {
  const [userError, bug, training, tiny, after] = runCells([
    { source: "import { UserError } from './lib/util/errors';\nthrow new UserError('no run named x', 'give one of: a, b');" },
    { source: "function inner(): never {\n  throw new Error('boom');\n}\ninner();" },
    {
      source: [
        "import { trainRuns } from './lib/experiments/parallel';",
        "import { trainConfig } from './lib/train/config';",
        `const cfgs = [0, 1].map((seed) => trainConfig('smoke', { steps: ${STEPS}, checkpointEvery: 1000, snapshotEvery: 0, seed }));`,
        'await trainRuns(cfgs, process.env.KERNEL_TEST_RUNS!, { jobs: 2, progressEverySec: 1 });',
      ].join('\n'),
      // Both runs past a few steps.
      interruptWhen: String.raw`running \S+ [1-9]\d*/${STEPS}, \S+ [1-9]\d*/${STEPS}`,
    },
    // Training in the kernel itself (notebook 00's tiny conv net) stops too.
    {
      source:
        "import { trainTinyConvNet } from './lib/notebook/quickstart';\nawait trainTinyConvNet({ steps: 100000, onStep: (s) => { if (s.step === 3) console.log('step 3'); } });",
      interruptWhen: 'step 3',
    },
    // The kernel lives on (an interrupt used to kill it once the library listened to SIGINT).
    { source: "console.log('still here')" },
  ]);
  assert.deepEqual([after.status, after.stdout], ['ok', 'still here\n']);
  assert.equal(tiny.status, 'error');
  // (after tfjs's note on stderr: this cell loads tfjs without lib/backend's set-up)
  assert.match(
    tiny.stderr,
    /(^|\n)interrupted: the tiny conv net was interrupted at step \d+\/100000 \(it keeps no checkpoint\)\nhint: rerun the cell to train it again\n$/,
  );

  assert.equal(userError.status, 'error');
  assert.equal(userError.stderr, 'error: no run named x\nhint: give one of: a, b\n');
  assert.equal(userError.stdout.replace(/^Loading .*\n/, ''), '');

  assert.equal(bug.status, 'error');
  assert.match(bug.stderr, /^Error: boom\n {4}at inner \(this cell\)\n/);
  assert.match(bug.stderr, /\n    at this cell\n/);
  assert.doesNotMatch(bug.stderr, /tslab|node:|evalmachine|\^/);

  assert.ok(training.interruptedAfter !== null, `never interrupted: ${JSON.stringify(training)}`);
  assert.equal(training.status, 'error');
  const text = training.stderr;
  assert.match(text, /^interrupted: 2 runs interrupted:\n/);
  const stopped = [...text.matchAll(/training (\S+) interrupted at step (\d+)\/3000; its checkpoint \(step (\d+)\) is kept in (\S+)\n/g)];
  assert.equal(stopped.length, 2, text);
  assert.match(text, /\nhint: rerun the cell \(or the command\) to continue: finished runs are reused, interrupted ones resume from their checkpoints\n$/);
  assert.doesNotMatch(text, /\n\s+at \S|Interrupted asynchronously|failed/);

  // Each run stopped with a checkpoint at the step it names: not finished, not locked, resumable.
  for (const [i, cfg] of cfgs().entries()) {
    const dir = runDirOf(runsDir, cfg);
    const m = stopped.find((s) => s[4] === dir);
    assert.ok(m, `no message for ${dir} (run ${i})`);
    assert.equal(m[2], m[3]);
    assert.equal(readTrainState(dir).step, Number(m[2]));
    assert.equal(isRunComplete(dir, cfg), false);
    assert.equal(fs.existsSync(path.join(dir, 'training.lock')), false, 'lock left behind');
  }
});

test('a run stopped by shouldStop resumes from the checkpoint it saved', { skip, timeout: 120_000 }, async () => {
  const cfg = trainConfig('smoke', { steps: 6, checkpointEvery: 100, snapshotEvery: 0, seed: 5 });
  let stops = 0;
  await assert.rejects(
    ensureRun(cfg, runsDir, true, undefined, { shouldStop: () => ++stops >= 2 }),
    (err: Error) => err.name === 'Interrupted' && /interrupted at step 2\/6; its checkpoint \(step 2\) is kept/.test(err.message),
  );
  const dir = runDirOf(runsDir, cfg);
  assert.equal(readTrainState(dir).step, 2);
  const again = await ensureRun(cfg, runsDir, true);
  assert.equal(again.status, 'resumed');
  assert.equal(isRunComplete(dir, cfg), true);
});
