import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainConfig } from '../../lib/train/config';
import { readTrainState, train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-'));

test('resume after an interruption reproduces the uninterrupted loss curve exactly', async () => {
  for (const method of ['baseline', 'metaanchor'] as const) {
    const cfg = trainConfig('smoke', { method, steps: 6, checkpointEvery: 2, evalImages: 2 });
    const full = await train(cfg, path.join(tmp(), 'a'), { quiet: true });
    const dir = path.join(tmp(), 'b');
    const part = await train(cfg, dir, { quiet: true, stopAfter: 3 });
    assert.equal(part.steps, 3);
    // The interruption came after step 3; the last checkpoint is step 2.
    assert.equal(readTrainState(dir).step, 2);
    const resumed = await train(cfg, dir, { quiet: true, resume: true });
    assert.equal(resumed.resumedFrom, 2);
    assert.deepEqual(
      resumed.history.map((h) => h.loss),
      full.history.map((h) => h.loss),
      `${method}: resumed losses differ`,
    );
    assert.equal(full.history.length, 6);
    assert.ok(full.history.every((h) => Number.isFinite(h.loss) && h.positives > 0));
    assert.deepEqual(resumed.evals[0].stats, full.evals[0].stats);
  }
});

test('tensor count stays flat across training steps', async () => {
  const counts: number[] = [];
  const cfg = trainConfig('smoke', { method: 'metaanchor', steps: 6, checkpointEvery: 100, evalImages: 1 });
  await train(cfg, path.join(tmp(), 'm'), { quiet: true, onStep: () => counts.push(tf.memory().numTensors) });
  // Step 1 creates the optimizer's momentum buffers; from then on nothing may accumulate.
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts.join(', ')}`);
});

test('a diverging loss stops with a clear error and keeps the last good checkpoint', async () => {
  const dir = path.join(tmp(), 'nan');
  const cfg = trainConfig('smoke', {
    steps: 8,
    checkpointEvery: 1,
    clipNorm: 0,
    lr: { baseLr: 1e12, warmupSteps: 0, warmupFactor: 1, decaySteps: [], gamma: 0.1 },
  });
  await assert.rejects(train(cfg, dir, { quiet: true }), (err: Error & { hint?: string }) => {
    assert.match(err.message, /loss became (NaN|Infinity|-Infinity) at step \d+ .*the last good checkpoint \(step \d+\) is kept/);
    assert.match(err.hint ?? '', /lower the learning rate/);
    return true;
  });
  const state = readTrainState(dir);
  assert.ok(state.history.every((h) => Number.isFinite(h.loss)));
  const run = loadRun(dir);
  const values = run.detector.store.entries().flatMap(([, v]) => Array.from(v.dataSync()));
  assert.ok(values.every(Number.isFinite), 'checkpointed weights are finite');
  run.detector.dispose();
});

test('a run folder is not overwritten: another config or a finished run needs a new folder or --resume', async () => {
  const dir = path.join(tmp(), 'x');
  const cfg = trainConfig('smoke', { steps: 2, evalImages: 1 });
  await train(cfg, dir, { quiet: true });
  await assert.rejects(train(cfg, dir, { quiet: true }), /already holds a run \(checkpoint at step 2\)/);
  await assert.rejects(
    train({ ...cfg, steps: 3 }, dir, { quiet: true, resume: true }),
    /holds a run with another configuration; it differs in 1 setting\(s\): steps: 2 -> 3/,
  );
});
