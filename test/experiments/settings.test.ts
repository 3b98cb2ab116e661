import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentSettings, parseSeeds, scaledSchedule } from '../../lib/experiments/settings';
import { trainConfig } from '../../lib/train/config';

test('profile sizes of table cells', () => {
  const smoke = experimentSettings('smoke');
  assert.deepEqual([smoke.base.imageSizePx, smoke.base.batchSize, smoke.base.steps, smoke.seeds.length], [64, 2, 4, 1]);
  const quick = experimentSettings('quick');
  assert.deepEqual([quick.base.imageSizePx, quick.base.batchSize, quick.base.steps, quick.seeds.length], [128, 8, 800, 1]);
  // The quick preset's schedule (warm-up 50, decay at 450 and 550 of 600) scaled to 800 steps.
  assert.deepEqual(quick.base.lr, { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [600, 733], gamma: 0.1 });
  // Everything else is the quick preset (the setting the measured mmAP in settings.ts came from).
  assert.deepEqual({ ...quick.base, imageSizePx: 160, steps: 600, lr: trainConfig('quick').lr }, trainConfig('quick'));
  assert.equal(quick.base.evalImages, quick.evalImages, 'the trainer\'s final validation is the table\'s');
  const full = experimentSettings('full');
  assert.deepEqual(full.seeds, [0, 1, 2]);
  assert.equal(full.search.steps, 161);
  assert.throws(() => experimentSettings('huge'), /unknown profile "huge"/);
});

test('scaledSchedule never stretches warm-up beyond the preset', () => {
  const q = trainConfig('quick');
  assert.deepEqual(scaledSchedule(q, 1200), { ...q.lr, warmupSteps: 50, decaySteps: [900, 1100] });
  assert.deepEqual(scaledSchedule(q, 6).decaySteps, [5, 6]);
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
    assert.deepEqual({ ...experimentSettings('quick', { seeds: [5] }), seeds: [0] }, experimentSettings('quick'));
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
