import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentSettings, isHeadlineConfig, parseSeeds, seedsFor } from '../../lib/experiments/settings';
import { scaledSchedule } from '../../lib/train/schedule';
import { QUICK_STEPS, trainConfig } from '../../lib/train/config';

test('profile sizes of table cells', () => {
  const smoke = experimentSettings('smoke');
  assert.deepEqual([smoke.base.imageSizePx, smoke.base.batchSize, smoke.base.steps, smoke.seeds.length], [64, 2, 4, 1]);
  const quick = experimentSettings('quick');
  assert.deepEqual([quick.base.imageSizePx, quick.base.batchSize, quick.base.steps, quick.seeds.length], [96, 8, QUICK_STEPS, 1]);
  assert.deepEqual(quick.headlineSeeds, [0, 1, 2]);
  // Warm-up 50, decay by 10 at 75% and 91.7% of the steps; four snapshots for the learning curve.
  assert.deepEqual(quick.base.lr, {
    baseLr: 0.002,
    warmupSteps: 50,
    warmupFactor: 0.01,
    decaySteps: [Math.round(0.75 * QUICK_STEPS), Math.round(0.917 * QUICK_STEPS)],
    gamma: 0.1,
  });
  assert.equal(quick.base.snapshotEvery, QUICK_STEPS / 4);
  // The quick table run is the quick preset itself: `metaanchor train --preset quick` trains it.
  assert.deepEqual(quick.base, trainConfig('quick'));
  assert.deepEqual(quick.base.initFrom, { weights: 'pretrained:mnist-det-trunk', prefixes: ['backbone.', 'fpn.', 'head.clsTower.', 'head.boxTower.'] });
  assert.equal(quick.base.evalImages, quick.evalImages, "the trainer's final validation is the table's");
  assert.equal(quick.yolo.base.initFrom, undefined, 'YOLOv2 trains from scratch');
  assert.equal(quick.yolo.base.imageSizePx, 192);
  const full = experimentSettings('full');
  assert.deepEqual(full.seeds, [0, 1, 2]);
  assert.equal(full.search.steps, 161);
  assert.throws(() => experimentSettings('huge'), /unknown profile "huge"/);
});

test('scaledSchedule never stretches warm-up beyond the preset', () => {
  const q = trainConfig('quick', { steps: 600, lr: { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [450, 550], gamma: 0.1 } });
  assert.deepEqual(scaledSchedule(q, 1200), { ...q.lr, warmupSteps: 50, decaySteps: [900, 1100] });
  assert.deepEqual(scaledSchedule(q, 6).decaySteps, [5, 6]);
});

test("headline seeds: Table 2's 3x3 and 9x9 cells at both thresholds get the profile's three seeds, other cells one; --seeds applies to all", () => {
  const s = experimentSettings('quick');
  const base = s.base;
  for (const anchors of ['3x3', '9x9']) {
    for (const [posIou, negIou] of [
      [0.5, 0.4],
      [0.6, 0.5],
    ]) {
      for (const method of ['baseline', 'metaanchor'] as const) assert.deepEqual(seedsFor(s, { ...base, anchors, posIou, negIou, method }), [0, 1, 2]);
    }
  }
  assert.deepEqual(seedsFor(s, { ...base, anchors: '5x5' }), [0]);
  assert.deepEqual(seedsFor(s, { ...base, anchors: '9x9', method: 'metaanchor', generator: 'dependent' }), [0]);
  assert.deepEqual(seedsFor(s, { ...base, anchors: '3x3', dropBoxes: { sqrtMinPx: 50, sqrtMaxPx: 100, logRatioMin: -1, logRatioMax: 1 } }), [0]);
  assert.deepEqual(seedsFor(s, s.yolo.base), [0]);
  assert.equal(isHeadlineConfig({ ...base, anchors: '9x9', posIou: 0.7, negIou: 0.5 }), false);
  const given = experimentSettings('quick', { seeds: [4, 5] });
  assert.equal(given.headlineSeeds, undefined);
  assert.deepEqual(seedsFor(given, { ...base, anchors: '9x9' }), [4, 5]);
});

test('seeds per cell: option, env METAANCHOR_SEEDS, profile default', () => {
  const saved = process.env.METAANCHOR_SEEDS;
  try {
    delete process.env.METAANCHOR_SEEDS;
    assert.deepEqual(experimentSettings('quick').seeds, [0]);
    assert.deepEqual(experimentSettings('quick', { seeds: [0, 1, 2] }).seeds, [0, 1, 2]);
    process.env.METAANCHOR_SEEDS = ' 3, 4 ';
    assert.deepEqual(experimentSettings('quick').seeds, [3, 4]);
    assert.deepEqual(experimentSettings('full').seeds, [3, 4]);
    assert.deepEqual(experimentSettings('quick', { seeds: [1] }).seeds, [1], 'the option wins over the environment');
    process.env.METAANCHOR_SEEDS = '0,x';
    assert.throws(() => experimentSettings('quick'), /invalid seed list "0,x" \(not a whole number >= 0: "x"\)/);
    // Everything but the seeds is the profile's.
    delete process.env.METAANCHOR_SEEDS;
    assert.deepEqual({ ...experimentSettings('quick', { seeds: [5] }), seeds: [0], headlineSeeds: [0, 1, 2] }, experimentSettings('quick'));
  } finally {
    if (saved === undefined) delete process.env.METAANCHOR_SEEDS;
    else process.env.METAANCHOR_SEEDS = saved;
  }
  assert.deepEqual(parseSeeds('0,1,2'), [0, 1, 2]);
  assert.throws(() => parseSeeds('-1'), /not a whole number >= 0: "-1"/);
  assert.throws(() => parseSeeds('1.5,2'), /"1.5"/);
  assert.throws(() => parseSeeds('1,,2'), /""/);
  assert.throws(() => parseSeeds('2,2'), /repeats a seed/);
  assert.throws(() => experimentSettings('quick', { seeds: [] }), /no seeds given/);
});
