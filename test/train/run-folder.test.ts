/**
 * Run folders lose nothing (lib/train/run-folder.ts): foreign folders and other configurations are
 * refused untouched, one writer at a time, a checkpoint swap killed at any instant is recovered,
 * log.jsonl is written as training goes and cut back on resume, a broken train state is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainConfig } from '../../lib/train/config';
import { readTrainState, train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';
import { LOCK_STALE_MS, lockHolder, lockRunFolder, touchRunLock } from '../../lib/train/run-folder';
import { UserError } from '../../lib/util/errors';

/** node:fs itself (the namespace import is read-only), to inject faults into what lib/ calls. */
const nodeFs: { renameSync: typeof fs.renameSync; writeFileSync: typeof fs.writeFileSync } = require('node:fs');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'run-folder-'));

/** Every file under `dir` with its content, for "nothing was changed". */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p, 'base64');
    }
  };
  walk(dir);
  return out;
}

function logSteps(dir: string): number[] {
  return fs
    .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).step);
}

const cfg6 = trainConfig('smoke', { steps: 6, checkpointEvery: 2, evalImages: 1 });

test('a folder that is not a run is refused and left exactly as it was', async () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'checkpoint'));
  fs.writeFileSync(path.join(dir, 'checkpoint', 'model.bin'), 'precious weights');
  fs.writeFileSync(path.join(dir, 'metrics.json'), '{"mine": true}');
  fs.writeFileSync(path.join(dir, 'log.jsonl'), 'my own log\n');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'notes');
  const before = snapshot(dir);
  await assert.rejects(train(cfg6, dir, { quiet: true }), (err: UserError) => {
    assert.ok(err instanceof UserError);
    assert.match(
      err.message,
      /is not a training run \(no config\.json\) and is not empty: it holds checkpoint, log\.jsonl, metrics\.json, notes\.txt; nothing was changed/,
    );
    assert.equal(err.hint, 'give --out a new or empty folder');
    return true;
  });
  assert.deepEqual(snapshot(dir), before);
  // --out naming a file is refused the same way.
  await assert.rejects(train(cfg6, path.join(dir, 'notes.txt'), { quiet: true }), /--out .*notes\.txt is a file, not a folder/);
});

test('a run of another configuration names the settings that differ; a run that never checkpointed starts again with the new ones', async () => {
  const dir = path.join(tmp(), 'run');
  const cfg = trainConfig('smoke', { steps: 2, evalImages: 1 });
  await train(cfg, dir, { quiet: true });
  const before = snapshot(dir);
  await assert.rejects(train({ ...cfg, steps: 3, batchSize: 1 }, dir, { quiet: true, resume: true }), (err: UserError) => {
    assert.match(err.message, /holds a run with another configuration; it differs in 2 setting\(s\): batchSize: 2 -> 1; steps: 2 -> 3\. Nothing was changed/);
    return true;
  });
  assert.deepEqual(snapshot(dir), before);

  // A failed start leaves config.json and no checkpoint: a retry with other settings runs and says what changed.
  const failed = path.join(tmp(), 'failed');
  fs.mkdirSync(failed);
  fs.writeFileSync(path.join(failed, 'config.json'), JSON.stringify({ ...cfg, batchSize: 8 }));
  const lines: string[] = [];
  const r = await train(cfg, failed, { quiet: true, onLog: (l) => lines.push(l) });
  assert.equal(r.steps, 2);
  assert.ok(
    lines.some((l) => /never reached a checkpoint; starting it again with the new settings \(batchSize: 8 -> 2\)/.test(l)),
    lines.join('\n'),
  );
  assert.equal(JSON.parse(fs.readFileSync(path.join(failed, 'config.json'), 'utf8')).batchSize, 2);
});

test('a second trainer on the same folder is refused; a lock left by a dead process is taken over with a message', async () => {
  const dir = path.join(tmp(), 'locked');
  fs.mkdirSync(dir);
  const sleeper = spawn('sleep', ['60']);
  try {
    fs.writeFileSync(path.join(dir, 'training.lock'), String(sleeper.pid));
    await assert.rejects(train(cfg6, dir, { quiet: true }), (err: UserError) => {
      assert.equal(err.message, `${dir} is being trained by process ${sleeper.pid}`);
      assert.equal(
        err.hint,
        `two trainers would overwrite each other's checkpoints: wait for it to finish, or stop it; if no trainer runs, delete ${path.join(dir, 'training.lock')}`,
      );
      return true;
    });
    assert.equal(fs.existsSync(path.join(dir, 'config.json')), false);
  } finally {
    sleeper.kill();
  }
  const dead = spawnSync('true').pid;
  fs.writeFileSync(path.join(dir, 'training.lock'), String(dead));
  const lines: string[] = [];
  const cfg = trainConfig('smoke', { steps: 1, evalImages: 1 });
  await train(cfg, dir, { quiet: true, onLog: (l) => lines.push(l) });
  assert.ok(
    lines.some((l) => l.includes(`taking over the lock of process ${dead}, which no longer runs`)),
    lines.join('\n'),
  );
  assert.equal(fs.existsSync(path.join(dir, 'training.lock')), false, 'the lock is released at the end');
  // A run with a checkpoint that another trainer holds: that is what is said, not "pass --resume".
  const sleeper2 = spawn('sleep', ['60']);
  try {
    fs.writeFileSync(path.join(dir, 'training.lock'), String(sleeper2.pid));
    await assert.rejects(train(cfg, dir, { quiet: true }), new RegExp(`is being trained by process ${sleeper2.pid}$`));
  } finally {
    sleeper2.kill();
  }
});

test('locks: a pid given to another process since, a fresh lock from another host, a stale one', () => {
  const dir = tmp();
  const file = path.join(dir, 'training.lock');
  const sleeper = spawn('sleep', ['60']);
  try {
    const start = fs.readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // The lock's own process, alive: refused.
    fs.writeFileSync(file, `${sleeper.pid} ${os.hostname()} ${start} ${boot}\n`);
    assert.equal(lockHolder(dir), sleeper.pid);
    assert.throws(() => lockRunFolder(dir), /is being trained by process/);
    // The same pid, but another process start: the trainer that wrote it is gone (pid reused).
    fs.writeFileSync(file, `${sleeper.pid} ${os.hostname()} ${Number(start) - 1} ${boot}\n`);
    assert.equal(lockHolder(dir), null);
    const lines: string[] = [];
    lockRunFolder(dir, (l) => lines.push(l))();
    assert.ok(
      lines.some((l) => l.includes(`taking over the lock of process ${sleeper.pid}, which no longer runs`)),
      lines.join('\n'),
    );
    assert.equal(fs.existsSync(file), false, 'released');
    // Another boot: gone whatever the pid.
    fs.writeFileSync(file, `${sleeper.pid} ${os.hostname()} ${start} another-boot\n`);
    assert.equal(lockHolder(dir), null);
  } finally {
    sleeper.kill();
  }
  // Another host (a shared runs folder): alive while refreshed, taken over once stale.
  fs.writeFileSync(file, `4242 other-host 1 b\n`);
  assert.equal(lockHolder(dir), 4242);
  assert.throws(
    () => lockRunFolder(dir),
    (e: UserError) => /being trained by process 4242 on other-host/.test(e.message),
  );
  const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
  fs.utimesSync(file, old, old);
  assert.equal(lockHolder(dir), null);
  const lines: string[] = [];
  const release = lockRunFolder(dir, (l) => lines.push(l));
  assert.ok(
    lines.some((l) => /taking over the lock of process 4242 on other-host \(not refreshed for 1[01] min\)/.test(l)),
    lines.join('\n'),
  );
  // The new lock names this process; touchRunLock refreshes its mtime.
  assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`^${process.pid} ${os.hostname()} \\d+ `));
  fs.utimesSync(file, old, old);
  touchRunLock(dir);
  assert.ok(Date.now() - fs.statSync(file).mtimeMs < 60_000);
  release();
  assert.equal(fs.existsSync(file), false);
});

test('log.jsonl is written as training goes and cut back to the checkpoint on resume', async () => {
  const dir = path.join(tmp(), 'log');
  const seenOnDisk: number[] = [];
  await train(cfg6, dir, { quiet: true, stopAfter: 3, onStep: (r) => seenOnDisk.push(logSteps(dir).at(-1) === r.step ? r.step : -r.step) });
  assert.deepEqual(seenOnDisk, [1, 2, 3], 'each step is in log.jsonl when onStep runs');
  assert.equal(readTrainState(dir).step, 2);
  const lines: string[] = [];
  const resumed = await train(cfg6, dir, { quiet: true, resume: true, onLog: (l) => lines.push(l) });
  assert.equal(resumed.resumedFrom, 2);
  assert.ok(
    lines.some((l) => /resuming .* at step 2\/6 \(1 log line\(s\) after the checkpoint dropped\)/.test(l)),
    lines.join('\n'),
  );
  assert.deepEqual(logSteps(dir), [1, 2, 3, 4, 5, 6]);
});

test('a checkpoint swap killed between its two renames: resume and evaluate use the complete checkpoint; leftovers are removed', async () => {
  const full = await train(cfg6, path.join(tmp(), 'full'), { quiet: true });
  const dir = path.join(tmp(), 'killed');
  // Simulate a kill at the worst instant: the old checkpoint/ is renamed aside, the new one is
  // complete in its staging folder, and the rename that puts it in place never happens.
  const rename = nodeFs.renameSync;
  let swaps = 0;
  nodeFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    if (String(to).endsWith(`${path.sep}checkpoint`) && ++swaps === 2) throw new Error('killed');
    return rename(from, to);
  };
  try {
    await assert.rejects(train(cfg6, dir, { quiet: true }), /killed/);
  } finally {
    nodeFs.renameSync = rename;
  }
  const hidden = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith('.checkpoint.'))
    .sort();
  assert.equal(fs.existsSync(path.join(dir, 'checkpoint')), false);
  assert.equal(hidden.length, 2, hidden.join(', '));
  assert.ok(hidden[0].endsWith('.tmp') && hidden[1].endsWith('.tmp.old'), hidden.join(', '));

  // evaluate / detect read the newest complete checkpoint without moving anything.
  const run = loadRun(dir);
  assert.equal(run.step, 4);
  run.detector.dispose();
  assert.equal(fs.existsSync(path.join(dir, 'checkpoint')), false);

  const lines: string[] = [];
  const resumed = await train(cfg6, dir, { quiet: true, resume: true, onLog: (l) => lines.push(l) });
  assert.equal(resumed.resumedFrom, 4);
  assert.ok(
    lines.some((l) => /recovered the checkpoint of step 4 that an interrupted checkpoint swap left in \.checkpoint\..*\.tmp$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /removed 1 leftover folder\(s\) of interrupted checkpoint swaps/.test(l)),
    lines.join('\n'),
  );
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.')),
    [],
  );
  assert.deepEqual(
    resumed.history.map((h) => h.loss),
    full.history.map((h) => h.loss),
  );
  assert.deepEqual(logSteps(dir), [1, 2, 3, 4, 5, 6]);
});

test('a checkpoint without train-state.json, or with a corrupt one, is an error, not a restart from step 0', async () => {
  const dir = path.join(tmp(), 'state');
  await train(cfg6, dir, { quiet: true, stopAfter: 2 });
  const state = path.join(dir, 'checkpoint', 'train-state.json');
  const good = fs.readFileSync(state, 'utf8');
  fs.writeFileSync(state, good.slice(0, 20));
  await assert.rejects(train(cfg6, dir, { quiet: true, resume: true }), (err: UserError) => {
    assert.match(err.message, /train-state\.json is corrupt \(/);
    assert.match(err.hint ?? '', /restore it, or train into a new --out folder/);
    return true;
  });
  fs.rmSync(state);
  await assert.rejects(train(cfg6, dir, { quiet: true, resume: true }), /has no train-state\.json: it is incomplete, and resuming would restart from step 0/);
  fs.writeFileSync(state, good);
  const r = await train(cfg6, dir, { quiet: true, resume: true });
  assert.equal(r.resumedFrom, 2);
});

test('a full disk while writing a checkpoint: error + hint, the previous checkpoint kept, no staging folder left', async () => {
  const dir = path.join(tmp(), 'full-disk');
  const write = nodeFs.writeFileSync;
  nodeFs.writeFileSync = ((file: fs.PathOrFileDescriptor, data: string | NodeJS.ArrayBufferView, o?: fs.WriteFileOptions) => {
    if (String(file).includes('.checkpoint.') && String(file).endsWith('train-state.json') && JSON.parse(String(data)).step === 4) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${String(file)}'`), { code: 'ENOSPC', syscall: 'open', path: String(file) });
    }
    return write(file, data, o);
  }) as typeof fs.writeFileSync;
  try {
    await assert.rejects(train(cfg6, dir, { quiet: true }), (err: UserError) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^cannot write the checkpoint of step 4 into .*full-disk: .*train-state\.json: no space left on the device$/);
      assert.equal(err.hint, 'the checkpoint of step 2 is kept; fix the cause (e.g. free disk space), then continue with --resume');
      return true;
    });
  } finally {
    nodeFs.writeFileSync = write;
  }
  assert.equal(readTrainState(dir).step, 2);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.')),
    [],
  );
});
