import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt } from '../../lib/train/schedule';

test('warm-up is linear from warmupFactor*lr, then steps divide by 10', () => {
  const cfg = { baseLr: 0.01, warmupSteps: 100, warmupFactor: 0.001, decaySteps: [1000, 1500], gamma: 0.1 };
  assert.equal(learningRateAt(cfg, 0), 0.01 * 0.001);
  // step 50: factor 0.001*(1-0.5) + 0.5 = 0.5005
  assert.ok(Math.abs(learningRateAt(cfg, 50) - 0.01 * 0.5005) < 1e-15);
  assert.equal(learningRateAt(cfg, 100), 0.01);
  assert.equal(learningRateAt(cfg, 999), 0.01);
  assert.ok(Math.abs(learningRateAt(cfg, 1000) - 0.001) < 1e-15);
  assert.ok(Math.abs(learningRateAt(cfg, 1600) - 0.0001) < 1e-15);
});
