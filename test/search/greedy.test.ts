import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { greedySelect, greedyAnchorSearch } from '../../lib/search/greedy';
import { trainConfig } from '../../lib/train/config';
import { train } from '../../lib/train/trainer';
import { loadRun } from '../../lib/train/run-dir';
import { loadDatasetSpec } from '../../lib/train/datasets';

test('greedySelect keeps a candidate only when the score strictly improves', async () => {
  // State: a set of integers; score = how many of {2, 5, 7} are in it, minus 0.5 per other member.
  const good = new Set([2, 5, 7]);
  const score = (s: number[]) => [...new Set(s)].reduce((acc, v) => acc + (good.has(v) ? 1 : -0.5), 0);
  const order = [3, 5, 5, 2, 9, 7, 4];
  const r = await greedySelect<number[]>([], 0, order.length, async (i, cur) => {
    const merged = [...cur, order[i]];
    return { merged, score: score(merged) };
  });
  assert.deepEqual(r.state, [5, 2, 7]);
  assert.equal(r.best, 3);
  assert.deepEqual(
    r.steps.map((s) => s.kept),
    [false, true, false, true, false, true, false],
  );
  // A repeated candidate adds nothing (score equal, not greater): not kept.
  assert.deepEqual(
    r.steps.map((s) => s.candidateScore),
    [-0.5, 1, 1, 2, 1.5, 3, 2.5],
  );
  for (let i = 1; i < r.steps.length; i++) assert.ok(r.steps[i].score >= r.steps[i - 1].score, 'reported score never decreases');
});

test('greedy anchor search on a MetaAnchor checkpoint is deterministic from its seed', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'search-')), 'run');
  await train(trainConfig('smoke', { method: 'metaanchor', steps: 3, evalImages: 1 }), dir, { quiet: true });
  const run = loadRun(dir);
  const ds = await loadDatasetSpec(run.config!.train, 'train');
  const opts = {
    start: run.trainAnchors,
    standardBoxP3: run.standardBoxP3,
    steps: 6,
    subset: 12,
    seed: 3,
    input: { maxSizePx: 64, pad: 'square' as const, sizeDivisor: 32 },
  };
  const a = await greedyAnchorSearch(run.detector, ds, opts);
  const b = await greedyAnchorSearch(run.detector, ds, opts);
  const c = await greedyAnchorSearch(run.detector, ds, { ...opts, seed: 4 });
  assert.deepEqual(a.trace, b.trace);
  assert.equal(a.anchors, b.anchors);
  assert.equal(a.trace.length, 6);
  assert.notDeepEqual(
    a.trace.map((t) => t.anchor),
    c.trace.map((t) => t.anchor),
    'another seed tries other candidates',
  );
  assert.ok(a.finalMmAP >= a.startMmAP);
  assert.match(a.anchors, /std:44x44$/, 'the searched list keeps the training standard box');
  // Starting shapes are not candidates again: the full grid minus the shapes of 3x3 it contains.
  const all = await greedyAnchorSearch(run.detector, ds, { ...opts, steps: undefined, subset: 2 });
  const tried = new Set(all.trace.map((t) => t.anchor));
  assert.equal(tried.size, all.trace.length);
  assert.ok(!tried.has('s:1,r:1') && !tried.has('s:1,r:0.5') && !tried.has('s:1,r:2'), 'start shapes are not retried');
  assert.equal(all.trace.length, 161 - 3, 'Table 8 grid holds three of the 3x3 shapes (scale 1; ratios 1/2, 1, 2)');
  run.detector.dispose();
});
