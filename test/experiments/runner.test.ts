import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { experimentSettings } from '../../lib/experiments/settings';
import { selectCells, tableSpec } from '../../lib/experiments/tables';
import { runTable } from '../../lib/experiments/runner';
import { isRunComplete, runDirOf, searchFileOf } from '../../lib/experiments/run-cache';
import { readTrainState, train } from '../../lib/train/trainer';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tables-'));

/** mtime of every file under dir (ms), by relative path. */
function mtimes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.statSync(p).mtimeMs;
    }
  };
  walk(dir);
  return out;
}

test('a rerun of a smoke table trains and evaluates nothing and returns the same numbers', async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  const t = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3'] });
  const first = await runTable(t, s, { runsDir, quiet: true });
  assert.deepEqual(first.counts, { trained: 2, resumed: 0, reused: 0, evaluated: 2, evalReused: 0 });
  assert.equal(fs.readdirSync(runsDir).length, 2);
  for (const c of first.cells) {
    const st = readTrainState(c.seeds[0].runDir);
    assert.equal(st.step, s.base.steps);
    assert.equal(c.seeds[0].eval.images, 4);
    assert.equal(c.seeds[0].eval.stats.length, 12);
  }
  const before = mtimes(runsDir);
  const second = await runTable(t, s, { runsDir, quiet: true });
  assert.deepEqual(second.counts, { trained: 0, resumed: 0, reused: 2, evaluated: 0, evalReused: 2 });
  assert.deepEqual(mtimes(runsDir), before, 'the rerun wrote files');
  assert.deepEqual(
    second.cells.map((c) => c.seeds[0].eval.stats),
    first.cells.map((c) => c.seeds[0].eval.stats),
  );
});

test('an interrupted run is resumed from its checkpoint, and search results are cached', async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  const t = selectCells(tableSpec('3', s), { rows: ['3x3'], groups: ['3x3', '5x5', 'search'] });
  const cfg = t.cells[0].train;
  const dir = runDirOf(runsDir, cfg);
  await train(cfg, dir, { quiet: true, stopAfter: 3 }); // checkpointEvery 2: checkpoint at step 2
  assert.equal(readTrainState(dir).step, 2);
  assert.equal(isRunComplete(dir, cfg), false);
  const r = await runTable(t, s, { runsDir, quiet: true });
  assert.deepEqual(r.counts, { trained: 0, resumed: 1, reused: 0, evaluated: 3, evalReused: 0 });
  assert.equal(isRunComplete(dir, cfg), true);
  const search = JSON.parse(fs.readFileSync(searchFileOf(dir, s.search), 'utf8'));
  assert.equal(search.trace.length, s.search.steps);
  assert.equal(search.subsetImages, s.search.subset);
  const cell = r.cells.find((c) => c.group === 'search')!;
  assert.equal(cell.seeds[0].eval.searchFile, path.basename(searchFileOf(dir, s.search)));
  // The 5x5 inference cell used 25 anchors on the 3x3-trained generator.
  assert.equal(r.cells.find((c) => c.group === '5x5')!.seeds[0].eval.anchors, '5x5');
  const again = await runTable(t, s, { runsDir, quiet: true });
  assert.deepEqual(again.counts, { trained: 0, resumed: 0, reused: 1, evaluated: 0, evalReused: 3 });
});

test('several seeds: one run per seed, aggregated per cell', async () => {
  const runsDir = tmp();
  const s = { ...experimentSettings('smoke'), seeds: [0, 1] };
  const t = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3'], groups: ['baseline'] });
  const r = await runTable(t, s, { runsDir, quiet: true });
  assert.equal(r.counts.trained, 2);
  assert.deepEqual(
    r.cells[0].seeds.map((x) => x.seed),
    [0, 1],
  );
  assert.notEqual(r.cells[0].seeds[0].runDir, r.cells[0].seeds[1].runDir);
  assert.equal(JSON.parse(fs.readFileSync(path.join(r.cells[0].seeds[1].runDir, 'config.json'), 'utf8')).seed, 1);
});

test('a run folder locked by a live process is not trained twice; a stale lock is taken over', async () => {
  const runsDir = tmp();
  const s = experimentSettings('smoke');
  const t = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3'], groups: ['baseline'] });
  const dir = runDirOf(runsDir, t.cells[0].train);
  fs.mkdirSync(dir, { recursive: true });
  // pid 1 (init) is alive on every Linux system.
  fs.writeFileSync(path.join(dir, 'training.lock'), '1');
  await assert.rejects(runTable(t, s, { runsDir, quiet: true }), /is being trained by process 1/);
  assert.equal(fs.existsSync(path.join(dir, 'checkpoint')), false);
  // A pid that cannot exist (above the kernel's pid_max of 2^22).
  fs.writeFileSync(path.join(dir, 'training.lock'), String(2 ** 23));
  const r = await runTable(t, s, { runsDir, quiet: true });
  assert.equal(r.counts.trained, 1);
  assert.equal(fs.existsSync(path.join(dir, 'training.lock')), false);
});
